"""Contact sheet: a labelled block of random samples per class, to eyeball a prepared dataset."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from muybridge.data.dataset import PreparedDataset

COLUMNS = 8
LABEL_HEIGHT = 18
GAP = 2
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)


def contact_sheet(dataset: PreparedDataset, per_class: int = 16, seed: int = 0,
                  split: str | None = None) -> Image.Image:
    """One block per class: a label line ``name (count)`` then up to ``per_class`` random images in rows
    of 8. Images smaller than 64 px are enlarged (nearest neighbour) so the sheet stays legible."""
    rng = np.random.default_rng(seed)
    tile = max(dataset.resolution, 64)
    columns = min(COLUMNS, max(1, per_class))
    width = columns * (tile + GAP) + GAP
    blocks = []
    for class_name in dataset.classes:
        images = dataset.images(split, class_name)
        chosen = np.sort(rng.choice(len(images), size=min(per_class, len(images)), replace=False))
        blocks.append(_class_block(f"{class_name} ({len(images)})", images[chosen], tile, columns, width))
    sheet = Image.new("RGB", (width, sum(block.height for block in blocks)), BACKGROUND)
    top = 0
    for block in blocks:
        sheet.paste(block, (0, top))
        top += block.height
    return sheet


def _class_block(label: str, images: np.ndarray, tile: int, columns: int, width: int) -> Image.Image:
    rows = max(1, -(-len(images) // columns))
    block = Image.new("RGB", (width, LABEL_HEIGHT + rows * (tile + GAP)), BACKGROUND)
    ImageDraw.Draw(block).text((GAP + 2, 3), label, fill=TEXT)
    for index, pixels in enumerate(images):
        picture = Image.fromarray(np.ascontiguousarray(pixels), mode="RGB")
        if picture.width != tile:
            picture = picture.resize((tile, tile), Image.Resampling.NEAREST)
        row, column = divmod(index, columns)
        block.paste(picture, (GAP + column * (tile + GAP), LABEL_HEIGHT + row * (tile + GAP)))
    return block
