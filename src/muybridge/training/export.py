"""``muybridge export``: turn a run's checkpoint into a self-describing model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muybridge.errors import MuybridgeError
from muybridge.models import build_networks
from muybridge.models.card import render_card
from muybridge.models.format import save_model_folder
from muybridge.training import checkpoint as ckpt
from muybridge.training.average import AVERAGE_SHARE, averaged
from muybridge.training.run import RunFolder
from muybridge.training.warm_start import faded_model, read_source, resolve_source, without_fade_layers

#: The exported parts and the trainer networks they come from (the decoder is the EMA generator).
EXPORTED = {"decoder": "G_ema", "encoder": "E", "discriminator": "D"}


def export_run(run_dir: str | Path, out_dir: str | Path, checkpoint: str = "latest", name: str | None = None,
               overwrite: bool = False, card_sections: dict[str, str] | None = None,
               card_status: str | None = None, average_with: str | Path | None = None,
               average_share: float = AVERAGE_SHARE) -> Path:
    """Write ``out_dir`` with config.json, model.safetensors (EMA generator + encoder, and the discriminator for
    fine-tuning with ``--init-from``) and model_card.md; with ``average_with``, the checkpoint's weights averaged
    with another model's (:func:`averaged`)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise MuybridgeError(f"{out_dir}: already exists; pass --overwrite to replace it")
    folder = RunFolder(run_dir)
    run = folder.read()
    source = folder.find_checkpoint(checkpoint)
    tensors, state = ckpt.read_checkpoint(source)
    model = dict(run["model"])
    faded = faded_model(model, run["config"], float(state["kimg"]), source)
    networks = build_networks(faded)
    states = {part: without_fade_layers(ckpt.module_state(tensors, network), model)
              for part, network in EXPORTED.items()}
    blend: dict[str, Any] = {}
    if average_with is not None:
        partner = read_source(resolve_source(average_with))
        if partner.classes is not None and partner.classes != run["dataset"]["classes"]:
            raise MuybridgeError(f"{average_with}: cannot average with a model of other classes "
                                 f"({', '.join(partner.classes)}; this run has {', '.join(run['dataset']['classes'])})")
        theirs = {part: partner.states[network] or {} for part, network in EXPORTED.items()}
        states = averaged(states, theirs, average_share, str(average_with))
        blend = {"averaged_with": str(partner.path), "averaged_with_sha256": partner.sha256,
                 "average_share": average_share}
    for part, weights in states.items():
        getattr(networks, part).load_state_dict(weights)
    model = faded
    training: dict[str, Any] = {
        "dataset": run["dataset"]["path"],
        "dataset_hash": run["dataset"]["content_hash"],
        "kimg": round(float(state["kimg"]), 3),
        "train_hours": round(float(state["train_seconds"]) / 3600, 3),
        "cpu_hours": round(float(state.get("cpu_seconds", 0.0)) / 3600, 3),
        "checkpoint": source.name,
        "config": run["config"],
    }
    if state.get("best_kid") is not None:
        training["best_kid"] = state["best_kid"]
    evaluated = [row for row in folder.read_metrics()
                 if "eval_kid" in row and float(row.get("kimg", 0)) <= float(state["kimg"]) + 1e-9]
    if evaluated:  # the last held-out score up to the exported checkpoint
        training["last_eval"] = {"kimg": round(float(evaluated[-1]["kimg"]), 3),
                                 "kid": round(float(evaluated[-1]["eval_kid"]), 5),
                                 "n": int(run["config"].get("eval_n", 0))}
    for key in ("init_from", "init_from_sha256"):  # kimg and hours count this run only: its source trained before
        if key in run:
            training[key] = run[key]
    training.update(blend)
    config = {**model, "name": name or out_dir.name, "training": training}
    modules = {"decoder": networks.decoder, "encoder": networks.encoder, "discriminator": networks.discriminator}
    return save_model_folder(out_dir, config, modules,
                             render_card(config, card_sections, card_status))
