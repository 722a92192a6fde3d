"""Latent paths: loops close seamlessly, walks and morphs hit their keys, keys parse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from muybridge.animation.blend import EASINGS, slerp
from muybridge.animation.options import AnimationOptions, frame_times
from muybridge.animation.paths import (
    character,
    character_from_latent,
    loop,
    morph,
    motion,
    parse_key,
    walk,
)
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> Generator:
    return Generator.load(tiny_model_dir)


def test_loop_is_seamless_in_pixels(tiny: Generator) -> None:
    frames = render_animation(tiny, AnimationSpec([loop(character(tiny, "cat", 7), radius=3.0)], frames=24))
    pixels = frames.astype(np.float64)
    neighbours = np.abs(np.diff(pixels, axis=0)).mean(axis=(1, 2, 3))
    wrap = np.abs(pixels[-1] - pixels[0]).mean()
    assert neighbours.min() > 0  # it moves
    assert wrap <= neighbours.max()
    assert wrap <= 2 * np.median(neighbours)


def test_loop_latents_close_and_keep_norm(tiny: Generator) -> None:
    cat = character(tiny, "cat", 3)
    path = loop(cat, radius=2.0)
    latents, weights = path.sample(np.array([0.0, 0.25, 0.5, 1.0]))
    assert torch.allclose(latents[0], latents[-1], atol=1e-5)
    norms = latents.norm(dim=1)
    assert torch.allclose(norms, cat.latent.norm().expand(4), rtol=1e-4)
    assert torch.equal(weights, cat.class_weights.expand(4, -1))
    assert path.closed and frame_times(4, closed=True).tolist() == [0, 0.25, 0.5, 0.75]


def test_walk_passes_through_its_keys(tiny: Generator) -> None:
    keys = [character(tiny, "cat", 1), character(tiny, "cat", 2), character(tiny, "dog", 3)]
    for interpolation in ("slerp", "lerp"):
        path = walk(keys, interpolation=interpolation, easing="cubic")
        latents, weights = path.sample(np.array([0.0, 0.5, 1.0]))
        for row, key in enumerate(keys):
            assert torch.allclose(latents[row], key.latent, atol=1e-5)
            assert torch.allclose(weights[row], key.class_weights)
    closed = walk(keys, closed=True)
    latents, _ = closed.sample(np.array([0.0, 1.0]))
    assert torch.allclose(latents[0], latents[1], atol=1e-5)


def test_morph_across_classes_holds_identity_noise(tiny: Generator) -> None:
    path = morph(character(tiny, "cat", 3), character(tiny, "dog", 3), easing="linear")
    latents, weights = path.sample(np.linspace(0, 1, 5))
    assert torch.allclose(latents, latents[0].expand(5, -1), atol=1e-5)
    assert torch.allclose(weights[:, 1], torch.linspace(0, 1, 5), atol=1e-6)
    assert torch.allclose(weights.sum(dim=1), torch.ones(5))


def test_motion_oscillates_along_the_direction(tiny: Generator) -> None:
    cat = character(tiny, "cat", 0)
    direction = torch.zeros(tiny.latent_dim)
    direction[2] = 5.0  # normalised by motion()
    latents, _ = motion(cat, direction, amplitude=2.0).sample(np.array([0.0, 0.25, 0.75]))
    offsets = latents - cat.latent
    assert torch.allclose(offsets[:, 2], torch.tensor([0.0, 2.0, -2.0]), atol=1e-5)
    assert offsets[:, [0, 1, 3]].abs().max() < 1e-6


@pytest.mark.parametrize(("amplitude", "cycles", "flag"), [(0.0, 1, "--amplitude"), (100.5, 1, "--amplitude"),
                                                          (2.0, 0, "--cycles"), (2.0, 17, "--cycles")])
def test_motion_takes_the_limits_of_its_options(tiny: Generator, amplitude: float, cycles: int, flag: str) -> None:
    """The library path refuses what ``--amplitude`` and ``--cycles`` refuse, in the options' words."""
    cat = character(tiny, "cat", 0)
    with pytest.raises(MuybridgeError, match=f"^{flag} must be"):
        motion(cat, torch.ones(tiny.latent_dim), amplitude=amplitude, cycles=cycles)
    with pytest.raises(MuybridgeError, match=f"^{flag} must be"):
        AnimationOptions(amplitude=amplitude, cycles=cycles).check()
    with pytest.raises(MuybridgeError, match=f"^{flag} must be"):  # numpy's scalars are checked too
        motion(cat, torch.ones(tiny.latent_dim), amplitude=np.float32(amplitude), cycles=np.int64(cycles))
    assert motion(cat, torch.ones(tiny.latent_dim), amplitude=-100.0, cycles=16).cycles == 16


def test_slerp_keeps_norm_between_equal_norm_vectors() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1, 64), np.float32), rng.standard_normal((1, 64), np.float32)
    b = b / np.linalg.norm(b) * np.linalg.norm(a)
    mids = slerp(np.repeat(a, 3, 0), np.repeat(b, 3, 0), np.array([0.0, 0.5, 1.0], np.float32))
    assert mids.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mids, axis=1), np.linalg.norm(a), rtol=1e-4)
    np.testing.assert_allclose(mids[[0, 2]], np.concatenate([a, b]), atol=1e-5)
    assert np.allclose(slerp(a, a, np.array([0.5], np.float32)), a)  # parallel rows: lerp


def test_easings_start_at_zero_end_at_one_and_keep_the_dtype() -> None:
    u = np.array([0.0, 1.0], np.float32)
    for name, ease in EASINGS.items():
        assert np.allclose(ease(u), u, atol=1e-6) and ease(u).dtype == np.float32, name
    quarter = np.array([0.25], np.float32)
    assert [float(EASINGS[name](quarter)[0]) for name in ("linear", "ease-in-out", "cubic")] == pytest.approx(
        [0.25, 0.5 - 0.5 * np.cos(np.pi / 4), 4 * 0.25**3], abs=1e-6)


def test_parse_key() -> None:
    assert parse_key("cat:7") == ("cat", 7)
    assert parse_key("dog") == ("dog", None)
    assert parse_key("cat*0.7+dog*0.3:2") == ({"cat": 0.7, "dog": 0.3}, 2)
    for bad in ("cat:x", "cat*abc+dog:1", ":3"):
        with pytest.raises(MuybridgeError, match="bad"):
            parse_key(bad)


def test_character_from_latent_matches_seed(tiny: Generator) -> None:
    by_seed = character(tiny, "dog", 5)
    by_latent = character_from_latent(tiny, "dog", tiny.latents([5])[0])
    assert torch.equal(by_seed.latent, by_latent.latent)
    with pytest.raises(MuybridgeError, match="latent must have"):
        character_from_latent(tiny, "dog", torch.zeros(3))
