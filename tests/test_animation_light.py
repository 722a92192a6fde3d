"""The torch-free animate verbs: the seed rule without torch, the loop's circle, and `muybridge animate loop`, `walk`,
`morph`, `motion`, `character` and `timeline` drawn by onnxruntime from the cached graphs, as torch draws them (and by
torch where the graph is not cached)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import run_cli
from PIL import Image

from muybridge import files
from muybridge.animation.circle import loop_latents, loop_plane
from muybridge.animation.modes import animate_to_file, loop_builder, morph_builder, pose_builder, walk_builder
from muybridge.animation.options import AnimationOptions
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.keys import character_key, normal_draws, seed_latents


@pytest.mark.parametrize("count", [16, 17, 40, 128, 256])
def test_the_seed_rule_is_what_torch_randn_draws(count: int) -> None:
    for seed in (0, 7, 2**31 - 1):
        drawn = torch.randn(count, generator=torch.Generator().manual_seed(seed)).numpy()
        np.testing.assert_allclose(normal_draws(seed, count), drawn, rtol=0, atol=1e-6)


def test_a_latent_shorter_than_a_block_is_the_start_of_one() -> None:
    assert normal_draws(5, 7).tolist() == normal_draws(5, 16)[:7].tolist()
    assert seed_latents([3, 4], 7).shape == (2, 7) and not np.array_equal(*seed_latents([3, 4], 7))


def test_the_generator_draws_seeds_by_the_rule(tiny_model_dir: Path) -> None:
    generator = Generator.load(tiny_model_dir)
    assert np.array_equal(generator.latents([2, 9]).numpy(), seed_latents([2, 9], generator.latent_dim))


def test_the_loop_circle_keeps_the_norm_and_comes_back() -> None:
    centre = seed_latents([11], 64)[0]
    plane = loop_plane(centre, 11)
    np.testing.assert_allclose(plane @ plane.T, np.eye(2), atol=1e-5)
    np.testing.assert_allclose(plane @ centre, 0, atol=1e-4)
    latents = loop_latents(centre, plane, 2.0, np.array([0.0, 0.25, 0.5, 1.0]))
    np.testing.assert_allclose(np.linalg.norm(latents, axis=1), np.linalg.norm(centre), rtol=1e-5)
    np.testing.assert_allclose(latents[0], latents[-1], atol=1e-5)
    assert np.linalg.norm(latents[2] - latents[0]) > 1.0  # it moves: halfway round is across the circle


@pytest.fixture
def cached(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny model whose graphs (plain and pose) are in a fresh cache folder."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'muybridge[onnx]')")
    from muybridge.engines.onnx import cache_runtime_graphs

    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    written = cache_runtime_graphs(Generator.load(folder))
    assert len(written) == 2 and all(path.is_file() for path in written)
    return folder


#: Runs the CLI with the arguments after ``-c SCRIPT``, then prints whether torch was imported.
NO_TORCH_SCRIPT = ("import sys\nfrom muybridge.cli import main\nsys.argv = sys.argv[1:]\ntry:\n    main()\n"
                   "except SystemExit as done:\n    assert not done.code, done.code\nprint('torch' in sys.modules)")


def run_cli_process(*args: str) -> str:
    """``muybridge ARGS`` in a fresh process: its output, which ends with whether it imported torch."""
    done = subprocess.run([sys.executable, "-c", NO_TORCH_SCRIPT, "muybridge", *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())  # the console wraps long lines


def frames_of(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(path)) for path in sorted(folder.glob("frame_*.png"))]).astype(int)


def test_the_light_loop_draws_what_torch_draws(cached: Path, tmp_path: Path) -> None:
    from muybridge.animation.light import light_loop

    options = AnimationOptions(frames=12, grid="1x2", size=40, truncation=0.8, radius=3.0)
    draw = light_loop(cached, character_key("cat*0.3+dog*0.7:5"), tmp_path / "light", options)
    assert draw is not None
    rendered = draw(None)
    assert (rendered.frames, rendered.width, rendered.height) == (12, 80, 40)
    animate_to_file(Generator.load(cached, precision="fp32"), loop_builder("cat*0.3+dog*0.7:5", radius=3.0),
                    tmp_path / "torch", options)
    light, torch_drawn = frames_of(tmp_path / "light"), frames_of(tmp_path / "torch")
    assert light.shape == torch_drawn.shape == (12, 40, 80, 3)
    assert np.abs(light - torch_drawn).max() <= 1 and np.abs(light[0] - light[6]).mean() > 1


@pytest.mark.parametrize(("keys", "values"), [
    (("cat:1", "dog:2", "cat*0.5+dog*0.5:3"), {"loop": True, "easing": "cubic", "grid": "2x1"}),
    (("cat:4", "dog:9"), {"interpolation": "lerp", "easing": "linear", "truncation": 0.7}),
])
def test_the_light_walk_draws_what_torch_draws(cached: Path, tmp_path: Path, keys: tuple[str, ...],
                                               values: dict[str, object]) -> None:
    from muybridge.animation.light import light_walk

    options = AnimationOptions(frames=9, size=40, **values)  # type: ignore[arg-type]
    draw = light_walk(cached, [character_key(key) for key in keys], tmp_path / "light", options)
    assert draw is not None
    draw(None)
    torch_walk = walk_builder(keys, options.loop, options.easing, options.interpolation)
    animate_to_file(Generator.load(cached, precision="fp32"), torch_walk, tmp_path / "torch", options)
    light, torch_drawn = frames_of(tmp_path / "light"), frames_of(tmp_path / "torch")
    rows = 2 if options.grid == "2x1" else 1
    assert light.shape == torch_drawn.shape == (9, 40 * rows, 40, 3)
    assert np.abs(light - torch_drawn).max() <= 1 and np.abs(light[0] - light[4]).mean() > 1
    if options.loop:  # back towards the first key: the last frame is one step before it
        assert np.abs(light[-1] - light[0]).mean() < np.abs(light[4] - light[0]).mean()


def test_the_cli_morph_motion_and_walk_run_without_torch(cached: Path, tmp_path: Path) -> None:
    """`morph cat:3 dog` is the dog of seed 3, as torch draws it; torch is never imported by any of the four."""
    for verb in (["morph", "cat:3", "dog"], ["motion", "cat:3", "--motion", "nod"], ["walk", "cat:1", "dog:2"],
                 ["motion", "cat:3", "--direction", "ganspace:1"]):
        out = tmp_path / "-".join(verb)
        printed = run_cli_process("animate", *verb, "-m", str(cached), "--frames", "6", "-o", str(out))
        assert printed.endswith("False"), verb
    animate_to_file(Generator.load(cached, precision="fp32"), morph_builder("cat:3", "dog"), tmp_path / "torch",
                    AnimationOptions(frames=6))
    light, torch_drawn = frames_of(tmp_path / "morph-cat:3-dog"), frames_of(tmp_path / "torch")
    assert light.shape == (6, 32, 32, 3) and np.abs(light - torch_drawn).max() <= 1
    drawn = [frames_of(tmp_path / name) for name in ("motion-cat:3---motion-nod", "walk-cat:1-dog:2",
                                                      "motion-cat:3---direction-ganspace:1")]
    assert all(frames.shape == (6, 32, 32, 3) for frames in drawn)


def test_the_light_motion_draws_what_torch_draws(cached: Path, tmp_path: Path) -> None:
    """The model's own strength for the move (motions.json) times --strength, on a grid of two seeds."""
    from muybridge.animation.light import light_motion

    (cached / "motions.json").write_text('{"motions": {"look-left": {"strength": 1.5}}}')
    options = AnimationOptions(frames=10, grid="1x2", size=40, motion="look-left", strength=0.8)
    draw = light_motion(cached, character_key("dog:6"), tmp_path / "light", options)
    assert draw is not None
    draw(None)
    torch_move = pose_builder("dog:6", "look-left", strength=0.8)
    animate_to_file(Generator.load(cached, precision="fp32"), torch_move, tmp_path / "torch", options)
    light, torch_drawn = frames_of(tmp_path / "light"), frames_of(tmp_path / "torch")
    assert light.shape == torch_drawn.shape == (10, 40, 80, 3)
    assert np.abs(light - torch_drawn).max() <= 1 and np.abs(light[0] - light[3]).mean() > 0.5


