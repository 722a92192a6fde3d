"""`muybridge invert` and `animate ... --from-latent` end to end through the real entry point, and their
one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runner import invoke, run_cli
from PIL import Image

from muybridge.generator import Generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pet_json(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A latent file of two 'photos': pictures the tiny model drew, padded to a wider frame."""
    folder = tmp_path_factory.mktemp("pets")
    pictures = Generator.load(tiny_model_dir).generate("cat", [4, 5])
    for i, picture in enumerate(pictures):
        Image.fromarray(np.pad(picture, ((0, 0), (6, 6), (0, 0)), mode="edge")).save(folder / f"pet{i}.png")
    with pytest.MonkeyPatch.context() as monkeypatch:
        code = invoke(["invert", str(folder / "pet0.png"), str(folder / "pet1.png"), "-m", str(tiny_model_dir),
                       "--no-detect", "--steps", "5", "--out", str(folder / "pets.json")], monkeypatch)
    assert code == 0
    return folder / "pets.json"


def test_invert_writes_latents_and_previews(pet_json: Path) -> None:
    data = json.loads(pet_json.read_text())
    assert data["format"] == "muybridge-latents" and data["format_version"] == 1
    assert data["model"]["name"] == "tiny" and len(data["model"]["config_sha256"]) == 64
    assert [Path(entry["source"]).name for entry in data["latents"]] == ["pet0.png", "pet1.png"]
    for entry in data["latents"]:
        assert entry["class"] == "cat" and len(entry["latent"]) == 16 and len(entry["encoder_latent"]) == 16
        assert entry["detected"] is False and entry["face_box"] == [6.0, 0.0, 32.0, 32.0]  # the centre square
        assert entry["losses"]["refined_l1"] <= entry["losses"]["encoder_l1"]
        assert entry["losses"]["tuned_psnr"] > entry["losses"]["refined_psnr"] + 3  # the default tunes the decoder
        with Image.open(pet_json.parent / entry["preview"]) as preview:
            assert preview.size == (128, 32)  # photo | encoder | refined | tuned
    tuned = pet_json.parent / data["tuned_decoder"]["file"]
    assert tuned.name == "pets.tuned.safetensors" and tuned.is_file()


