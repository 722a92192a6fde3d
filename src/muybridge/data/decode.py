"""Decode one picture (or the frames of one video) into square RGB uint8 arrays, the way training sees them.

Every image goes through the same steps: EXIF orientation applied, converted to RGB (transparency
composited on neutral grey, 16-bit scaled down to 8-bit), centre-cropped to a square and resized with
Lanczos. A file that cannot be used raises :class:`UnusableImageError` with a short category and a
one-line reason; nothing here prints or lets a decoder's own exception escape.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from muybridge.errors import MuybridgeError

MAX_PIXELS = 80_000_000
"""Largest picture (width x height) we agree to decode: larger is treated as a decompression bomb."""

BACKGROUND_GREY = (128, 128, 128)
"""Transparent pixels are composited on this neutral grey."""

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})
ANIMATION_EXTENSIONS = frozenset({".gif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v"})

_TRANSPARENT_MODES = frozenset({"RGBA", "LA", "La", "RGBa", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


class UnusableImageError(MuybridgeError):
    """One input file cannot be used. ``category`` is a short key for summaries (``"too small"``,
    ``"corrupt"``...), ``reason`` the one-line human explanation."""

    def __init__(self, category: str, reason: str, path: str | None = None) -> None:
        self.category = category
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


ImageSource = str | os.PathLike[str] | bytes


def read_source_bytes(source: ImageSource) -> bytes:
    """The bytes of ``source`` (a path or bytes already read), refusing empty and unreadable files."""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UnusableImageError("unreadable", f"cannot read the file ({exc.strerror or exc})") from None
    if not data:
        raise UnusableImageError("empty", "empty file (0 bytes)")
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(source: ImageSource, size: int, *, min_side: int | None = None) -> np.ndarray:
    """Decode a still picture (path or bytes) into a ``(size, size, 3)`` uint8 RGB array.

    ``min_side`` (default ``size // 2``) rejects pictures whose shorter side is smaller. An animated
    picture gives its first frame. Raises :class:`UnusableImageError` with the reason.
    """
    data = read_source_bytes(source)
    with _bomb_warnings_as_errors():
        image = _open(data)
        check_dimensions(image.size, size, min_side)
        _draft_jpeg(image, size)
        return square_rgb_array(_oriented(image), size)


def decode_picture(source: ImageSource, *, min_side: int) -> Image.Image:
    """Decode a still picture (path or bytes) at full size: RGB, EXIF-rotated, with the same refusals as
    :func:`decode_image` (non-images, decompression bombs, a shorter side below ``min_side``)."""
    data = read_source_bytes(source)
    with _bomb_warnings_as_errors():
        image = _open(data)
        check_dimensions(image.size, 0, min_side)
        return to_rgb(_oriented(image))


def decode_frames(source: str | os.PathLike[str], size: int, fps: float, *,
                  min_side: int | None = None) -> Iterator[np.ndarray]:
    """The frames of a video or animated picture sampled at ``fps``, each a ``(size, size, 3)`` uint8 array.

    Animated GIF (and other animated pictures Pillow reads) go through Pillow, honouring frame
    durations; video containers go through imageio-ffmpeg's bundled ffmpeg.
    """
    if fps <= 0:
        raise MuybridgeError(f"--fps must be positive, got {fps}")
    if Path(source).suffix.lower() in VIDEO_EXTENSIONS:
        yield from _video_frames(source, size, fps, min_side)
    else:
        yield from _animation_frames(read_source_bytes(source), size, fps, min_side)


def square_rgb_array(image: Image.Image, size: int) -> np.ndarray:
    """Any-mode Pillow image → centre square crop → ``(size, size, 3)`` uint8, Lanczos-resized."""
    rgb = to_rgb(image)
    width, height = rgb.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = rgb.crop((left, top, left + side, top + side)) if width != height else rgb
    resized = square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.ascontiguousarray(np.asarray(resized, dtype=np.uint8))


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB: alpha composited on grey, 16/32-bit grey scaled to 8 bits."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return Image.fromarray(_high_depth_to_uint8(image), mode="L").convert("RGB")
    if mode in _TRANSPARENT_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND_GREY, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _high_depth_to_uint8(image: Image.Image) -> np.ndarray:
    """16-bit grey is scaled by 1/257; 32-bit 'I' and float 'F' are taken as 16-bit when above 255."""
    values = np.asarray(image).astype(np.float32)
    if image.mode in _SIXTEEN_BIT_MODES or (values.size and float(values.max()) > 255.0):
        values = values / 257.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnusableImageError("not an image", "not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnusableImageError("too large", f"refused as a possible decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnusableImageError("corrupt", f"corrupt image header ({exc})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise UnusableImageError("too large", f"{width}x{height} pixels is over the {MAX_PIXELS:,} pixel cap "
                                 "(possible decompression bomb)")
    return image


def check_dimensions(dimensions: tuple[int, int], size: int, min_side: int | None) -> None:
    smallest = max(1, size // 2) if min_side is None else min_side
    width, height = dimensions
    if min(width, height) < smallest:
        raise UnusableImageError("too small", f"too small ({width}x{height}; the shorter side must be "
                                 f"at least {smallest} px)")


def _draft_jpeg(image: Image.Image, size: int) -> None:
    """Let libjpeg decode big JPEGs at a reduced scale (DCT scaling), keeping at least 2x the target."""
    if image.format != "JPEG" or image.mode not in ("RGB", "L", "CMYK"):
        return
    width, height = image.size
    scale = 2 * size / min(width, height)
    if scale < 0.5:
        image.draft(image.mode, (math.ceil(width * scale), math.ceil(height * scale)))


def _oriented(image: Image.Image) -> Image.Image:
    """Fully decode ``image`` and apply its EXIF orientation; decoding errors become UnusableImageError."""
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnusableImageError("too large", f"refused as a possible decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        category = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise UnusableImageError(category, f"{category} image data ({exc})") from None
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block: the pixels are fine, keep them unrotated
        return image


def _animation_frames(data: bytes, size: int, fps: float, min_side: int | None) -> Iterator[np.ndarray]:
    """Sample an animated picture at ``fps`` using each frame's display duration (GIF 0 ms → 100 ms)."""
    with _bomb_warnings_as_errors():
        image = _open(data)
        check_dimensions(image.size, size, min_side)
        step_ms = 1000.0 / fps
        next_sample_ms, frame_start_ms = 0.0, 0.0
        try:
            for frame in ImageSequence.Iterator(image):
                duration = float(frame.info.get("duration") or 0) or 100.0
                frame_end_ms = frame_start_ms + duration
                if next_sample_ms < frame_end_ms:
                    yield square_rgb_array(frame.convert("RGBA"), size)
                    while next_sample_ms < frame_end_ms:
                        next_sample_ms += step_ms
                frame_start_ms = frame_end_ms
        except UnusableImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # a later frame's size
            raise UnusableImageError("too large", f"refused as a possible decompression bomb ({exc})") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
            raise UnusableImageError("corrupt", f"corrupt animation frame ({exc})") from None


def _video_frames(path: str | os.PathLike[str], size: int, fps: float,
                  min_side: int | None) -> Iterator[np.ndarray]:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", f"fps={fps:g}"])
    try:
        meta = next(reader)
        width, height = (int(v) for v in meta["size"])
        check_dimensions((width, height), size, min_side)
        for raw in reader:
            pixels = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
            yield square_rgb_array(Image.fromarray(pixels, mode="RGB"), size)
    except UnusableImageError:
        raise
    except (OSError, RuntimeError, ValueError, StopIteration, KeyError) as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise UnusableImageError("not a video", f"cannot decode the video ({detail[:200]})") from None
    finally:
        reader.close()


class _bomb_warnings_as_errors(warnings.catch_warnings):
    """Within the block, Pillow's DecompressionBombWarning raises instead of only warning."""

    def __enter__(self) -> None:
        super().__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)
