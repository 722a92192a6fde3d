"""Rendering: batch-size independence, resizing, grids, option checks."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from muybridge.animation.paths import character, loop, morph
from muybridge.animation.render import AnimationSpec, frames_for, parse_grid, render_animation, render_grid
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> Generator:
    return Generator.load(tiny_model_dir)


def test_render_does_not_depend_on_batch_size(tiny: Generator) -> None:
    path = loop(character(tiny, "cat", 1))
    spec = AnimationSpec([path], frames=10)
    renders = [render_animation(tiny, spec, batch_size=b) for b in (1, 3, 64)]
    again = render_animation(tiny, spec, batch_size=3)
    assert np.array_equal(renders[1], again)  # same batch size: bit-identical
    for other in renders[1:]:  # CPU kernels block by batch: at most one level of rounding apart
        assert np.abs(other.astype(int) - renders[0]).max() <= 1


def test_generate_pixels_do_not_depend_on_batch_or_position(tiny: Generator) -> None:
    alone = tiny.generate("dog", 11)
    for count in (4, 17, 40):
        seeds = [3, 11, *range(100, 100 + count - 2)]
        batch = tiny.generate(["cat", "dog", *["cat"] * (count - 2)], seeds)
        assert np.array_equal(batch[1], alone[0])
    shifted = tiny.generate(["cat"] * 20 + ["dog"], [*range(20), 11])
    assert np.array_equal(shifted[20], alone[0])


def test_grid_and_resize(tiny: Generator) -> None:
    paths = [morph(character(tiny, "cat", s), character(tiny, "dog", s)) for s in range(6)]
    frames = render_animation(tiny, AnimationSpec(paths, frames=3, size=48, grid=(2, 3), pixel_art=True))
    assert frames.shape == (3, 96, 144, 3)
    first_cell = render_animation(tiny, AnimationSpec(paths[:1], frames=3, size=48, pixel_art=True))
    assert np.abs(frames[:, :48, :48].astype(int) - first_cell).max() <= 1
    # nearest-neighbour upscale from 32 to 48 repeats source pixels: no new colours appear
    native = render_animation(tiny, AnimationSpec(paths[:1], frames=3))
    assert {tuple(c) for c in first_cell[0].reshape(-1, 3)} <= {tuple(c) for c in native[0].reshape(-1, 3)}


def test_render_grid_pads_to_a_rectangle(tiny: Generator) -> None:
    picture = render_grid(tiny, tiny.latents(range(5)), tiny.class_weights(["cat"] * 5), size=16)
    assert picture.shape == (32, 48, 3)
    assert picture[16:, 32:].max() == 0


@pytest.mark.parametrize(("fps", "duration", "frames", "message"), [
    (0, None, None, "--fps"), (24, -1.0, None, "--duration"), (24, None, 0, "--frames"),
    (24, 2.0, 10, "not both"), (24, 1e6, None, "limit"),
])
def test_bad_timing_options(fps: float, duration: float | None, frames: int | None, message: str) -> None:
    with pytest.raises(MuybridgeError, match=message):
        frames_for(fps, duration, frames)


def test_timing_and_grid_parsing() -> None:
    assert frames_for(24, None, None) == 96
    assert frames_for(12, 2.5, None) == 30
    assert parse_grid("2x3") == (2, 3)
    with pytest.raises(MuybridgeError, match="grid"):
        parse_grid("0x2")


def test_absurd_sizes_are_refused_before_rendering(tiny: Generator) -> None:
    path = loop(character(tiny, "cat", 0))
    with pytest.raises(MuybridgeError, match="--size"):
        render_animation(tiny, AnimationSpec([path], frames=2, size=5000))
    with pytest.raises(MuybridgeError, match="GiB"):
        render_animation(tiny, AnimationSpec([path] * 4, frames=2000, size=2048, grid=(2, 2)))


FAULTS_PER_DECODE = """
import resource, torch
from muybridge.generator import Generator
from muybridge.memory import keep_freed_memory
from muybridge.models import build_networks
keep_freed_memory()
torch.manual_seed(0)
config = {"architecture": "gallop", "resolution": 64, "classes": ["cat", "dog"], "latent_dim": 128}
networks = build_networks(config)
generator = Generator(config, networks.decoder, networks.encoder)
latents, weights = generator.latents(range(64)), generator.class_weights(["cat"] * 64)
with torch.inference_mode():
    for _ in range(2):
        generator.decoder(latents, weights)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        generator.decoder(latents, weights)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc thresholds are set on glibc only")
def test_rendering_reuses_memory_between_batches() -> None:
    """A batch-64 decode of the default architecture allocates ~24 MB of feature maps; glibc's default thresholds
    gave them back to the kernel and faulted them in again every batch (~7,000 page faults per decode)."""
    run = subprocess.run([sys.executable, "-c", FAULTS_PER_DECODE], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert float(run.stdout) < 1000
