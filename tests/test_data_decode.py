"""decode_image / decode_frames: every bad-input kind, every colour mode, orientation, crop, animations."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from muybridge.data.decode import UnusableImageError, decode_frames, decode_image, to_rgb

SIZE = 32


def noise_image(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk announcing a huge picture, with no pixel data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB\x60\x82"


def png_with_damaged_pixels() -> bytes:
    data = bytearray(encoded(noise_image(), "PNG"))
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    return bytes(data)


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **options)
    return buffer.getvalue()


def category_of(source: object, size: int = SIZE, **options: object) -> str:
    with pytest.raises(UnusableImageError) as caught:
        decode_image(source, size, **options)  # type: ignore[arg-type]
    assert caught.value.reason and "\n" not in caught.value.reason
    return caught.value.category


def test_good_jpeg_from_path_and_bytes_agree(tmp_path: Path) -> None:
    data = jpeg_bytes(noise_image())
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    from_path, from_bytes = decode_image(path, SIZE), decode_image(data, SIZE)
    assert from_path.shape == (SIZE, SIZE, 3) and from_path.dtype == np.uint8
    np.testing.assert_array_equal(from_path, from_bytes)


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", "empty"),
    (b"this is a text file, not a picture\n", "not an image"),
    (bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)), "not an image"),
    (png_header_claiming(100_000, 100_000), "too large"),
    (png_header_claiming(9_000, 9_000), "too large"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
    (png_with_damaged_pixels(), "corrupt"),
], ids=["empty", "text", "random-bytes", "bomb-huge", "over-our-cap", "broken-header", "corrupt-data"])
def test_bad_payloads_are_refused_with_a_category(tmp_path: Path, payload: bytes, expected: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(payload)
    assert category_of(path) == expected


def test_truncated_jpeg_is_refused() -> None:
    data = jpeg_bytes(noise_image(128, 128))
    assert category_of(data[: len(data) // 2]) == "truncated"


def test_too_small_unless_min_side_allows_it() -> None:
    tiny = jpeg_bytes(noise_image(10, 12))
    assert category_of(tiny) == "too small"
    assert decode_image(tiny, SIZE, min_side=8).shape == (SIZE, SIZE, 3)


def test_unreadable_paths(tmp_path: Path) -> None:
    # Tests run as root, so chmod 000 does not block reading: a dangling link and a folder stand in.
    dangling = tmp_path / "gone.jpg"
    dangling.symlink_to(tmp_path / "missing.jpg")
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    assert category_of(dangling) == "unreadable"
    assert category_of(folder) == "unreadable"


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 0, 0] + [0, 255, 0] * 255)
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize(("image", "fmt", "expected"), [
    (Image.new("P", (40, 40), 1).convert("RGB").convert("P"), "PNG", None),
    (palette_with_transparency(), "PNG", (128, 128, 128)),
    (Image.new("L", (40, 40), 77), "PNG", (77, 77, 77)),
    (Image.fromarray(np.full((40, 40), 65535, dtype=np.uint16)), "PNG", (255, 255, 255)),
    (Image.fromarray(np.full((40, 40), 257 * 100, dtype=np.uint16)), "PNG", (100, 100, 100)),
    (Image.new("CMYK", (40, 40), (0, 0, 0, 0)), "JPEG", (255, 255, 255)),
    (Image.new("CMYK", (40, 40), (0, 0, 0, 0)), "TIFF", (255, 255, 255)),
    (Image.new("RGBA", (40, 40), (255, 0, 0, 0)), "PNG", (128, 128, 128)),
    (Image.new("RGBA", (40, 40), (255, 0, 0, 128)), "PNG", (192, 64, 64)),
    (Image.new("LA", (40, 40), (200, 255)), "PNG", (200, 200, 200)),
    (Image.new("LA", (40, 40), (200, 0)), "PNG", (128, 128, 128)),
], ids=["P", "P-transparent", "L", "I16-max", "I16-mid", "CMYK-jpeg", "CMYK-tiff", "RGBA-clear",
        "RGBA-half", "LA-opaque", "LA-clear"])
def test_every_colour_mode_becomes_rgb(image: Image.Image, fmt: str,
                                       expected: tuple[int, int, int] | None) -> None:
    pixels = decode_image(encoded(image, fmt), SIZE)
    assert pixels.shape == (SIZE, SIZE, 3) and pixels.dtype == np.uint8
    if expected is not None:
        np.testing.assert_allclose(pixels.reshape(-1, 3).mean(axis=0), expected, atol=2)


@pytest.mark.parametrize(("value", "expected"), [(25700, 100), (200, 200)])
def test_32_bit_grey_is_scaled_only_when_above_8_bits(value: int, expected: int) -> None:
    rgb = to_rgb(Image.new("I", (4, 4), value))
    assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (expected,) * 3


def test_exif_orientation_is_applied() -> None:
    pixels = np.zeros((64, 64, 3), dtype=np.uint8)
    pixels[:, :32] = (255, 0, 0)  # left half red
    pixels[:, 32:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    decoded = decode_image(jpeg_bytes(Image.fromarray(pixels), exif=exif.tobytes()), SIZE).astype(int)
    top, bottom = decoded[:8].reshape(-1, 3).mean(axis=0), decoded[-8:].reshape(-1, 3).mean(axis=0)
    assert top[0] > 200 and top[2] < 50, "the red left half should be on top after rotation"
    assert bottom[2] > 200 and bottom[0] < 50


def test_centre_square_crop_and_lanczos_resize() -> None:
    pixels = np.zeros((50, 100, 3), dtype=np.uint8)
    pixels[:, :25] = (0, 255, 0)
    pixels[:, 25:75] = (255, 0, 0)
    pixels[:, 75:] = (0, 0, 255)
    decoded = decode_image(encoded(Image.fromarray(pixels), "PNG"), 16)
    assert (decoded == (255, 0, 0)).all(), "only the red centre square should remain"
    flat = decode_image(encoded(Image.new("RGB", (224, 224), (10, 120, 230)), "PNG"), 64)
    assert (flat == (10, 120, 230)).all()


def write_gif(path: Path, colours: list[tuple[int, int, int]], duration_ms: int) -> None:
    frames = [Image.new("RGB", (40, 40), colour) for colour in colours]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)


def test_animated_gif_frames_follow_durations(tmp_path: Path) -> None:
    path = tmp_path / "walk.gif"
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    write_gif(path, colours, duration_ms=500)
    every_frame = list(decode_frames(path, SIZE, fps=2))
    assert len(every_frame) == 3
    for frame, colour in zip(every_frame, colours, strict=True):
        np.testing.assert_allclose(frame.reshape(-1, 3).mean(axis=0), colour, atol=8)
    one_per_second = list(decode_frames(path, SIZE, fps=1))  # samples at 0 s and 1 s → frames 0 and 2
    assert len(one_per_second) == 2
    np.testing.assert_allclose(one_per_second[1].reshape(-1, 3).mean(axis=0), colours[2], atol=8)


def write_mp4(path: Path, seconds: float, fps: int = 10) -> None:
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), (64, 64), fps=fps, macro_block_size=16)
    writer.send(None)
    for index in range(int(seconds * fps)):
        writer.send(np.full((64, 64, 3), (index * 12) % 256, dtype=np.uint8).tobytes())
    writer.close()


def test_mp4_frames_are_sampled_at_fps(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_mp4(path, seconds=2.0)
    frames = list(decode_frames(path, SIZE, fps=2))
    assert 3 <= len(frames) <= 5
    assert all(frame.shape == (SIZE, SIZE, 3) and frame.dtype == np.uint8 for frame in frames)
    assert frames[-1].mean() > frames[0].mean() + 20, "later frames are brighter in this clip"


def test_broken_video_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"not really a video" * 10)
    with pytest.raises(UnusableImageError) as caught:
        list(decode_frames(path, SIZE, fps=2))
    assert caught.value.category == "not a video"
