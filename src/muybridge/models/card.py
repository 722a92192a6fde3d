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
        f"g = Generator.load(\"{name}\")  # or the path of this folder",
        f"g.generate_image(\"{model.classes[0]}\", seed=7).save(\"out.png\")",
        "```",
        "",
        "## Model",
        f"- architecture: `{model.architecture}` with parameters `{json.dumps(model.params)}`",
        f"- latent size: {model.latent_dim}; classes: {classes}",
        "- weights: `model.safetensors` (EMA generator as `decoder.*`, encoder as `encoder.*`, and, for fine-tuning "
        "with `muybridge train --init-from`, the discriminator as `discriminator.*`); no pickle.",
    ]
    if training:
        lines += ["", "## Training"]
        for key in ("dataset", "dataset_hash", "init_from", "kimg", "train_hours", "cpu_hours", "checkpoint",
                    "command"):
            if key in training:
                lines.append(f"- {key.replace('_', ' ')}: {training[key]}")
        if "config" in training:
            lines += ["", "<details><summary>Training config</summary>", "", "```json",
                      json.dumps(training["config"], indent=2), "```", "</details>"]
    for title, body in (extra_sections or {}).items():
        lines += ["", f"## {title}", "", body.strip()]
    return "\n".join(lines) + "\n"