def test_generate_from_latent_draws_the_tuned_reconstruction(pet_json: Path, tiny_model_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run_cli(["generate", "--from-latent", str(pet_json), "-m", str(tiny_model_dir), "-o",
                          str(tmp_path / "pets.png")], monkeypatch, capsys)
    assert code == 0 and "2 images" in " ".join(text.split()), text
    drawn = np.asarray(Image.open(tmp_path / "pets.png"))
    for i in range(2):
        preview = np.asarray(Image.open(pet_json.with_name(f"pets-{i}.png")))
        assert np.abs(drawn[:, 32 * i : 32 * (i + 1)].astype(int) - preview[:, 96:].astype(int)).max() <= 1


def test_fast_fidelity_writes_no_tuned_decoder(tiny_model_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(Generator.load(tiny_model_dir).generate("cat", 4)[0]).save(tmp_path / "pet.png")
    code = invoke(["invert", str(tmp_path / "pet.png"), "-m", str(tiny_model_dir), "--no-detect", "--fidelity",
                   "fast", "--steps", "5", "--out", str(tmp_path / "pet.json")], monkeypatch)
    assert code == 0 and "tuned_decoder" not in json.loads((tmp_path / "pet.json").read_text())
    assert not (tmp_path / "pet.tuned.safetensors").exists()
    with Image.open(tmp_path / "pet-0.png") as preview:
        assert preview.size == (96, 32)


def test_animate_every_mode_from_latent(pet_json: Path, tiny_model_dir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    model = ["-m", str(tiny_model_dir)]
    code, text = run_cli(["animate", "loop", "--from-latent", str(pet_json), "--frames", "4", "-o",
                      str(tmp_path / "pet.gif"), *model], monkeypatch, capsys)
    assert code == 0, text
    with Image.open(tmp_path / "pet.gif") as gif:
        assert gif.n_frames == 4 and gif.size == (32, 32)
    commands = [
        ["animate", "morph", "--from-latent", str(pet_json), "dog", "--frames", "3", "-o", str(tmp_path / "m")],
        ["animate", "morph", "--from-latent", str(pet_json), "--index", "1", "dog:3", "--frames", "3", "-o",
         str(tmp_path / "m3")],
        ["animate", "walk", "--from-latent", str(pet_json), "cat:2", "dog", "--frames", "3", "-o",
         str(tmp_path / "w")],
        ["animate", "motion", "dog", "--from-latent", str(pet_json), "--frames", "3", "--grid", "1x2", "-o",
         str(tmp_path / "mo")],
    ]
    for argv in commands:
        code, text = run_cli([*argv, *model], monkeypatch, capsys)
        assert code == 0, f"{argv}: {text}"
    keys = tmp_path / "keys.yaml"
    keys.write_text("- {time: 0, class: cat}\n- {time: 0.5, class: dog, seed: 4}\n")
    code, text = run_cli(["animate", "timeline", str(keys), "--from-latent", str(pet_json), "--fps", "4", "-o",
                      str(tmp_path / "t"), *model], monkeypatch, capsys)
    assert code == 0, text
    preview = np.asarray(Image.open(pet_json.with_name("pets-0.png")))
    for folder in ("m", "t"):  # frame 0 is the pet as the tuned decoder draws it
        first = np.asarray(Image.open(sorted((tmp_path / folder).iterdir())[0]))
        assert np.abs(first.astype(int) - preview[:, 96:].astype(int)).max() <= 1, folder
    motion_frame = sorted((tmp_path / "mo").iterdir())[0]
    assert Image.open(motion_frame).size == (64, 32)  # two cells: both pets


def bad_cases(tmp: Path, pet_json: Path, other_model: Path) -> list[tuple[list[str], str]]:
    (tmp / "notes.jpg").write_text("not a picture")
    Image.new("RGB", (10, 12), "white").save(tmp / "tiny.png")
    Image.new("RGB", (120, 90), (128, 128, 128)).save(tmp / "wall.png")
    return [
        (["invert", str(tmp / "notes.jpg"), "--out", str(tmp / "o.json")], "notes.jpg: not a recognised image"),
        (["invert", str(tmp / "tiny.png"), "--out", str(tmp / "o.json")], "tiny.png: too small (10x12"),
        (["invert", str(tmp / "wall.png"), "--out", str(tmp / "o.json")], "no cat face found; pass --no-detect"),
        (["invert", str(tmp / "missing.jpg"), "--out", str(tmp / "o.json")], "missing.jpg: cannot read"),
        (["invert", str(tmp / "wall.png"), "--crop", "1,2", "--out", str(tmp / "o.json")],
         "--crop 1,2: give LEFT,TOP,SIDE of a square in photo pixels"),
        (["invert", str(tmp / "wall.png"), "--crop", "100,0,60", "--out", str(tmp / "o.json")],
         "wall.png: the crop 100,0,60 (left, top, side) must lie inside the 120x90 photo"),
        (["invert", str(tmp / "wall.png"), str(tmp / "wall.png"), "--crop", "0,0,60", "--out", str(tmp / "o.json")],
         "--crop frames one photo, and 2 were given"),
        (["invert", str(tmp / "wall.png"), "--out", str(tmp / "o.txt")], "must end in .json"),
        (["invert", str(tmp / "wall.png"), "--class", "cow", "--out", str(tmp / "o.json")], "unknown class 'cow'"),
        (["animate", "loop", "--from-latent", str(pet_json), "-o", str(tmp / "a.gif"), "-m", str(other_model)],
         "made with another model"),
        (["animate", "loop", "--from-latent", str(pet_json), "--index", "5", "-o", str(tmp / "a.gif")],
         "--index 5 is out of range"),
        (["animate", "loop", "cat:3", "--from-latent", str(pet_json), "-o", str(tmp / "a.gif")], "takes no seed"),
        (["animate", "morph", "--from-latent", str(tmp / "wall.png"), "dog", "-o", str(tmp / "a.gif")],
         "not a readable latent file"),
        (["animate", "loop", "-o", str(tmp / "a.gif")], "or give --from-latent"),
        (["animate", "loop", "--from-latent", str(_claiming(tmp, pet_json, other_model)), "-o", str(tmp / "a.gif"),
          "-m", str(other_model)], "tunes another model ('tiny'"),
        (["animate", "loop", "--from-latent", str(_swapped_delta(tmp, pet_json)), "-o", str(tmp / "a.gif")],
         "is not the tuned decoder"),
        (["invert", str(tmp / "wall.png"), "--fidelity", "perfect", "--out", str(tmp / "o.json")],
         "fidelity perfect: choose fast, balanced, exact"),
    ]


def _claiming(tmp: Path, pet_json: Path, other_model: Path) -> Path:
    """The pet file relabelled as another model's (its identity edited), its tuned decoder still the tiny one's:
    the delta's own binding must refuse it."""
    from muybridge.inversion.latent_file import model_identity

    folder = tmp / "claiming"
    folder.mkdir()
    data = json.loads(pet_json.read_text())
    data["model"] = model_identity(Generator.load(other_model))
    (folder / "pets.json").write_text(json.dumps(data))
    shutil.copy(pet_json.with_name("pets.tuned.safetensors"), folder)
    return folder / "pets.json"


def _swapped_delta(tmp: Path, pet_json: Path) -> Path:
    folder = tmp / "swapped"
    folder.mkdir()
    shutil.copy(pet_json, folder)
    delta = pet_json.with_name("pets.tuned.safetensors").read_bytes()
    (folder / "pets.tuned.safetensors").write_bytes(delta[:-4] + b"\0\0\0\0")
    return folder / "pets.json"


def test_bad_input_gives_one_line(pet_json: Path, tiny_model_dir: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    other = shutil.copytree(tiny_model_dir, tmp_path / "other")
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "training": {"kimg": 2}}))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for argv, message in bad_cases(inputs, pet_json, other):
        if "-m" not in argv:
            argv += ["-m", str(tiny_model_dir)]
        before = sorted(p.name for p in inputs.iterdir())
        code, text = run_cli(argv, monkeypatch, capsys)
        assert code == 2, (argv, text)
        assert text.startswith("error: ") and message in text and text.count("\n") == 1, (argv, text)
        assert "Traceback" not in text
        assert sorted(p.name for p in inputs.iterdir()) == before  # nothing written


def test_help_has_examples(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run_cli(["invert", "--help"], monkeypatch, capsys)
    assert code == 0 and "Example: muybridge invert" in text and "--no-detect" in text
