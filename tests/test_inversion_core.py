"""Inversion internals: refinement recovers the model's own images, quality metrics, face cropping and
detection on a real photo, and the latent file's round trip and model check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_data

from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.inversion import RefineSettings, invert_crops, invert_image, read_latents, write_latent_file
from muybridge.inversion.latent_file import config_sha256
from muybridge.inversion.photo import FACE_MARGIN, Box, crop_box, detect_face, face_crop, load_photo
from muybridge.inversion.quality import psnr, ssim
from muybridge.inversion.tune import TuneSettings, tuned_generator
from muybridge.models.format import read_model_config

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> Generator:
    return Generator.load(tiny_model_dir)


def test_refinement_recovers_images_the_model_drew(tiny: Generator) -> None:
    seeds = [11, 12, 13]
    targets = tiny.generate("cat", seeds)
    guess = tiny.latents(seeds) + 0.5 * torch.randn(3, tiny.latent_dim, generator=torch.Generator().manual_seed(0))
    results = invert_crops(tiny, targets, ["cat"] * 3, RefineSettings(steps=80, lr=0.05), start=guess)
    start = psnr(targets, np.stack([r.encoder_reconstruction for r in results]))
    refined = psnr(targets, np.stack([r.reconstruction for r in results]))
    # Measured: 13.2 / 12.5 / 16.0 dB → 32.2 / 31.0 / 22.0 dB (the third starts in a harder basin).
    assert (refined > 21).all(), refined
    assert (refined > start + 5).all(), (start, refined)
    truth = tiny.latents(seeds)
    for i, result in enumerate(results):  # closer to the true latent, and the reported loss matches the picture
        assert float((result.latent - truth[i]).norm()) < 0.5 * float((guess[i] - truth[i]).norm())
        assert result.losses["refined_psnr"] == pytest.approx(float(psnr(result.crop[None],
                                                                         result.reconstruction[None])[0]), abs=1e-3)


def test_steps_zero_keeps_the_first_guess(tiny: Generator) -> None:
    crops = tiny.generate("dog", [3])
    result = invert_crops(tiny, crops, ["dog"], RefineSettings(steps=0))[0]
    assert torch.equal(result.latent, result.encoder_latent)
    assert np.array_equal(result.reconstruction, result.encoder_reconstruction)
    assert result.side_by_side().shape == (32, 96, 3)


def test_psnr_and_ssim() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(90, 166, size=(2, 8, 8, 3), dtype=np.uint8).repeat(4, axis=1).repeat(4, axis=2)
    noisy = np.clip(image.astype(int) + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    assert psnr(image, image).tolist() == [100.0, 100.0]
    assert ssim(image, image) == pytest.approx([1.0, 1.0])
    assert 20 < psnr(image, noisy).mean() < 24  # σ = 20 → about 22 dB
    assert (ssim(image, noisy) < 0.8).all() and (ssim(image, 255 - image) < 0).all()


def test_crop_box_grows_the_face_and_stays_inside() -> None:
    centred = crop_box((400, 300), Box(150, 100, 100, 100))
    assert (centred.width, centred.left + centred.width / 2, centred.top + centred.height / 2) == \
        pytest.approx((106, 200, 150))
    at_edge = crop_box((400, 300), Box(350, 0, 50, 50))
    assert at_edge.left + at_edge.width == pytest.approx(400) and at_edge.top == 0
    too_big = crop_box((400, 300), Box(0, 0, 400, 300))
    assert too_big.width == 300 and too_big.left == pytest.approx(50)
    assert crop_box((400, 300), None) == Box(50, 0, 300, 300)


def test_cat_face_found_on_a_real_held_out_photo() -> None:
    data = shared_data("cat_faces_64")
    names = (data / "heldout.txt").read_text().split()[:8]
    detected = [(name, detect_face(load_photo(data / name, 32))) for name in names]
    found = [(name, box) for name, box in detected if box is not None]
    assert len(found) >= 5, detected  # the cascade finds most of these tight crops (87% of 150 measured)
    name, box = found[0]
    assert box.width > 0.7 * 64 and abs(box.left + box.width / 2 - 32) < 8  # the face fills the crop
    crop, square, was_detected = face_crop(load_photo(data / name, 32), 64, "cat")
    assert was_detected and crop.shape == (64, 64, 3)
    assert square.width == pytest.approx(min(64, box.width * FACE_MARGIN))


def test_photo_without_a_cat_face_is_refused_with_the_hint(tiny: Generator, tmp_path: Path) -> None:
    flat = np.full((80, 120, 3), 128, dtype=np.uint8)
    with pytest.raises(MuybridgeError, match="no cat face found; pass --no-detect"):
        invert_image(tiny, flat, "cat", steps=0)
    result = invert_image(tiny, flat, "cat", steps=0, detect=False)
    assert not result.detected and result.box == Box(20, 0, 80, 80)


def test_a_crop_box_frames_the_photo_instead_of_detection(tiny: Generator) -> None:
    photo = np.zeros((80, 120, 3), dtype=np.uint8)
    photo[10:50, 70:110] = (200, 40, 10)  # the "face": a red square the cascade cannot find
    result = invert_image(tiny, photo, "cat", steps=0, crop=Box(70, 10, 40, 40))
    assert not result.detected and result.box == Box(70, 10, 40, 40)
    inside = result.crop[3:-3, 3:-3].astype(int)  # the border rings a little: Lanczos reads past the box
    assert (np.abs(inside - (200, 40, 10)) <= 1).all()  # the crop is the square, resized
    with pytest.raises(MuybridgeError, match=r"photo: the crop 90,10,40 \(left, top, side\) must lie inside the "
                                             r"120x80 photo and be at least 16 px"):
        invert_image(tiny, photo, "cat", steps=0, crop=Box(90, 10, 40, 40))
    with pytest.raises(MuybridgeError, match="at least 16 px"):
        invert_image(tiny, photo, "cat", steps=0, crop=Box(0, 0, 8, 8))


def test_latent_file_round_trip_and_model_check(tiny: Generator, tmp_path: Path) -> None:
    results = invert_crops(tiny, tiny.generate("cat", [1, 2]), ["cat", "dog"], RefineSettings(steps=3))
    files = write_latent_file(tmp_path / "pets.json", tiny, results)
    assert [f.name for f in files] == ["pets-0.png", "pets-1.png", "pets.json"]
    data = json.loads((tmp_path / "pets.json").read_text())
    assert data["format"] == "muybridge-latents" and data["model"]["latent_dim"] == 16
    assert data["model"]["config_sha256"] == config_sha256(read_model_config(tiny.path))  # type: ignore[arg-type]
    characters = read_latents(tmp_path / "pets.json", tiny)
    assert [c.class_weights.tolist() for c in characters] == [[1.0, 0.0], [0.0, 1.0]]
    for character, result in zip(characters, results, strict=True):
        assert torch.allclose(character.latent, result.latent)
    assert read_latents(tmp_path / "pets.json", tiny, "dog")[0].class_weights.tolist() == [0.0, 1.0]

    other_dir = shutil.copytree(tiny.path, tmp_path / "other")  # type: ignore[arg-type]
    config = json.loads((other_dir / "config.json").read_text())
    (other_dir / "config.json").write_text(json.dumps({**config, "training": {"kimg": 1}}))
    with pytest.raises(MuybridgeError, match="made with another model"):
        read_latents(tmp_path / "pets.json", Generator.load(other_dir))
    data["model"]["latent_dim"] = 8
    (tmp_path / "small.json").write_text(json.dumps(data))
    with pytest.raises(MuybridgeError, match="latents of size 8"):
        read_latents(tmp_path / "small.json", tiny)
    (tmp_path / "junk.json").write_text("{\"format\": \"something-else\"}")
    with pytest.raises(MuybridgeError, match="not a muybridge latent file"):
        read_latents(tmp_path / "junk.json", tiny)


def test_each_stage_lowers_the_error_of_a_photo_the_model_cannot_draw(tiny: Generator) -> None:
    """A 'photo' outside the tiny model's range (another model's picture, a new colour scheme): the encoder's
    guess, the refined latent and the tuned decoder come successively closer, and the tuned decoder still draws
    other characters nearly as before (the locality term)."""
    photo = np.ascontiguousarray(tiny.generate("cat", [21])[:, :, :, ::-1])  # BGR: colours the model never drew
    result = invert_crops(tiny, photo, ["cat"], RefineSettings(steps=40), tune=TuneSettings(steps=120))[0]
    errors = [float(np.abs(stage.astype(int) - photo[0].astype(int)).mean())
              for stage in (result.encoder_reconstruction, result.refined_reconstruction, result.reconstruction)]
    assert errors[0] > errors[1] > errors[2], errors
    assert result.losses["tuned_psnr"] > result.losses["refined_psnr"] + 3
    tuned = tuned_generator(tiny, result.delta)  # type: ignore[arg-type]
    others = [31, 32, 33, 34]
    assert psnr(tiny.generate("dog", others), tuned.generate("dog", others)).mean() > 20
    assert result.side_by_side().shape == (32, 128, 3)


def test_a_delta_for_another_decoder_is_refused_in_one_line(tiny: Generator) -> None:
    delta = {name: torch.zeros(3, 3) for name in list(tiny.decoder.state_dict())[:1]}
    with pytest.raises(MuybridgeError, match=r"pet\.tuned\.safetensors: tensor .* does not fit this decoder"):
        tuned_generator(tiny, delta, "pet.tuned.safetensors")
