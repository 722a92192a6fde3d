"""Training: every architecture trains, resume is exact, checkpoints survive kill -9, divergence rolls back,
export round-trips, and bad model files are refused."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from cli_runner import run_cli
from PIL import Image
from safetensors.torch import save_file

from muybridge import Generator, MuybridgeError
from muybridge.data import open_dataset, prepare_dataset
from muybridge.models.format import read_weights
from muybridge.training import checkpoint as ckpt
from muybridge.training import loop
from muybridge.training.config import resolve_config
from muybridge.training.export import export_run

TINY = {"params": {"channel_base": 128, "channel_min": 8, "channel_max": 32, "embed_dim": 8},
        "latent_dim": 16, "batch": 8, "tick_kimg": 0.008, "snapshot_kimg": 0.032, "sample_kimg": 0.032,
        "r1_every": 2, "encoder_every": 2}
TINY_DCGAN = {"architecture": "dcgan", "params": {"ngf": 8, "ndf": 8, "embed_dim": 4}, "latent_dim": 16,
              "batch": 8, "tick_kimg": 0.008, "snapshot_kimg": 0.032, "sample_kimg": 0.032}


def make_tiny_dataset(tmp_path_factory: pytest.TempPathFactory, classes: dict[str, tuple[int, int, int]],
                      size: int = 32) -> Path:
    """20 images per class at ``size`` px, each class its own colour."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for name, colour in classes.items():
        (root / name).mkdir()
        for i in range(20):
            pixels = np.clip(rng.normal(colour, 30, size=(40, 40, 3)), 0, 255).astype(np.uint8)
            pixels[10 + i % 10 : 20 + i % 10, 8:30] = 255 - np.array(colour, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    out = tmp_path_factory.mktemp("datasets") / "tiny"
    prepare_dataset([root], out, size=size, holdout=["0.2"], workers=1, min_side=32)
    return out


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 images of two visually distinct classes at 32 px."""
    return make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)})


def run_training(data: Path, run: Path, kimg: float, resume: bool = False, init_from: Path | None = None,
                 **overrides: object) -> loop.TrainResult:
    settings = resolve_config(None, {**TINY, **overrides})
    return loop.train(data, run, settings, kimg=kimg, resume=resume, init_from=init_from)


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("overrides", [TINY, TINY_DCGAN], ids=["gallop", "dcgan"])
def test_each_architecture_trains_a_few_steps(tiny_dataset: Path, tmp_path: Path, overrides: dict) -> None:
    settings = resolve_config(None, overrides)
    result = loop.train(tiny_dataset, tmp_path / "run", settings, kimg=0.064)
    assert result.step == 8 and result.stopped_by == "length"
    rows = metrics(tmp_path / "run")
    assert len(rows) == 8
    assert all(np.isfinite([r["loss_d"], r["loss_g"]]).all() for r in rows)
    grid = Image.open(tmp_path / "run" / "samples" / "latest.png")
    assert grid.size == (8 * 32, 2 * 32)  # 8 seeds by 2 classes
    assert ckpt.read_checkpoint(result.checkpoint)[1]["step"] == 8


def test_resume_reproduces_the_uninterrupted_run(tiny_dataset: Path, tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    run_training(tiny_dataset, straight, kimg=0.096)
    interrupted = tmp_path / "interrupted"
    first = run_training(tiny_dataset, interrupted, kimg=0.048)
    assert first.step == 6
    resumed = run_training(tiny_dataset, interrupted, kimg=0.096, resume=True)
    assert resumed.step == 12
    expected, got = metrics(straight), metrics(interrupted)
    assert [r["kimg"] for r in got] == [r["kimg"] for r in expected]
    for want, have in zip(expected[6:], got[6:], strict=True):
        for key in ("loss_d", "loss_g"):
            assert have[key] == pytest.approx(want[key], rel=1e-4, abs=1e-5), (have["kimg"], key)
    a, _ = ckpt.read_checkpoint(ckpt.list_checkpoints(straight / "checkpoints")[-1])
    b, _ = ckpt.read_checkpoint(ckpt.list_checkpoints(interrupted / "checkpoints")[-1])
    for key in a:
        if key.startswith("G_ema."):
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_a_checkpoint_from_an_unfused_optimizer_resumes_fused() -> None:
    """How an optimizer steps is the running code's choice; where it stands (moments, step, lr) is the checkpoint's."""
    weights = torch.nn.Linear(4, 2)
    older = torch.optim.Adam(weights.parameters(), lr=1e-3, fused=False)
    weights(torch.randn(3, 4)).sum().backward()
    older.step()
    tensors, groups = ckpt.optimizer_tensors("opt", older)
    assert groups[0]["fused"] is False
    current = loop.adam(weights, lr=2e-3, betas=(0.0, 0.99))
    ckpt.restore_optimizer(current, "opt", tensors, groups)
    assert current.param_groups[0]["fused"] is True and current.param_groups[0]["lr"] == 1e-3
    state = current.state[weights.weight]
    torch.testing.assert_close(state["exp_avg"], older.state[weights.weight]["exp_avg"])
    assert float(state["step"]) == 1.0


def test_ticks_keep_the_run_schedule_across_a_resume(tiny_dataset: Path, tmp_path: Path) -> None:
    """Stopped at 0.040 kimg and resumed, the run logs at 0.024, 0.048, 0.072, 0.096 kimg like an uninterrupted
    one (it used to restart the count at the resume point: 0.064, 0.088)."""
    schedule = {"tick_kimg": 0.024}
    straight = tmp_path / "straight"
    run_training(tiny_dataset, straight, kimg=0.096, **schedule)
    interrupted = tmp_path / "interrupted"
    run_training(tiny_dataset, interrupted, kimg=0.040, **schedule)
    run_training(tiny_dataset, interrupted, kimg=0.096, resume=True, **schedule)
    ticks = [row["kimg"] for row in metrics(straight)]
    assert ticks == [0.024, 0.048, 0.072, 0.096]
    assert [row["kimg"] for row in metrics(interrupted)] == ticks


def test_class_balance_reaches_the_batches(tiny_dataset: Path, tmp_path: Path) -> None:
    """The setting is the loader's (whose balanced epochs test_data_loader checks), kept in the checkpoint."""
    for balance in (True, False):
        result = run_training(tiny_dataset, tmp_path / str(balance), kimg=0.016, class_balance=balance)
        assert result.checkpoint is not None
        assert ckpt.read_checkpoint(result.checkpoint)[1]["loader"]["balance"] is balance


def test_existing_run_needs_resume(tiny_dataset: Path, tmp_path: Path) -> None:
    run_training(tiny_dataset, tmp_path / "run", kimg=0.016)
    with pytest.raises(MuybridgeError, match="--resume"):
        run_training(tiny_dataset, tmp_path / "run", kimg=0.032)


def test_init_from_starts_a_new_run_from_another_runs_networks(tiny_dataset: Path, tmp_path: Path) -> None:
    source = run_training(tiny_dataset, tmp_path / "source", kimg=0.032)
    assert source.checkpoint is not None
    # No steps, another seed (so another initialisation): the new run's networks are the source's.
    copied = run_training(tiny_dataset, tmp_path / "copied", kimg=0.0, init_from=source.checkpoint, seed=1)
    assert copied.checkpoint is not None and copied.step == 0
    started, _ = ckpt.read_checkpoint(source.checkpoint)
    weights, _ = ckpt.read_checkpoint(copied.checkpoint)
    networks = [k for k in started if k.split(".")[0] in ("G", "G_ema", "D", "E")]
    assert networks and all(torch.equal(weights[k], started[k]) for k in networks)
    assert json.loads((tmp_path / "copied" / "run.json").read_text())["init_from"] == str(source.checkpoint)
    # Its own counters and settings.
    tuned = run_training(tiny_dataset, tmp_path / "tuned", kimg=0.016, init_from=source.checkpoint, lr_g=5e-4)
    assert tuned.checkpoint is not None and tuned.step == 2  # 16 images at batch 8
    assert ckpt.read_checkpoint(tuned.checkpoint)[1]["param_groups"]["G"][0]["lr"] == 5e-4
    model = export_run(tmp_path / "tuned", tmp_path / "model")  # its card says where it started
    training = json.loads((model / "config.json").read_text())["training"]
    assert training["init_from"] == str(source.checkpoint)
    # The bytes it started from are pinned: a run folder's checkpoints (or a zoo name's model) change later.
    assert training["init_from_sha256"] == hashlib.sha256(source.checkpoint.read_bytes()).hexdigest()
    card = (model / "model_card.md").read_text()
    assert f"- init from: {source.checkpoint}" in card and f"- init from sha256: {training['init_from_sha256']}" in card


def test_export_averages_with_the_model_a_run_was_tuned_from(tiny_dataset: Path, tmp_path: Path) -> None:
    """Every exported weight is (1 - share) x the run's + share x the partner's; the config and card say which
    partner (its bytes pinned); a partner of other shapes, or a share outside (0, 1), is refused."""
    source = export_run(run_training(tiny_dataset, tmp_path / "source", kimg=0.016).run_dir, tmp_path / "source-model")
    run_training(tiny_dataset, tmp_path / "tuned", kimg=0.016, init_from=source, seed=1)
    alone = read_weights(export_run(tmp_path / "tuned", tmp_path / "alone") / "model.safetensors")
    soup = export_run(tmp_path / "tuned", tmp_path / "soup", average_with=source, average_share=0.25)
    partner, blended = read_weights(source / "model.safetensors"), read_weights(soup / "model.safetensors")
    assert set(blended) == set(alone) and any(not torch.equal(alone[k], partner[k]) for k in alone)
    for key, value in blended.items():
        torch.testing.assert_close(value, 0.75 * alone[key] + 0.25 * partner[key])
    training = json.loads((soup / "config.json").read_text())["training"]
    assert training["averaged_with"] == str(source) and training["average_share"] == 0.25
    assert training["averaged_with_sha256"] == hashlib.sha256((source / "model.safetensors").read_bytes()).hexdigest()
    assert f"- averaged with sha256: {training['averaged_with_sha256']}" in (soup / "model_card.md").read_text()
    with pytest.raises(MuybridgeError, match="average share 1: must be between 0 and 1"):
        export_run(tmp_path / "tuned", tmp_path / "whole", average_with=source, average_share=1.0)
    wider = run_training(tiny_dataset, tmp_path / "wider", kimg=0.016,
                         params={**TINY["params"], "embed_dim": 16})  # type: ignore[dict-item]
    with pytest.raises(MuybridgeError, match="differs from this run's in names or shapes"):
        export_run(tmp_path / "tuned", tmp_path / "mixed", average_with=wider.run_dir)
    assert not (tmp_path / "whole").exists() and not (tmp_path / "mixed").exists()


def test_init_from_refuses_other_shapes_and_existing_runs(tiny_dataset: Path, tmp_path: Path) -> None:
    source = run_training(tiny_dataset, tmp_path / "source", kimg=0.016)
    assert source.checkpoint is not None
    with pytest.raises(MuybridgeError, match=r"affine.weight is \(32, 24\) in the source and \(32, 40\) here: only "
                                             r"the convolutions above 4 px can widen \(keep the source's latent_dim"):
        run_training(tiny_dataset, tmp_path / "other", kimg=0.016, init_from=source.checkpoint, latent_dim=32)
    with pytest.raises(MuybridgeError, match="do not fit this run.s architecture and resolution"):
        run_training(tiny_dataset, tmp_path / "other", kimg=0.016, init_from=source.checkpoint, **TINY_DCGAN)
    with pytest.raises(MuybridgeError, match=r"decoder.const is \(1, 32, 4, 4\) in the source and \(1, 16, 4, 4\) "
                                             r"here: only the convolutions above 4 px can widen"):
        run_training(tiny_dataset, tmp_path / "narrower", kimg=0.016, init_from=source.checkpoint,
                     params={**TINY["params"], "channel_base": 64})  # type: ignore[dict-item]
    assert not (tmp_path / "other").exists() and not (tmp_path / "narrower").exists()  # refused before any write
    with pytest.raises(MuybridgeError, match="would be ignored"):
        run_training(tiny_dataset, tmp_path / "source", kimg=0.032, resume=True, init_from=source.checkpoint)
    with pytest.raises(MuybridgeError, match="no such checkpoint, run folder or model folder"):
        run_training(tiny_dataset, tmp_path / "other", kimg=0.016, init_from=tmp_path / "missing.safetensors")


def test_init_from_a_lower_resolution_grows_the_networks(tiny_dataset: Path, tmp_path: Path,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """Progressive growing: a 64-px run starts from a 32-px one; the shared layers keep their weights, the new
    RGB layers start at zero, the trunks' blocks move down one octave. The other way is refused in one line."""
    source = run_training(tiny_dataset, tmp_path / "source", kimg=0.016)
    pets64 = make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)}, size=64)
    grown = run_training(pets64, tmp_path / "grown", kimg=0.0, init_from=source.checkpoint, fade_kimg=0)
    before, _ = ckpt.read_checkpoint(source.checkpoint)
    after, _ = ckpt.read_checkpoint(grown.checkpoint)
    for key in ("G.const", "G.convs.2.0.weight", "G.to_rgb.2.weight", "G.class_embedding.weight",
                "G_ema.convs.1.1.weight"):
        assert torch.equal(after[key], before[key]), key
    assert not after["G.to_rgb.3.weight"].any() and not after["G_ema.final_rgb.weight"].any()
    assert after["G.convs.3.0.weight"].any()  # the new 32-px block starts from fresh weights
    for network in ("D", "E"):
        moved = f"{network}.trunk.blocks.2.conv.weight", f"{network}.trunk.blocks.1.conv.weight"
        assert torch.equal(after[moved[0]], before[moved[1]])
    assert torch.equal(after["D.projection.weight"], before["D.projection.weight"])

    with pytest.raises(MuybridgeError, match=r"^decoder.const is \(1, 32, 4, 4\) in the source and "
                                             r"\(1, 64, 4, 4\) here: only the convolutions above 4 px can widen"):
        run_training(pets64, tmp_path / "wider-4px", kimg=0.0, init_from=source.checkpoint,
                     params={**TINY["params"], "channel_base": 512, "channel_max": 64})  # type: ignore[dict-item]
    assert not (tmp_path / "wider-4px").exists()
    with pytest.raises(MuybridgeError, match=r"the model draws 64 px and the dataset is 32 px: prepare the "
                                             r"dataset with --size 64$"):
        run_training(tiny_dataset, tmp_path / "shrunk", kimg=0.0, init_from=grown.checkpoint)
    assert not (tmp_path / "shrunk").exists()


