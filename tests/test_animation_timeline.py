"""Keyframe files: a good file renders its keys; malformed files fail in one line naming file and key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from muybridge.animation.directions import resolve_direction
from muybridge.animation.timeline import read_timeline, timeline_path
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator

GOOD = """\
interpolation: lerp
keyframes:
  - {time: 0, class: cat, seed: 3}
  - time: 1.5
    class: {cat: 1, dog: 1}
    seed: 3
    directions: {"sefa:0": 2.0}
    easing: cubic
  - {time: 3, class: dog, seed: 5, easing: linear}
"""


def test_good_timeline_hits_every_key(tmp_path: Path, tiny_model_dir: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(GOOD)
    timeline = read_timeline(path)
    assert timeline.duration == 3.0 and timeline.interpolation == "lerp"
    assert timeline.keyframes[1].class_spec == {"cat": 1.0, "dog": 1.0}
    generator = Generator.load(tiny_model_dir)
    sefa0 = resolve_direction(generator, "sefa:0").vector
    track = timeline_path(generator, timeline, lambda name: resolve_direction(generator, name).vector)
    latents, weights = track.sample(np.array([0.0, 0.5, 1.0]))
    expected = generator.latents([3, 3, 5])
    expected[1] += 2.0 * torch.from_numpy(sefa0)
    assert torch.allclose(latents, expected, atol=1e-5)
    assert torch.allclose(weights, torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]))


def test_json_list_form(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('[{"time": 0, "class": "cat", "seed": 1}, {"time": 2, "class": "dog", "seed": 1}]')
    assert [k.class_spec for k in read_timeline(path).keyframes] == ["cat", "dog"]


@pytest.mark.parametrize(("text", "message"), [
    ("keyframes: [", r"not valid YAML \(line"),
    ("- {time: 0, class: cat, seed: 1}", "keyframes: expected a list of at least two"),
    ("- {time: 0, class: cat, seed: 1}\n- {time: 0, class: cat, seed: 1}",
     r"keyframes\[1\].time: must be later"),
    ("- {time: -1, class: cat, seed: 1}\n- {time: 1, class: cat, seed: 1}", r"keyframes\[0\].time: must be"),
    ("- {time: 0, class: cat, seed: x}\n- {time: 1, class: cat, seed: 1}",
     r"keyframes\[0\].seed: must be a whole"),
    ("- {time: 0, class: 3, seed: 1}\n- {time: 1, class: cat, seed: 1}", r"keyframes\[0\].class: expected"),
    ("- {time: 0, class: cat, seed: 1, easing: bouncy}\n- {time: 1, class: cat, seed: 1}",
     r"keyframes\[0\].easing: must be one of"),
    ("- {time: 0, class: cat, seed: 1, colour: red}\n- {time: 1, class: cat, seed: 1}",
     r"keyframes\[0\].colour: unknown key"),
    ("- {time: 0, class: cat, seed: 1, directions: [nod]}\n- {time: 1, class: cat, seed: 1}",
     r"keyframes\[0\].directions: expected a mapping"),
    ("fps: 3\nkeyframes: []", "fps: unknown key"),
])
def test_malformed_timelines_fail_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    with pytest.raises(MuybridgeError, match=message) as caught:
        read_timeline(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_unknown_class_or_direction_names_the_key(tmp_path: Path, tiny_model_dir: Path) -> None:
    generator = Generator.load(tiny_model_dir)
    path = tmp_path / "keys.yaml"
    path.write_text("- {time: 0, class: cat, seed: 1}\n- {time: 1, class: cow, seed: 1}\n")
    with pytest.raises(MuybridgeError, match=r"keyframes\[1\].class: unknown class 'cow'"):
        timeline_path(generator, read_timeline(path), lambda name: torch.zeros(generator.latent_dim))
    path.write_text("- {time: 0, class: cat, seed: 1, directions: {wag: 1}}\n"
                    "- {time: 1, class: cat, seed: 1}\n")
    with pytest.raises(MuybridgeError, match=r"keyframes\[0\].directions.wag: unknown direction 'wag'"):
        timeline_path(generator, read_timeline(path), lambda name: resolve_direction(generator, name).vector)
    path.write_text("- {time: 0, class: cat, seed: 1}\n- {time: 1, class: cat}\n")
    with pytest.raises(MuybridgeError, match=r"keyframes\[1\].seed: missing \(or give a latent file"):
        timeline_path(generator, read_timeline(path), lambda name: torch.zeros(generator.latent_dim))
    given = torch.full((generator.latent_dim,), 0.5)
    track = timeline_path(generator, read_timeline(path), lambda name: torch.zeros(generator.latent_dim),
                          given_latent=given)
    assert torch.equal(track.sample(np.array([1.0]))[0][0], given)
