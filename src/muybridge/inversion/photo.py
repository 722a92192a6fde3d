"""A pet photo → the square face crop the model was trained on.

Training photos are tight, roughly aligned face crops (cat_faces_64: eyes at about the same height, the
face filling the frame, ears partly cut). For class ``cat`` we find the face with OpenCV's cat-face Haar
cascade and crop a square around the detected box; other classes, or ``detect=False``, take the centre
square, as ``muybridge prepare`` does.

Calibration (held-out cat_faces_64 photos, upscaled and padded so the cascade sees context): the cascade's
box covers a median 0.94 of the training crop's side, centred on it. So the crop is the box grown by
:data:`FACE_MARGIN` around its centre. A crop that would leave the photo is shifted back inside it and at
most as large as its shorter side, so a photo that already is a tight face crop is used whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from muybridge.data.decode import ImageSource, UnusableImageError, check_dimensions, decode_picture
from muybridge.errors import MuybridgeError

FACE_MARGIN = 1.06
"""Crop side / detected box side, measured on held-out training crops (see the module docstring)."""

DETECT_SHORT_SIDE = 192
"""Small photos are upscaled to this shorter side before detection (the cascade misses tiny faces)."""
DETECT_LONG_SIDE = 640
"""Large photos are downscaled to this longer side before detection (speed; faces stay large enough)."""
DETECT_PAD = 0.25
"""Border added around the detection copy, as a fraction of its shorter side: faces touching the edge of a
tight crop are only found with some context around them."""
CASCADES = ("haarcascade_frontalcatface_extended.xml", "haarcascade_frontalcatface.xml")
DETECTABLE_CLASSES = frozenset({"cat"})


class NoFaceError(MuybridgeError):
    """No face was found in a photo (the message suggests ``--no-detect``)."""


@dataclass(frozen=True)
class Box:
    """A square or rectangle in photo pixels: left, top, width, height."""

    left: float
    top: float
    width: float
    height: float

    def as_list(self) -> list[float]:
        return [round(self.left, 1), round(self.top, 1), round(self.width, 1), round(self.height, 1)]


def load_photo(source: ImageSource | np.ndarray, min_side: int) -> Image.Image:
    """Decode a photo (path, bytes or an ``(H, W, 3)`` uint8 array) to an RGB image, EXIF-rotated.

    Refuses non-images, decompression bombs and photos whose shorter side is below ``min_side`` with
    :class:`UnusableImageError` (the same checks as ``muybridge prepare``).
    """
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise MuybridgeError(f"a photo array must be uint8 (H, W, 3), got {source.dtype} {source.shape}")
        check_dimensions((source.shape[1], source.shape[0]), 0, min_side)
        return Image.fromarray(source, mode="RGB")
    return decode_picture(source, min_side=min_side)


def detect_face(photo: Image.Image) -> Box | None:
    """The largest cat face the Haar cascade finds, in photo pixels, or None."""
    import cv2

    width, height = photo.size
    scale = min(DETECT_LONG_SIDE / max(width, height), 1.0)
    scale = max(scale, DETECT_SHORT_SIDE / min(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = np.asarray(photo.convert("L").resize(size, Image.Resampling.LANCZOS))
    pad = round(DETECT_PAD * min(size))
    grey = cv2.equalizeHist(cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE))
    smallest = max(24, min(size) // 8)
    for name in CASCADES:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)  # type: ignore[attr-defined]
        if cascade.empty():
            raise MuybridgeError(f"OpenCV's {name} is missing from this opencv installation")
        boxes = cascade.detectMultiScale(grey, scaleFactor=1.05, minNeighbors=3, minSize=(smallest, smallest))
        if len(boxes):
            x, y, w, h = max(boxes, key=lambda b: int(b[2]) * int(b[3]))
            return Box((x - pad) / scale, (y - pad) / scale, w / scale, h / scale)
    return None


def crop_box(photo_size: tuple[int, int], face: Box | None) -> Box:
    """The square to crop: the face grown by :data:`FACE_MARGIN`, else the centre square; inside the photo."""
    width, height = photo_size
    short = min(width, height)
    if face is None:
        return Box((width - short) / 2, (height - short) / 2, short, short)
    side = min(max(face.width, face.height) * FACE_MARGIN, short)
    centre_x, centre_y = face.left + face.width / 2, face.top + face.height / 2
    left = min(max(centre_x - side / 2, 0.0), width - side)
    top = min(max(centre_y - side / 2, 0.0), height - side)
    return Box(left, top, side, side)


def parse_crop(text: str) -> Box:
    """``LEFT,TOP,SIDE`` (photo pixels, after EXIF rotation) → the square :class:`Box` to crop."""
    try:
        left, top, side = (float(part) for part in text.split(","))
    except ValueError:
        raise MuybridgeError(f"--crop {text}: give LEFT,TOP,SIDE of a square in photo pixels, e.g. 120,40,300"
                             ) from None
    return Box(left, top, side, side)


def check_crop(box: Box, photo_size: tuple[int, int], min_side: int, name: str = "photo") -> Box:
    """``box``, refused in one line unless it lies inside the photo and is at least ``min_side`` wide."""
    width, height = photo_size
    inside = box.left >= 0 and box.top >= 0 and box.left + box.width <= width and box.top + box.height <= height
    if not inside or min(box.width, box.height) < min_side:
        left, top, side = box.as_list()[:3]
        raise MuybridgeError(f"{name}: the crop {left:g},{top:g},{side:g} (left, top, side) must lie inside the "
                             f"{width}x{height} photo and be at least {min_side} px")
    return box


def face_crop(photo: Image.Image, resolution: int, class_name: str, detect: bool = True,
              name: str = "photo", crop: Box | None = None) -> tuple[np.ndarray, Box, bool]:
    """``(resolution, resolution, 3)`` uint8 crop, the box it came from, and whether a face was detected.
    ``crop`` (the user's own square) replaces detection.

    Raises :class:`NoFaceError` when detection is asked for a class it supports and finds nothing.
    """
    face = None
    if crop is None and detect and class_name in DETECTABLE_CLASSES:
        face = detect_face(photo)
        if face is None:
            raise NoFaceError(f"{name}: no {class_name} face found; pass --no-detect to use the centre square of "
                              "the photo instead, or --crop LEFT,TOP,SIDE to frame it yourself")
    box = check_crop(crop, photo.size, max(1, resolution // 2), name) if crop else crop_box(photo.size, face)
    region = (box.left, box.top, box.left + box.width, box.top + box.height)
    pixels = photo.resize((resolution, resolution), Image.Resampling.LANCZOS, box=region, reducing_gap=3.0)
    return np.array(pixels, dtype=np.uint8), box, face is not None


__all__ = ["FACE_MARGIN", "Box", "NoFaceError", "UnusableImageError", "check_crop", "crop_box", "detect_face",
           "face_crop", "load_photo", "parse_crop"]