#: The tiny networks with their 8- and 16-px levels twice as wide (the 4-px width and channel_max kept).
WIDER = {**TINY["params"], "channel_base": 256}  # type: ignore[dict-item]


def test_init_from_widens_the_networks_at_the_same_resolution(tiny_dataset: Path, tmp_path: Path) -> None:
    """Net2Net's widening without growing: a run with wider levels starts from a narrower model of the same
    resolution and computes what it did (generator and discriminator), until training moves its new channels."""
    from muybridge.models import build_networks

    source = run_training(tiny_dataset, tmp_path / "source", kimg=0.016)
    wider = run_training(tiny_dataset, tmp_path / "wider", kimg=0.0, init_from=source.checkpoint, params=WIDER)
    runs = {name: json.loads((tmp_path / name / "run.json").read_text()) for name in ("source", "wider")}
    networks = {name: build_networks(runs[name]["model"]) for name in runs}
    for name, result in (("source", source), ("wider", wider)):
        tensors, _ = ckpt.read_checkpoint(result.checkpoint)
        networks[name].decoder.load_state_dict(ckpt.module_state(tensors, "G_ema"))
        networks[name].discriminator.load_state_dict(ckpt.module_state(tensors, "D"))
        networks[name].encoder.load_state_dict(ckpt.module_state(tensors, "E"))
    assert [conv[0].weight.shape[0] for conv in networks["wider"].decoder.convs[1:]] == [32, 16]  # 16, 8 before
    latents, classes = torch.randn(4, 16), torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 1]), 2).float()
    images, labels = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        torch.testing.assert_close(networks["wider"].decoder(latents, classes),
                                   networks["source"].decoder(latents, classes))
        torch.testing.assert_close(networks["wider"].discriminator(images, labels),
                                   networks["source"].discriminator(images, labels))
        torch.testing.assert_close(networks["wider"].encoder(images), networks["source"].encoder(images))
    with pytest.raises(MuybridgeError, match=r"decoder.convs.1.0.bias is \(32,\) in the source and \(16,\) here: "
                                             r"a level may widen, not narrow \(keep channel_base and channel_min"):
        run_training(tiny_dataset, tmp_path / "narrower", kimg=0.0, init_from=wider.checkpoint)
    trained = loop.train(tiny_dataset, tmp_path / "wider", resolve_config(runs["wider"]["config"]), kimg=0.016,
                         resume=True)
    tensors, _ = ckpt.read_checkpoint(trained.checkpoint)
    assert tensors["G.convs.2.0.weight"][:8, 16:].any()  # the new input channels have started to learn
    # A settings file names only what it widens; the source's other parameters are kept.
    from muybridge.training.session import new_run_config

    widened = new_run_config({"params": {"channel_base": 256}}, None, source.checkpoint)
    assert widened.params == {**runs["source"]["model"]["params"], "channel_base": 256}
    other = new_run_config({"params": {"ngf": 8}}, {"architecture": "dcgan"}, source.checkpoint)
    assert other.architecture == "dcgan" and other.params["ngf"] == 8  # none of gallop's parameters carried over


