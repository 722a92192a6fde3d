"""``make demo`` / ``muybridge demo``: what the bundled model can do, written into one folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from muybridge.animation.export import save_image
from muybridge.animation.modes import (
    Animation,
    PathBuilder,
    animate_to_file,
    loop_builder,
    morph_builder,
    motion_builder,
    pose_builder,
)
from muybridge.animation.options import AnimationOptions
from muybridge.animation.pack import character_pack
from muybridge.generator import Generator
from muybridge.pictures import class_grid
from muybridge.progress import Progress

TRUNCATION = 0.7
SIZE = 256
WEB_FOLDER = "site"


def run_demo(out: str | Path, model: str | Path | None = None, seed: int = 7,
             progress: Progress | None = None) -> list[Path]:
    """Render a character grid, a seamless loop (GIF and MP4), a morph across the first two classes, a character
    looking left (its identity kept), a sprite sheet with its atlas and, when the model takes a pose, a character
    pack (every motion: sheet + tags, Godot SpriteFrames, previews, contact sheet) and a web page that draws its
    characters in the browser (``site/``, with the onnx extra); returns the files written."""
    out = Path(out)
    generator = Generator.load(model)
    first, second = generator.classes[0], generator.classes[min(1, len(generator.classes) - 1)]
    grid = class_grid(generator, range(seed, seed + 8), truncation=TRUNCATION, size=128)
    written = [save_image(grid, out / "characters.png")]
    jobs: list[tuple[PathBuilder, str]] = [
        (loop_builder(f"{first}:{seed}"), f"{first}_loop.gif"),
        (loop_builder(f"{first}:{seed}"), f"{first}_loop.mp4"),
        (morph_builder(f"{first}:{seed}", f"{second}:{seed}", closed=True), f"{first}_to_{second}.gif"),
        (pose_builder(f"{first}:{seed}", "look-left") if generator.takes_pose
         else motion_builder(f"{first}:{seed}", "0"), f"{first}_motion.gif"),
        (loop_builder(f"{first}:{seed}"), f"{first}_loop_sprites.png"),
    ]
    for build, name in jobs:
        size = generator.resolution if name.endswith("sprites.png") else SIZE
        rendered = animate_to_file(generator, build, out / name, fps=24, duration=4, size=size,
                                   truncation=TRUNCATION, progress=progress)
        written.extend(rendered.files)
    if generator.takes_pose:
        pack = character_pack(generator, Animation("motion", (f"{first}:{seed}",)), out / f"{first}{seed}",
                              AnimationOptions(truncation=TRUNCATION), progress=progress)
        written.append(pack.folder)
        if importlib.util.find_spec("onnx") is not None:
            from muybridge.engines.onnx import cache_runtime_graphs
            from muybridge.engines.web import MODEL_FILE, export_web

            written.append(export_web(generator, out / WEB_FOLDER, progress))
            if generator.path is not None:  # `muybridge animate` loop, walk, morph and motion then skip torch
                cache_runtime_graphs(generator, pose_graph=out / WEB_FOLDER / MODEL_FILE)
    return written
