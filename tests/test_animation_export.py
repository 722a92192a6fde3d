"""Every export format read back: frame count, size, durations; the atlas matches the sheet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from muybridge.animation.export import (
    check_output,
    export_frames,
    frame_durations_ms,
    output_format,
    save_image,
)
from muybridge.errors import MuybridgeError


def moving_square(count: int = 12, height: int = 40, width: int = 40) -> np.ndarray:
    """Frames of a bright square moving over a gradient: every frame differs from its neighbours."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[..., 2] = np.linspace(0, 255, width, dtype=np.uint8)
    for i in range(count):
        frames[i, 5:15, 2 + 2 * i : 12 + 2 * i, 0] = 255
    return frames


def test_gif_loops_with_the_right_frames_and_average_fps(tmp_path: Path) -> None:
    path = tmp_path / "a.gif"
    assert export_frames(moving_square(), path, fps=24) == [path]
    with Image.open(path) as gif:
        assert gif.n_frames == 12 and gif.size == (40, 40) and gif.info["loop"] == 0
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert set(durations) <= {40, 50}
    assert sum(durations) == 500  # 12 frames at 24 fps, to the centisecond


def test_gif_frames_keep_their_colours(tmp_path: Path) -> None:
    """Each frame gets its own 256 colours: a smooth gradient with noise and a small bright feature comes
    back within a few grey levels, and the small feature keeps its colour."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 48)
    frames = np.stack([np.stack([ramp[None, :] * np.ones((48, 1)), ramp[:, None] * np.ones((1, 48)),
                                 np.full((48, 48), 40.0 * (i % 4))], axis=-1) for i in range(8)])
    frames = np.clip(frames + rng.normal(0, 6, frames.shape), 0, 255)
    frames[:, 20:23, 20:23] = (255, 0, 255)
    frames = frames.astype(np.uint8)
    path = tmp_path / "a.gif"
    export_frames(frames, path, fps=8)
    with Image.open(path) as gif:
        decoded = []
        for i in range(gif.n_frames):
            gif.seek(i)
            decoded.append(np.asarray(gif.convert("RGB"), dtype=float))
    error = np.abs(np.stack(decoded) - frames)
    assert error.mean() < 7  # a fixed web palette: 12.6; 64 colours: 10.4
    assert error[:, 20:23, 20:23].max() <= 8  # median cut loses it: 51


def test_mp4_is_h264_yuv420p_with_even_size(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    export_frames(moving_square(10, 33, 45), path, fps=10)
    frames = np.stack(list(_ffmpeg_frames(path)))
    assert frames.shape[0] == 10 and frames.shape[1:3] == (34, 46)
    data = path.read_bytes()
    assert b"avc1" in data and data.find(b"moov") < data.find(b"mdat")  # +faststart: index first


def _ffmpeg_frames(path: Path) -> Iterator[np.ndarray]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    width, height = meta["size"]
    for raw in reader:
        yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def test_webp_is_animated_with_durations(tmp_path: Path) -> None:
    path = tmp_path / "a.webp"
    export_frames(moving_square(8), path, fps=8, lossless=True)
    with Image.open(path) as webp:
        assert webp.n_frames == 8 and webp.size == (40, 40)
        durations = []
        for i in range(webp.n_frames):
            webp.seek(i)
            webp.load()
            durations.append(webp.info["duration"])
        assert np.array_equal(np.asarray(webp.convert("RGB")), moving_square(8)[7])  # lossless
    assert durations == [125] * 8 and webp.info["loop"] == 0


def test_png_frames_folder(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    written = export_frames(moving_square(5), folder, fps=12)
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{i:04d}.png" for i in range(5)] == [
        p.name for p in written]
    assert np.array_equal(np.asarray(Image.open(folder / "frame_0002.png")), moving_square(5)[2])
    export_frames(moving_square(3), folder, fps=12)  # a folder of earlier frames may be replaced
    assert len(list(folder.iterdir())) == 3


def test_sprite_sheet_atlas_matches_the_sheet(tmp_path: Path) -> None:
    frames = moving_square(10, 24, 32)
    png, atlas_path = export_frames(frames, tmp_path / "walk.png", fps=20)
    atlas = json.loads(atlas_path.read_text())
    sheet = np.asarray(Image.open(png))
    meta = atlas["meta"]
    assert sheet.shape[2] == 4 and meta["format"] == "RGBA8888" and meta["scale"] == "1"
    assert meta["image"] == "walk.png"
    assert (meta["size"]["w"], meta["size"]["h"]) == (sheet.shape[1], sheet.shape[0])
    assert meta["frameTags"] == [{"name": "walk", "from": 0, "to": 9, "direction": "forward"}]
    assert list(atlas["frames"]) == [str(i) for i in range(10)] == atlas["animations"]["walk"]
    for i, entry in enumerate(atlas["frames"].values()):
        rect = entry["frame"]
        assert rect["x"] >= 0 and rect["y"] >= 0
        assert rect["x"] + rect["w"] <= sheet.shape[1] and rect["y"] + rect["h"] <= sheet.shape[0]
        assert (rect["w"], rect["h"]) == (32, 24) == (entry["sourceSize"]["w"], entry["sourceSize"]["h"])
        assert entry["rotated"] is False and entry["trimmed"] is False and entry["duration"] == 50
        crop = sheet[rect["y"] : rect["y"] + rect["h"], rect["x"] : rect["x"] + rect["w"]]
        assert np.array_equal(crop[..., :3], frames[i]) and crop[..., 3].min() == 255


def test_formats_from_names_and_clear_refusals(tmp_path: Path) -> None:
    assert [output_format(tmp_path / n) for n in ("a.GIF", "a.mp4", "a.webp", "a.png", "out")] == [
        "gif", "mp4", "webp", "sheet", "frames"]
    with pytest.raises(MuybridgeError, match="unknown output format '.avi'"):
        check_output(tmp_path / "a.avi")
    with pytest.raises(MuybridgeError, match="at most 50 fps"):
        check_output(tmp_path / "a.gif", fps=60)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(MuybridgeError, match="holds other files"):
        export_frames(moving_square(2), tmp_path / "mine", fps=2)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("")
    with pytest.raises(MuybridgeError, match="not a folder"):
        check_output(tmp_path / "file" / "a.gif")


def test_failed_export_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(MuybridgeError, match="frames must be uint8"):
        export_frames(np.zeros((2, 8, 8, 3), np.float32), tmp_path / "a.gif", fps=2)
    assert list(tmp_path.iterdir()) == []


def test_frame_durations_track_the_clock() -> None:
    assert frame_durations_ms(3, 30) == [33, 34, 33]
    assert sum(frame_durations_ms(24, 24, step_ms=10)) == 1000


def test_save_image(tmp_path: Path) -> None:
    pixels = moving_square(1)[0]
    save_image(pixels, tmp_path / "a.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), pixels)
    with pytest.raises(MuybridgeError, match="unknown image format"):
        save_image(pixels, tmp_path / "a.tiff")
