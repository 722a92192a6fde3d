"""A sprite sheet and atlas written by ``muybridge animate ... -o x.png`` play in a real Phaser 3 game, unchanged.

The game runs in headless Chromium (tests/webdriver.py) with the vendored Phaser build in
tests/fixtures/phaser (MIT; SOURCE.md there). It loads the pair both ways a game developer would: as a
texture atlas, and as an Aseprite export whose animation Phaser builds from ``meta.frameTags`` with the
per-frame durations. The test compares what Phaser sees, frame by frame and pixel by pixel, with the files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from webdriver import Browser, serve_folder, wait_until

from muybridge.animation.modes import animate_to_file, loop_builder
from muybridge.generator import Generator

PHASER = Path(__file__).parent / "fixtures" / "phaser" / "phaser.min.js"
PROBES = [(0, 0), (5, 9), (31, 31)]  # (x, y) pixels compared in every frame

GAME = """<!doctype html>
<html><body>
<script src="phaser.min.js"></script>
<script>
const PROBES = %(probes)s;
window.report = null;
new Phaser.Game({
  type: Phaser.CANVAS, width: 64, height: 64, banner: false, audio: { noAudio: true },
  scene: {
    preload() {
      this.load.on("loaderror", (file) => { window.report = { error: "could not load " + file.src }; });
      this.load.atlas("atlas", "loop.png", "loop.json");
      this.load.aseprite("loop", "loop.png", "loop.json");
    },
    create() {
      if (window.report) return;
      try { this.check(); } catch (e) { window.report = { error: String(e) }; }
    },
    extend: { check() {
      const texture = this.textures.get("atlas");
      const names = texture.getFrameNames();
      const rects = names.map((n) => { const f = texture.get(n); return [f.cutX, f.cutY, f.cutWidth, f.cutHeight]; });
      const pixels = names.map((n) => PROBES.map(([x, y]) => {
        const c = this.textures.getPixel(x, y, "atlas", n); return [c.red, c.green, c.blue, c.alpha]; }));
      const [animation] = this.anims.createFromAseprite("loop");
      const sprite = this.add.sprite(32, 32, "loop").play({ key: animation.key, repeat: -1 });
      window.report = { names, rects, pixels, animation: animation.key,
                        durations: animation.frames.map((f) => f.duration), shown: [] };
      this.time.addEvent({ delay: 40, loop: true,
                           callback: () => window.report.shown.push(sprite.anims.currentFrame.index) });
    } },
  },
});
</script>
</body></html>
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A folder served over HTTP (Phaser's loader fetches files; file:// URLs are refused)."""
    folder = tmp_path / "game"
    folder.mkdir()
    with serve_folder(folder) as url:
        yield url, folder


def test_a_rendered_loop_plays_in_phaser_unchanged(tiny_model_dir: Path, served: tuple[str, Path],
                                                   browser: Browser) -> None:
    url, folder = served
    animate_to_file(Generator.load(tiny_model_dir), loop_builder("cat", 7), folder / "loop.png", fps=8, frames=6)
    shutil.copy(PHASER, folder / "phaser.min.js")
    (folder / "index.html").write_text(GAME % {"probes": json.dumps(PROBES)}, encoding="utf-8")
    atlas = json.loads((folder / "loop.json").read_text())
    sheet = np.asarray(Image.open(folder / "loop.png"))

    browser.open(f"{url}/index.html")
    report = wait_until(lambda: browser.script(
        "return window.report && (window.report.error || window.report.shown.length >= 20) ? window.report : null"),
        60, "Phaser to load the sheet and play it")
    assert "error" not in report, report["error"]

    names = list(atlas["frames"])
    assert report["names"] == names and len(names) == 6
    for name, rect, pixels in zip(names, report["rects"], report["pixels"], strict=True):
        frame = atlas["frames"][name]["frame"]
        assert rect == [frame["x"], frame["y"], frame["w"], frame["h"]]
        assert pixels == [sheet[frame["y"] + y, frame["x"] + x].tolist() for x, y in PROBES]
    assert report["animation"] == "loop"
    assert report["durations"] == [entry["duration"] for entry in atlas["frames"].values()] == [125] * 6
    assert set(report["shown"]) == set(range(1, 7))  # every frame shown (Phaser counts from 1) while it loops
