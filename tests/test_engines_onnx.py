"""The decoder as ONNX: opset 15, its metadata, and onnxruntime drawing what PyTorch draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from muybridge.errors import MuybridgeError
from muybridge.generator import Generator, to_uint8

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'muybridge[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'muybridge[onnx]')")


@pytest.fixture(scope="module")
def exported(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Generator]:
    from muybridge.engines.onnx import export_onnx

    generator = Generator.load(tiny_model_dir, precision="fp32")
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert export_onnx(generator, path) == [path, path.with_suffix(".json")]
    return path, generator


def test_the_graph_is_opset_15_with_its_metadata(exported: tuple[Path, Generator]) -> None:
    path, generator = exported
    model = onnx.load(str(path))
    assert max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")) <= 15
    onnx.checker.check_model(model, full_check=True)
    props = {entry.key: entry.value for entry in model.metadata_props}
    assert json.loads(props["classes"]) == ["cat", "dog"] and props["resolution"] == "32"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["latent_dim"] == 16 and sidecar["output"]["range"] == [0, 1]
    np.testing.assert_allclose(np.array(sidecar["seed_latents"][7]), generator.latents([7])[0].numpy(), atol=1e-6)
    last_conv = [node for node in model.graph.node if node.op_type == "Conv"][-1]
    shapes = {tensor.name: list(tensor.dims) for tensor in model.graph.initializer}
    assert shapes[last_conv.input[1]][0] == 12, "the graph computes the RGB phases alone (onnxruntime: faster)"


def test_onnxruntime_draws_what_pytorch_draws(exported: tuple[Path, Generator]) -> None:
    path, generator = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    latents = generator.latents(range(5))  # another batch size than the export's example
    weights = generator.class_weights(["cat", "dog", {"cat": 0.5, "dog": 0.5}, "cat", "dog"])
    rgb = session.run(None, {"latents": latents.numpy(), "class_weights": weights.numpy(),
                             "truncation": np.array([0.8], np.float32)})[0]
    expected = (generator.decode(latents, weights, truncation=0.8) + 1) / 2
    assert rgb.shape == (5, 3, 32, 32)
    np.testing.assert_allclose(rgb, expected.clamp(0, 1).numpy(), atol=1e-4)
    # cat:7 from the shipped seed latents, as an engine would draw it, is `generate cat:7`
    seed_latent = np.array(json.loads(path.with_suffix(".json").read_text())["seed_latents"][7], np.float32)
    drawn = session.run(None, {"latents": seed_latent[None], "class_weights": weights[:1].numpy(),
                               "truncation": np.ones(1, np.float32)})[0]
    as_uint8 = to_uint8(torch.from_numpy(drawn) * 2 - 1)
    assert np.abs(as_uint8.astype(int) - generator.generate("cat", 7).astype(int)).max() <= 1


def test_a_wrong_suffix_is_refused(exported: tuple[Path, Generator], tmp_path: Path) -> None:
    from muybridge.engines.onnx import export_onnx

    with pytest.raises(MuybridgeError, match=r"model\.txt: the ONNX file must end in \.onnx"):
        export_onnx(exported[1], tmp_path / "model.txt")


def test_the_pose_graph_moves_the_head_as_pytorch_does(exported: tuple[Path, Generator], tmp_path: Path) -> None:
    from muybridge.engines.onnx import POSE_OPSET, export_onnx

    generator = exported[1]
    path = tmp_path / "posed.onnx"
    export_onnx(generator, path, pose=True)
    model = onnx.load(str(path))
    assert {entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")} == {POSE_OPSET}
    assert [i.name for i in model.graph.input] == ["latents", "class_weights", "truncation", "pose"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    latents, weights = generator.latents(range(3)), generator.class_weights(["cat", "dog", "cat"])
    poses = torch.tensor([[0.2, 0.05, -0.05, 0.04, 0.1, -0.1], [0.0] * 6, [-0.1, 0.0, 0.08, 0.0, -0.2, 0.15]])

    def onnx_rgb(pose: torch.Tensor) -> np.ndarray:
        return session.run(None, {"latents": latents.numpy(), "class_weights": weights.numpy(),
                                  "truncation": np.ones(1, np.float32), "pose": pose.numpy()})[0]

    expected = ((generator.decode(latents, weights, pose=poses) + 1) / 2).clamp(0, 1).numpy()
    np.testing.assert_allclose(onnx_rgb(poses), expected, atol=1e-4)
    rest = ((generator.decode(latents, weights) + 1) / 2).clamp(0, 1).numpy()
    np.testing.assert_allclose(onnx_rgb(torch.zeros(3, 6)), rest, atol=1e-4)  # the rest pose changes nothing
    assert np.abs(expected[0] - rest[0]).mean() > 1e-3  # and a pose does move the picture


def test_a_model_without_poses_is_refused_a_pose_graph_and_a_web_page(tmp_path: Path) -> None:
    from muybridge.engines.onnx import onnx_model
    from muybridge.engines.web import export_web
    from muybridge.models import build_networks

    config = {"architecture": "dcgan", "resolution": 32, "classes": ["cat"], "latent_dim": 16}
    networks = build_networks(config)
    generator = Generator({**config, "name": "flat"}, networks.decoder, networks.encoder)
    with pytest.raises(MuybridgeError, match=r"^model flat \(dcgan\) has no pose input, so its graph cannot move"):
        onnx_model(generator, pose=True)
    with pytest.raises(MuybridgeError, match=r"^model flat \(dcgan\) has no pose input, so the page cannot"):
        export_web(generator, tmp_path / "site")
    assert not (tmp_path / "site").exists()