@pytest.mark.parametrize("grown_params", [TINY["params"], WIDER], ids=["same-widths", "wider"])
def test_a_grown_run_fades_its_new_layers_in(tiny_dataset: Path, tmp_path: Path,
                                            tmp_path_factory: pytest.TempPathFactory, grown_params: dict) -> None:
    """ProGAN's fade-in: at the start the grown networks are the source's (its picture upsampled, its
    discriminator on the picture downsampled), also where the grown model is wider than the source (Net2Net's
    widening); the blend reaches the new layers after fade_kimg, and only then can the run be exported, without
    the fade layers."""
    from muybridge.models import build_networks

    source = run_training(tiny_dataset, tmp_path / "source", kimg=0.016)
    pets64 = make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)}, size=64)
    grown = run_training(pets64, tmp_path / "grown", kimg=0.0, init_from=source.checkpoint, fade_kimg=0.032,
                         params=grown_params)
    runs = {name: json.loads((tmp_path / name / "run.json").read_text()) for name in ("source", "grown")}
    assert runs["grown"]["model"]["params"]["fade_from"] == 32
    networks = {name: build_networks(runs[name]["model"]) for name in runs}
    widths = {name: net.decoder.convs[2][0].weight.shape[0] for name, net in networks.items()}  # 16-px level
    assert widths["grown"] == widths["source"] * (2 if grown_params is WIDER else 1)
    for name, result in (("source", source), ("grown", grown)):
        tensors, _ = ckpt.read_checkpoint(result.checkpoint)
        networks[name].decoder.load_state_dict(ckpt.module_state(tensors, "G_ema"))
        networks[name].discriminator.load_state_dict(ckpt.module_state(tensors, "D"))
    decoder, discriminator = networks["grown"].decoder, networks["grown"].discriminator
    decoder.fade_alpha = discriminator.fade_alpha = 0.0
    latents, classes = torch.randn(4, 16), torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 1]), 2).float()
    images, labels = torch.rand(4, 3, 64, 64) * 2 - 1, torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        upsampled = torch.nn.functional.interpolate(networks["source"].decoder(latents, classes), scale_factor=2,
                                                    mode="bilinear", align_corners=False)
        torch.testing.assert_close(decoder(latents, classes), upsampled)
        small = torch.nn.functional.avg_pool2d(images, 2)
        torch.testing.assert_close(discriminator(images, labels), networks["source"].discriminator(small, labels))
        decoder.fade_alpha = 1.0
        assert not torch.allclose(decoder(latents, classes), upsampled, atol=1e-3)

    for refused in (lambda: export_run(tmp_path / "grown", tmp_path / "early"),
                    lambda: run_training(pets64, tmp_path / "early", kimg=0.0, init_from=grown.checkpoint)):
        with pytest.raises(MuybridgeError, match=r"at 0 kimg the run still fades in its new layers \(until 0.032 "
                                                 r"kimg\); use a later checkpoint"):
            refused()
    assert not (tmp_path / "early").exists()
    stored = resolve_config(json.loads((tmp_path / "grown" / "run.json").read_text())["config"])  # as --resume does
    assert loop.train(pets64, tmp_path / "grown", stored, kimg=0.032, resume=True).step == 4
    folder = export_run(tmp_path / "grown", tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    assert config["params"]["fade_from"] == 0 and config["resolution"] == 64
    assert not [key for key in read_weights(folder / "model.safetensors") if ".fade_" in key]
    assert Generator.load(folder).generate_image("cat", seed=1).size == (64, 64)
    # Another run started from the faded run (as `muybridge train --init-from runs/grown` does) continues the grown
    # model alone: no fade starts again, and its networks are the exported ones.
    from muybridge.training.session import new_run_config
    from muybridge.training.warm_start import resolve_source

    latest = resolve_source(tmp_path / "grown")
    settings = new_run_config(None, {"seed": 1}, latest)
    assert settings.params["fade_from"] == 0
    continued = loop.train(pets64, tmp_path / "continued", settings, kimg=0.0, init_from=latest)
    exported = read_weights(folder / "model.safetensors")
    started = ckpt.module_state(ckpt.read_checkpoint(continued.checkpoint)[0], "G_ema")
    assert started.keys() == ckpt.module_state(exported, "decoder").keys()
    assert all(torch.equal(value, exported["decoder." + key]) for key, value in started.items())


def test_init_from_a_model_folder_matches_classes_by_name(tiny_dataset: Path, tmp_path: Path,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fine-tuning an exported model (the way a user fine-tunes the bundled one) on a dataset of other classes."""
    source = run_training(tiny_dataset, tmp_path / "source", kimg=0.032)
    model = export_run(tmp_path / "source", tmp_path / "model")
    exported = read_weights(model / "model.safetensors")
    foxes = make_tiny_dataset(tmp_path_factory, {"fox": (220, 90, 20), "cat": (200, 120, 40)})
    assert open_dataset(foxes).classes == ["cat", "fox"]
    warnings: list[str] = []
    settings = resolve_config(None, {**TINY, "seed": 3})
    tuned = loop.train(foxes, tmp_path / "foxes", settings, kimg=0.0, init_from=model, warn=warnings.append)
    assert tuned.checkpoint is not None and source.checkpoint is not None and not warnings
    run = json.loads((tmp_path / "foxes" / "run.json").read_text())  # a model folder is pinned by its weights
    assert run["init_from_sha256"] == hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    weights, _ = ckpt.read_checkpoint(tuned.checkpoint)
    for network, prefix in (("G", "decoder."), ("G_ema", "decoder."), ("D", "discriminator."), ("E", "encoder.")):
        for key in (k for k in exported if k.startswith(prefix)):
            name = f"{network}.{key[len(prefix):]}"
            if key == "decoder.class_embedding.weight":  # (embed, classes): cat kept, fox = mean of cat and dog
                torch.testing.assert_close(weights[name][:, 0], exported[key][:, 0])
                torch.testing.assert_close(weights[name][:, 1], exported[key].mean(1))
            elif key == "discriminator.projection.weight":  # (classes, width)
                torch.testing.assert_close(weights[name][0], exported[key][0])
                torch.testing.assert_close(weights[name][1], exported[key].mean(0))
            else:
                assert torch.equal(weights[name], exported[key]), name


def test_init_from_a_model_folder_without_discriminator_warns(tiny_dataset: Path, tmp_path: Path) -> None:
    run_training(tiny_dataset, tmp_path / "source", kimg=0.016)
    model = export_run(tmp_path / "source", tmp_path / "model")
    tensors = read_weights(model / "model.safetensors")
    save_file({k: v for k, v in tensors.items() if not k.startswith("discriminator.")},
              str(model / "model.safetensors"), metadata={"format": "muybridge-model", "architecture": "gallop"})
    warnings: list[str] = []
    loop.train(tiny_dataset, tmp_path / "tuned", resolve_config(None, TINY), kimg=0.008, init_from=model,
               warn=warnings.append)
    assert warnings == [f"{model}: holds no D weights; that network starts from scratch"]


def test_train_cli_fine_tunes_a_model_folder(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run_training(tiny_dataset, tmp_path / "source", kimg=0.016)
    model = export_run(tmp_path / "source", tmp_path / "model")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    command = ["train", "--data", str(tiny_dataset), "--config", str(config), "--kimg", "0.016", "--threads", "1"]
    code, text = run_cli([*command, "--out", str(tmp_path / "lost"), "--init-from", str(tmp_path / "nowhere")],
                         monkeypatch, capsys)
    assert code == 2 and text.startswith("error: ") and "no such checkpoint, run folder or model folder" in text
    assert not (tmp_path / "lost").exists()
    # No --config: the run takes the source's network shape (its latent size and widths are not the defaults).
    code, text = run_cli(["train", "--data", str(tiny_dataset), "--kimg", "0.032", "--threads", "1", "--out",
                      str(tmp_path / "tuned"), "--init-from", str(model)], monkeypatch, capsys)
    assert code == 0, text
    tuned = json.loads((tmp_path / "tuned" / "run.json").read_text())
    assert tuned["init_from"] == str(model)
    assert tuned["model"]["latent_dim"] == TINY["latent_dim"] != resolve_config().latent_dim
    assert tuned["model"]["params"] == json.loads((model / "config.json").read_text())["params"]


def test_keeps_only_the_last_k_checkpoints(tiny_dataset: Path, tmp_path: Path) -> None:
    run_training(tiny_dataset, tmp_path / "run", kimg=0.128, snapshot_kimg=0.016, keep_checkpoints=2)
    names = [p.name for p in ckpt.list_checkpoints(tmp_path / "run" / "checkpoints")]
    assert names == [ckpt.checkpoint_name(14), ckpt.checkpoint_name(16)]


def test_unreadable_newest_checkpoint_is_skipped_on_resume(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_training(tiny_dataset, run, kimg=0.064)
    folder = run / "checkpoints"
    good = ckpt.list_checkpoints(folder)[-1]
    broken = folder / ckpt.checkpoint_name(999)
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a torn write that somehow got renamed
    (folder / ".ckpt-000001000.safetensors.x.tmp").write_bytes(b"partial")  # what kill -9 mid-save leaves
    warnings: list[str] = []
    settings = resolve_config(None, TINY)
    result = loop.train(tiny_dataset, run, settings, kimg=0.080, resume=True, warn=warnings.append)
    assert result.step == 10
    assert any("skipping unreadable checkpoint" in w and broken.name in w for w in warnings)
    assert not list(folder.glob(".*.tmp"))


def test_kill_9_during_training_leaves_a_loadable_checkpoint(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    code = (
        "import sys; from muybridge.training.config import resolve_config; from muybridge.training import loop;"
        f"cfg = resolve_config(None, {{**{TINY!r}, 'snapshot_kimg': 0.008}});"
        f"loop.train({str(tiny_dataset)!r}, {str(run)!r}, cfg, kimg=100)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(ckpt.list_checkpoints(run / "checkpoints")) < 3:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = ckpt.list_checkpoints(run / "checkpoints")
    assert len(saved) >= 3, process.stderr.read().decode() if process.stderr else ""
    _, state = ckpt.read_checkpoint(saved[-1])
    result = run_training(tiny_dataset, run, kimg=(state["nimg"] + 16) / 1000, resume=True,
                          snapshot_kimg=0.008)
    assert result.step == state["step"] + 2


def test_divergence_rolls_back_to_the_last_checkpoint(tiny_dataset: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    original = loop.Trainer.train_step
    failures = {"left": 1}

    def flaky_step(self: loop.Trainer, real: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        if self.step == 6 and failures["left"]:
            failures["left"] -= 1
            raise loop.Diverged("generator loss became nan at step 6")
        return original(self, real, labels)

    monkeypatch.setattr(loop.Trainer, "train_step", flaky_step)
    warnings: list[str] = []
    settings = resolve_config(None, TINY)
    result = loop.train(tiny_dataset, tmp_path / "run", settings, kimg=0.080, warn=warnings.append)
    assert result.step == 10 and result.rollbacks == 1
    assert len(warnings) == 1 and "rolling back to ckpt-000000004" in warnings[0]


def test_divergence_without_a_checkpoint_stops_with_a_clear_error(tiny_dataset: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def always_nan(self: loop.Trainer, real: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        raise loop.Diverged("discriminator loss became nan at step 0")

    monkeypatch.setattr(loop.Trainer, "train_step", always_nan)
    with pytest.raises(MuybridgeError, match="diverged"):
        run_training(tiny_dataset, tmp_path / "run", kimg=0.032)


def test_export_round_trip_and_generator_load(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_training(tiny_dataset, run, kimg=0.032)
    folder = export_run(run, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "model_card.md"]
    generator = Generator.load(folder)
    assert generator.classes == ["cat", "dog"] and generator.resolution == 32
    tensors, state = ckpt.read_checkpoint(ckpt.list_checkpoints(run / "checkpoints")[-1])
    training = generator.config.training or {}
    assert training["kimg"] == 0.032 and training["cpu_hours"] == round(state["cpu_seconds"] / 3600, 3)
    card = (folder / "model_card.md").read_text()
    assert f"- cpu hours: {training['cpu_hours']}" in card
    assert 'Generator.load("path/to/model")' in card and "muybridge generate cat:7 -m path/to/model" in card
    assert "Not measured during training" in card and "Draws only cat, dog, at 32 px" in card
    torch.testing.assert_close(generator.decoder.state_dict()["const"], tensors["G_ema.const"])
    image = generator.generate_image("dog", seed=3)
    assert image.size == (32, 32)
    assert np.array_equal(np.asarray(image), generator.generate(["cat", "dog"], [5, 3])[1])
    with pytest.raises(MuybridgeError, match="already exists"):
        export_run(run, folder)


def test_a_128_px_model_trains_exports_and_renders(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Nothing is tied to 64 px: the resolution comes from the dataset into the config, the networks, the card
    and every render."""
    pets128 = make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)}, size=128)
    result = run_training(pets128, tmp_path / "run", kimg=0.016)
    assert result.step == 2
    assert Image.open(tmp_path / "run" / "samples" / "latest.png").size == (8 * 128, 2 * 128)
    generator = Generator.load(export_run(tmp_path / "run", tmp_path / "model"))
    assert generator.resolution == 128 and generator.config.resolution == 128
    assert "at 128 px" in (tmp_path / "model" / "model_card.md").read_text()
    assert generator.generate_image("cat", seed=7).size == (128, 128)
    assert generator.encode(generator.generate("dog", [1])).shape == (1, generator.latent_dim)
    pose = torch.tensor([[0.1, 0.05, 0.0, 0.0, 0.1, 0.0]])
    moved = generator.decode(generator.latents([7]), generator.class_weights(["cat"]), pose=pose)
    assert moved.shape == (1, 3, 128, 128) and torch.isfinite(moved).all()


