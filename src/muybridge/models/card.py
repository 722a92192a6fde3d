"""The model card: a Markdown page written beside the weights, generated from the model config."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from muybridge.models.config import ModelConfig, as_model_config


def render_card(config: ModelConfig | Mapping[str, Any], extra_sections: dict[str, str] | None = None,
                status: str | None = None) -> str:
    """Markdown describing the model: what it draws, how it was trained, how to use it. ``status`` (Markdown
    starting with its own ``## `` heading) goes right after the introduction, where readers look first."""
    model = as_model_config(config)
    training = model.training or {}
    name = model.name or "muybridge model"
    classes = ", ".join(model.classes)
    lines = [
        f"# {name}",
        "",
        f"A class-conditional GAN (`{model.architecture}` architecture) drawing "
        f"{classes} at {model.resolution}×{model.resolution} px, made with muybridge.",
        "",
        *([status.strip(), ""] if status else []),
        "## Use",
        "```python",
        "from muybridge import Generator",
        f"g = Generator.load(\"path/to/{name}\")  # this folder (a model in muybridge's zoo loads by name)",
        f"g.generate_image(\"{model.classes[0]}\", seed=7).save(\"out.png\")",
        "```",
        f"or `muybridge generate {model.classes[0]}:7 -m path/to/{name} -o out.png`.",
        "",
        "## Model",
        f"- architecture: `{model.architecture}` with parameters `{json.dumps(model.params)}`",
        f"- latent size: {model.latent_dim}; classes: {classes}",
        "- weights: `model.safetensors` (EMA generator as `decoder.*`, encoder as `encoder.*`, and, for fine-tuning "
        "with `muybridge train --init-from`, the discriminator as `discriminator.*`); no pickle.",
    ]
    if training:
        lines += ["", "## Training"]
        for key in ("dataset", "dataset_hash", "init_from", "init_from_sha256", "kimg", "train_hours", "cpu_hours",
                    "checkpoint", "averaged_with", "averaged_with_sha256", "average_share", "command"):
            if key in training:
                lines.append(f"- {key.replace('_', ' ')}: {training[key]}")
        if "config" in training:
            lines += ["", "<details><summary>Training config</summary>", "", "```json",
                      json.dumps(training["config"], indent=2), "```", "</details>"]
        lines += _evaluation_lines(training)
    lines += ["", "## Limitations", "", *_limitations(model)]
    for title, body in (extra_sections or {}).items():
        lines += ["", f"## {title}", "", body.strip()]
    return "\n".join(lines) + "\n"


def _evaluation_lines(training: Mapping[str, Any]) -> list[str]:
    """The run's held-out scores, as training measured them (``last_eval``: kimg, KID, n; ``best_kid``)."""
    last = training.get("last_eval")
    if not last and training.get("best_kid") is None:
        return ["", "## Evaluation", "", "Not measured during training (`--eval-kimg` was 0). Score it with "
                "`muybridge evaluate MODEL --data DATASET` (held-out FID/KID per class)."]
    lines = ["", "## Evaluation", ""]
    if last:
        lines.append(f"- held-out KID at {last['kimg']} kimg: {last['kid']:.4f} ({last['n']} generated images vs "
                     "the dataset's held-out photos; lower is better, 0 is indistinguishable)")
    if training.get("best_kid") is not None:
        lines.append(f"- best held-out KID of the run: {float(training['best_kid']):.4f} (the `best` checkpoint)")
    lines.append("- the full protocol: `muybridge evaluate MODEL --data DATASET` (and `--protocol published` to "
                 "compare with papers)")
    return lines


def _limitations(model: ModelConfig) -> list[str]:
    """What a user should not expect, from what the config says."""
    classes = ", ".join(model.classes)
    return [f"- Draws only {classes}, at {model.resolution} px; larger output sizes are upsampled, not detailed.",
            "- Learned from face crops framed like its training photos: other framings, full bodies or other "
            "animals are out of its range (a pet's photo is cropped to the face first by `muybridge invert`).",
            "- A GAN trained on a CPU for hours, not weeks: expect artefacts and less variety than the photos; "
            "the scores above say how far it is from them.",
            "- Class mixes and morphs between classes blend features; they are not real breeds."]