@pytest.mark.parametrize(("direction", "values"), [
    ("nod", {"amplitude": 2.5, "grid": "1x2"}),  # named beside the model
    ("ganspace:3", {"amplitude": -4.0, "cycles": 2, "truncation": 0.8}),  # carried in the graph
])
def test_the_light_swing_along_a_direction_draws_what_torch_draws(cached: Path, tmp_path: Path, direction: str,
                                                                   values: dict[str, object]) -> None:
    """`animate motion --direction`: named, or among the strongest the graph carries, drawn without torch as torch
    draws it; an index beyond those is left to torch, an unknown name refused in one line."""
    from muybridge.animation.directions import name_direction
    from muybridge.animation.light import light_motion
    from muybridge.animation.modes import motion_builder
    from muybridge.animation.options import TOP_DIRECTIONS

    generator = Generator.load(cached, precision="fp32")
    name_direction(generator, "sefa:1", "nod")
    options = AnimationOptions(frames=8, size=40, direction=direction, **values)  # type: ignore[arg-type]
    draw = light_motion(cached, character_key("cat:3"), tmp_path / "light", options)
    assert draw is not None
    draw(None)
    torch_swing = motion_builder("cat:3", direction, amplitude=options.amplitude, cycles=options.cycles)
    animate_to_file(generator, torch_swing, tmp_path / "torch", options)
    light, torch_drawn = frames_of(tmp_path / "light"), frames_of(tmp_path / "torch")
    assert light.shape == torch_drawn.shape and light.shape[0] == 8
    assert np.abs(light - torch_drawn).max() <= 1 and np.abs(light[0] - light[1]).mean() > 0.5
    beyond = options.replace(direction=f"sefa:{TOP_DIRECTIONS}")
    assert light_motion(cached, ("cat", 3), tmp_path / "x.gif", beyond) is None
    with pytest.raises(MuybridgeError, match="unknown direction 'wag'; known: nod"):
        light_motion(cached, ("cat", 3), tmp_path / "x.gif", options.replace(direction="wag"))