def test_bad_model_files_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    truncated = tmp_path / "truncated"
    shutil.copytree(tiny_model_dir, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(MuybridgeError, match="truncated or foreign"):
        Generator.load(truncated)

    foreign = tmp_path / "foreign"
    shutil.copytree(tiny_model_dir, foreign)
    (foreign / "model.safetensors").write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors")
    with pytest.raises(MuybridgeError, match="not a readable safetensors"):
        Generator.load(foreign)

    other_arch = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other_arch)
    config = json.loads((other_arch / "config.json").read_text())
    config.update(architecture="dcgan", params={"ngf": 8, "ndf": 8, "embed_dim": 4})
    (other_arch / "config.json").write_text(json.dumps(config))
    with pytest.raises(MuybridgeError, match="do not match architecture 'dcgan'"):
        Generator.load(other_arch)

    not_json = tmp_path / "notjson"
    shutil.copytree(tiny_model_dir, not_json)
    (not_json / "config.json").write_text("{nope")
    with pytest.raises(MuybridgeError, match="not valid JSON"):
        Generator.load(not_json)

    with pytest.raises(MuybridgeError, match="no such model folder"):
        Generator.load(tmp_path / "missing")


def test_unknown_class_lists_the_known_ones(tiny_model_dir: Path) -> None:
    with pytest.raises(MuybridgeError, match="knows: cat, dog"):
        Generator.load(tiny_model_dir).generate_image("horse")
    with pytest.raises(MuybridgeError, match="unknown class 'Cat'; did you mean 'cat'\\? this model knows"):
        Generator.load(tiny_model_dir).generate_image("Cat")


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(MuybridgeError, match="unknown training setting lr"):
        resolve_config({"lr": 1})
    with pytest.raises(MuybridgeError, match="unknown architecture 'stylegan9'"):
        resolve_config(None, {"architecture": "stylegan9"})
    with pytest.raises(MuybridgeError, match="has no parameter width"):
        resolve_config(None, {"params": {"width": 3}})
    with pytest.raises(MuybridgeError, match="class_balance must be true or false, got 'false'"):
        resolve_config({"class_balance": "false"})  # a string would be truthy


