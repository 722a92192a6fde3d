"""Averaging a run's exported networks with another model's (``muybridge export --average-with``).

Kept free of torch at import time: the CLI reads :data:`AVERAGE_SHARE` for its help.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muybridge.errors import MuybridgeError

#: The exported parts and the trainer networks they come from (the decoder is the EMA generator).
EXPORTED = {"decoder": "G_ema", "encoder": "E", "discriminator": "D"}
#: ``--average-share``'s default: the other model's share of every weight.
AVERAGE_SHARE = 0.5


def averaged(states: dict[str, dict[str, Any]], partner: str | Path, share: float,
             classes: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``states`` (per exported part) blended with the same networks of ``partner`` (a model folder, a bundled
    name, a run folder or a checkpoint): every floating-point weight becomes ``(1 - share) * own + share *
    partner's``. Two runs from one ancestor, averaged so, can draw better than either (a "model soup", Wortsman et
    al. 2022; measured on the bundled 64-px model in docs/quality.md). Refused in one line unless the partner has
    the same classes and the same networks, name for name and shape for shape. Returns the blend and what the
    model's config records of it."""
    from muybridge.training.warm_start import read_source, resolve_source

    if not 0 < share < 1:
        raise MuybridgeError(f"average share {share:g}: must be between 0 and 1 (the partner's share of each weight)")
    source = read_source(resolve_source(partner))
    if source.classes is not None and source.classes != classes:
        raise MuybridgeError(f"{partner}: cannot average with a model of other classes ({', '.join(source.classes)}; "
                             f"this run has {', '.join(classes)})")
    blended = {}
    for part, own in states.items():
        theirs = source.states[EXPORTED[part]] or {}
        if set(theirs) != set(own) or any(theirs[k].shape != own[k].shape for k in own):
            raise MuybridgeError(f"{partner}: its {part} differs from this run's in names or shapes: only networks "
                                 "of one architecture and size average")
        blended[part] = {k: v * (1 - share) + theirs[k].to(v.dtype) * share if v.is_floating_point() else v
                         for k, v in own.items()}
    return blended, {"averaged_with": str(source.path), "averaged_with_sha256": source.sha256, "average_share": share}