def test_the_light_character_pack_draws_what_torch_draws(cached: Path, tmp_path: Path) -> None:
    """Every motion's row of the sheet within a grey level of torch's pack, the model's own strength included; the
    same tags and facts; and through the CLI, in a process that never imports torch."""
    import json

    from muybridge.animation.light import light_character
    from muybridge.animation.modes import Animation
    from muybridge.animation.pack import character_pack

    (cached / "motions.json").write_text('{"motions": {"nod": {"strength": 1.4}}}')
    options, motions = AnimationOptions(frames=6, size=40, strength=0.9, truncation=0.8), ["nod", "look-left"]
    draw = light_character(cached, character_key("dog:4"), tmp_path / "light", options, motions)
    assert draw is not None
    light_pack = draw(None)
    character_pack(Generator.load(cached, precision="fp32"), Animation("motion", ("dog:4",)), tmp_path / "torch",
                   options, motions)
    sheets = [np.asarray(Image.open(tmp_path / name / "sheet.png").convert("RGB")).astype(int)
              for name in ("light", "torch")]
    assert sheets[0].shape == sheets[1].shape == (2 * 40, 6 * 40, 3) and light_pack.motions == tuple(motions)
    assert np.abs(sheets[0] - sheets[1]).max() <= 1 and np.abs(sheets[0][:40] - sheets[0][40:]).mean() > 0.5
    facts = [json.loads((tmp_path / name / "character.json").read_text()) for name in ("light", "torch")]
    assert facts[0] == facts[1] and facts[0]["character"] == "dog:4" and facts[0]["model"] == "tiny"
    assert run_cli_process("animate", "character", "cat:2", "-m", str(cached), "--frames", "4", "--motions",
                           "nod,tilt", "-o", str(tmp_path / "cli")).endswith("False")
    assert Image.open(tmp_path / "cli" / "sheet.png").size == (4 * 32, 2 * 32)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(MuybridgeError, match="other: folder holds other files"):
        light_character(cached, ("cat", 0), tmp_path / "other", options, motions)
    with pytest.raises(MuybridgeError, match="grid"):
        light_character(cached, ("cat", 0), tmp_path / "x", options.replace(grid="2x1"), motions)


