"""The pinned Inception network: locating, hash refusal, TF1 resize, and the rebuilt network's agreement."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SPRITES
from PIL import Image, ImageFilter

from muybridge.errors import MuybridgeError
from muybridge.files import file_sha256
from muybridge.metrics import inception
from muybridge.metrics.features import extract_features
from muybridge.metrics.scores import fid


def _tf1_resize_reference(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF 1.x ``resize_bilinear(align_corners=False)`` written out pixel by pixel (resize_bilinear_op.cc)."""
    in_h, in_w = image.shape
    out = np.empty((out_h, out_w))
    for y in range(out_h):
        src_y = y * in_h / out_h
        y0 = int(np.floor(src_y))
        y1, dy = min(y0 + 1, in_h - 1), src_y - y0
        for x in range(out_w):
            src_x = x * in_w / out_w
            x0 = int(np.floor(src_x))
            x1, dx = min(x0 + 1, in_w - 1), src_x - x0
            top = image[y0, x0] + (image[y0, x1] - image[y0, x0]) * dx
            bottom = image[y1, x0] + (image[y1, x1] - image[y1, x0]) * dx
            out[y, x] = top + (bottom - top) * dy
    return out


@pytest.mark.parametrize(("in_h", "in_w", "out_h", "out_w"), [(32, 45, 299, 299), (9, 5, 13, 3)])
def test_resize_matches_tensorflow1_bilinear(in_h: int, in_w: int, out_h: int, out_w: int) -> None:
    image = np.random.default_rng(0).uniform(0, 255, size=(in_h, in_w))
    rows, cols = inception.tf1_bilinear_matrix(in_h, out_h), inception.tf1_bilinear_matrix(in_w, out_w)
    ours = (rows.double() @ torch.from_numpy(image) @ cols.double().T).numpy()
    assert np.allclose(ours, _tf1_resize_reference(image, out_h, out_w), atol=1e-3)


def test_prepare_input_scales_like_the_tf_graph() -> None:
    pixels = np.full((1, 299, 299, 3), 255, dtype=np.uint8)
    pixels[0, 0, 0] = 0
    x = inception.prepare_input(pixels)
    assert x.shape == (1, 3, 299, 299)
    assert float(x.max()) == pytest.approx(255 / 128 - 1) and float(x.min()) == -1.0


def test_tampered_network_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tampered = tmp_path / "default_1.pt"
    shutil.copyfile(inception.locate_network(), tampered)
    with open(tampered, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv(inception.NETWORK_ENV, str(tampered))
    with pytest.raises(MuybridgeError) as caught:
        inception.load_inception()
    message = str(caught.value)
    assert str(tampered) in message and inception.PINNED_SHA256 in message
    assert file_sha256(tampered) in message


def test_missing_package_says_make_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(inception.NETWORK_ENV, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MuybridgeError, match="make setup"):
        inception.locate_network()


def test_rebuilt_network_agrees_with_the_scripted_file() -> None:
    network = inception.load_inception()
    scripted = inception.load_scripted(network.path)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 48, 48, 3), dtype=np.uint8)
    x = inception.prepare_input(images)
    with torch.inference_mode():
        ours, theirs = network(x), scripted(x.contiguous())
    assert ours.shape == (2, inception.FEATURE_DIM)
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)
    assert inception.load_inception() is network  # built once per process


def _sprites(count: int, size: int = 64) -> list[Image.Image]:
    files = sorted(SPRITES.glob("*.png"))[:count]
    return [Image.open(f).convert("RGBA").resize((size, size), Image.Resampling.NEAREST) for f in files]


def _flatten(images: list[Image.Image]) -> np.ndarray:
    out = []
    for image in images:
        canvas = Image.new("RGBA", image.size, (128, 128, 128, 255))
        out.append(np.asarray(Image.alpha_composite(canvas, image).convert("RGB")))
    return np.stack(out)


@pytest.mark.slow
def test_fid_rises_with_blur_and_noise() -> None:
    """Real images through the real network: stronger degradation, larger FID (few images: keep it < 60 s)."""
    originals = _sprites(16)
    reference = extract_features(_flatten(originals))
    rng = np.random.default_rng(0)
    scores = []
    for level in (1, 4):
        blurred = [image.filter(ImageFilter.GaussianBlur(level)) for image in originals]
        degraded = _flatten(blurred).astype(float)
        degraded += rng.normal(0, 6 * level, degraded.shape)
        scores.append(fid(reference, extract_features(degraded.clip(0, 255).astype(np.uint8))))
    assert 1.0 < scores[0] < scores[1], scores