def test_progress_counts_in_the_unit_of_the_given_length(tiny_dataset: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    settings = resolve_config(None, TINY)
    loop.train(tiny_dataset, tmp_path / "by-images", settings, kimg=0.032,
               progress=lambda done, total, **info: seen.append((done, total)))
    assert seen[-1] == (32, 32)
    seen.clear()
    loop.train(tiny_dataset, tmp_path / "by-time", settings, minutes=0.05,
               progress=lambda done, total, **info: seen.append((done, total)))
    assert seen and all(total == 3 for _, total in seen) and seen[-1][0] >= 3  # stopped once past 3 s


def test_export_puts_the_status_at_the_top_of_the_card(tiny_dataset: Path, tmp_path: Path) -> None:
    run_training(tiny_dataset, tmp_path / "run", kimg=0.016)
    folder = export_run(tmp_path / "run", tmp_path / "model", card_sections={"Data": "photos"},
                        card_status="## Status: early\n\nNot good yet.")
    card = (folder / "model_card.md").read_text()
    assert card.index("## Status: early") < card.index("## Use") < card.index("## Data")


def test_cli_eval_settings_reach_the_run(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from muybridge import cli

    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["muybridge", "train", "--data", str(tiny_dataset), "--out", str(run),
                                      "--config", str(config), "--kimg", "0.016", "--eval-kimg", "0.008",
                                      "--eval-n", "6", "--threads", "1"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code in (0, None)
    settings = json.loads((run / "run.json").read_text())["config"]
    assert settings["eval_kimg"] == 0.008 and settings["eval_n"] == 6
    assert any("eval_kid" in row for row in metrics(run))
    assert (run / "checkpoints" / "best.safetensors").is_file()


def test_cli_refuses_zero_threads(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from muybridge import cli

    run = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["muybridge", "train", "--data", str(tiny_dataset), "--out", str(run),
                                      "--kimg", "0.016", "--threads", "0"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: --threads must be at least 1, got 0\n"
    assert not run.exists()