def test_the_light_timeline_draws_what_torch_draws(cached: Path, tmp_path: Path) -> None:
    """Keys at uneven times with their own easings, a class mix, lerp, a grid of two (seeds + 1), offsets along
    directions the graph carries; keyframes offset along others or without a seed are left to torch; an unknown class
    or direction names the file and the key."""
    from muybridge.animation.light import light_timeline
    from muybridge.animation.modes import Animation
    from muybridge.animation.timeline import read_timeline

    keys = tmp_path / "keys.yaml"
    keys.write_text("interpolation: lerp\nkeyframes:\n"
                    "  - {time: 0, class: cat, seed: 2, easing: linear}\n"
                    "  - {time: 0.25, class: {cat: 0.5, dog: 0.5}, seed: 5, easing: cubic}\n"
                    "  - {time: 1, class: dog, seed: 9}\n")
    timeline = read_timeline(keys)
    options = AnimationOptions(fps=8, grid="1x2", size=40, truncation=0.9)
    draw = light_timeline(cached, timeline, tmp_path / "light", options)
    assert draw is not None
    assert draw(None).frames == 9  # 1 s at 8 fps, both ends
    animate_to_file(Generator.load(cached, precision="fp32"), Animation("timeline", (), None, timeline),
                    tmp_path / "torch", options)
    light, torch_drawn = frames_of(tmp_path / "light"), frames_of(tmp_path / "torch")
    assert light.shape == torch_drawn.shape == (9, 40, 80, 3)
    assert np.abs(light - torch_drawn).max() <= 1 and np.abs(light[0] - light[-1]).mean() > 1

    keys.write_text("- {time: 0, class: cat, seed: 1, directions: {'0': 1.5, 'ganspace:2': -1}}\n"
                    "- {time: 1, class: dog, seed: 4}\n")  # offsets along directions the graph carries
    draw = light_timeline(cached, read_timeline(keys), tmp_path / "offsets", options)
    assert draw is not None
    draw(None)
    animate_to_file(Generator.load(cached, precision="fp32"), Animation("timeline", (), None, read_timeline(keys)),
                    tmp_path / "torch-offsets", options)
    light, torch_drawn = frames_of(tmp_path / "offsets"), frames_of(tmp_path / "torch-offsets")
    assert np.abs(light - torch_drawn).max() <= 1
    assert np.abs(light[0] - frames_of(tmp_path / "light")[0]).mean() > 1  # the offset moved the first key

    from muybridge.animation.options import TOP_DIRECTIONS

    for extra in (f"seed: 2, directions: {{'sefa:{TOP_DIRECTIONS}': 1.5}}", "easing: linear"):  # not carried; no seed
        keys.write_text(f"- {{time: 0, class: cat, seed: 1}}\n- {{time: 1, class: dog, {extra}}}\n")
        assert light_timeline(cached, read_timeline(keys), tmp_path / "x.gif", options) is None
    keys.write_text("- {time: 0, class: cat, seed: 1}\n- {time: 1, class: dog, seed: 2, directions: {wag: 1}}\n")
    with pytest.raises(MuybridgeError, match=r"keys.yaml: keyframes\[1\].directions.wag: unknown direction"):
        light_timeline(cached, read_timeline(keys), tmp_path / "x.gif", options)
    keys.write_text("- {time: 0, class: cat, seed: 1}\n- {time: 1, class: cta, seed: 2}\n")
    with pytest.raises(MuybridgeError, match=r"keys.yaml: keyframes\[1\].class: unknown class 'cta'"):
        light_timeline(cached, read_timeline(keys), tmp_path / "x.gif", options)
    keys.write_text("- {time: 0, class: cat, seed: 1}\n- {time: 0.5, class: dog, seed: 2}\n")
    printed = run_cli_process("animate", "timeline", str(keys), "-m", str(cached), "--fps", "8", "-o",
                              str(tmp_path / "cli"))
    assert printed.endswith("False") and frames_of(tmp_path / "cli").shape == (5, 32, 32, 3)


def test_the_cli_loop_runs_without_torch_once_the_graph_is_cached(cached: Path, tmp_path: Path) -> None:
    output = tmp_path / "cat.gif"
    printed = run_cli_process("animate", "loop", "cat:3", "-m", str(cached), "--frames", "8", "-o", str(output))
    assert printed.endswith("False") and f"wrote {output} (8 frames, 32x32, 24 fps)" in printed
    assert Image.open(output).n_frames == 8


def test_without_a_cached_graph_torch_draws_the_loop(tiny_model_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from muybridge.animation.light import light_loop

    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "empty"))
    assert light_loop(tiny_model_dir, ("cat", 3), tmp_path / "x.gif", AnimationOptions(frames=4)) is None
    assert light_loop(tmp_path, ("cat", 3), tmp_path / "x.gif", AnimationOptions(frames=4)) is None  # no model here
    code, printed = run_cli(["animate", "loop", "cat:3", "-m", str(tiny_model_dir), "--frames", "4",
                             "-o", str(tmp_path / "x.gif")], monkeypatch, capsys)
    assert code == 0 and Image.open(tmp_path / "x.gif").n_frames == 4, printed


def test_the_status_says_which_way_the_verbs_draw(cached: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from muybridge.engines.runtime import runtime_status

    assert runtime_status(cached) == runtime_status(cached, pose=True) == "without torch (its graph is cached)"
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "empty"))
    assert runtime_status(cached).startswith(f"with torch (to start about 2 s sooner: muybridge export-onnx {cached}")


def test_a_pose_graph_already_exported_is_copied_into_the_cache(cached: Path, tmp_path: Path) -> None:
    """The web page's pose graph becomes the pose entry as it is, not exported again (the demo does this)."""
    from muybridge.engines.onnx import cache_runtime_graphs
    from muybridge.engines.web import MODEL_FILE, export_web

    generator = Generator.load(cached)
    page = export_web(generator, tmp_path / "web")
    plain, posed = cache_runtime_graphs(generator, pose_graph=page / MODEL_FILE)
    assert posed.read_bytes() == (page / MODEL_FILE).read_bytes() and posed.name.endswith("-pose.onnx")
    assert plain.read_bytes() != posed.read_bytes()


def test_a_damaged_cache_entry_leaves_the_loop_to_torch(cached: Path, tmp_path: Path) -> None:
    from muybridge.animation.light import light_loop
    from muybridge.engines.runtime import runtime_graph_path

    runtime_graph_path(cached).write_bytes(b"not a graph")
    assert light_loop(cached, ("cat", 3), tmp_path / "x.gif", AnimationOptions(frames=4)) is None


def test_a_changed_model_is_not_drawn_by_its_old_graph(cached: Path) -> None:
    from muybridge.engines.runtime import open_runtime, runtime_graph_path

    before = runtime_graph_path(cached)
    config = cached / "config.json"
    config.write_text(config.read_text().replace('"tiny"', '"tiny-2"'))
    assert runtime_graph_path(cached) != before and open_runtime(cached) is None


def test_a_copied_unnamed_model_is_called_by_its_own_folder(cached: Path, tmp_path: Path) -> None:
    """Graphs are cached by content: a copy of an unnamed model shares its first folder's graph, and its packs and
    pages still carry the copy's name, as torch's do."""
    import json

    from muybridge.engines.onnx import cache_runtime_graphs
    from muybridge.engines.runtime import open_runtime

    unnamed = tmp_path / "first-pet"
    shutil.copytree(cached, unnamed)
    config = json.loads((unnamed / "config.json").read_text())
    del config["name"]
    (unnamed / "config.json").write_text(json.dumps(config))
    cache_runtime_graphs(Generator.load(unnamed))
    copy = tmp_path / "second-pet"
    shutil.copytree(unnamed, copy)
    runtimes = [open_runtime(folder, pose=True) for folder in (unnamed, copy)]
    assert [runtime.name for runtime in runtimes if runtime is not None] == ["first-pet", "second-pet"]
    assert Generator.load(copy).name == "second-pet" and open_runtime(cached).name == "tiny"  # type: ignore[union-attr]


def test_bad_input_is_refused_in_one_line_before_drawing(cached: Path, tmp_path: Path) -> None:
    from muybridge.animation.light import light_loop, light_walk

    with pytest.raises(MuybridgeError, match="unknown class 'cta'; did you mean 'cat'"):
        light_loop(cached, ("cta", 0), tmp_path / "x.gif", AnimationOptions(frames=4))
    with pytest.raises(MuybridgeError, match="unknown output format '.avi'"):
        light_loop(cached, ("cat", 0), tmp_path / "x.avi", AnimationOptions(frames=4))
    with pytest.raises(MuybridgeError, match="radius"):
        light_loop(cached, ("cat", 0), tmp_path / "x.gif", AnimationOptions(frames=4, radius=500))
    with pytest.raises(MuybridgeError, match="a walk needs at least two keys, got 1"):
        light_walk(cached, [("cat", 0)], tmp_path / "x.gif", AnimationOptions(frames=4))
    with pytest.raises(MuybridgeError, match="unknown class 'cta'"):
        light_walk(cached, [("cat", 0), ("cta", 1)], tmp_path / "x.gif", AnimationOptions(frames=4))
    with pytest.raises(MuybridgeError, match="unknown easing 'bounce'"):
        light_walk(cached, [("cat", 0), ("dog", 1)], tmp_path / "x.gif", AnimationOptions(frames=4, easing="bounce"))
    huge = AnimationOptions(frames=1441, grid="16x16", size=4096)
    for draw in (light_loop(cached, ("cat", 0), tmp_path / "x.gif", huge),
                 light_walk(cached, [("cat", 0), ("dog", 1)], tmp_path / "x.gif", huge)):
        assert draw is not None
        with pytest.raises(MuybridgeError, match="the limit is 1 GiB"):
            draw(None)
    assert not list(tmp_path.glob("x.*"))
