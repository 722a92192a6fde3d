"""Averaging a run's exported networks with another model's (``muybridge export --average-with``).

Kept free of torch at import time: the CLI reads :data:`AVERAGE_SHARE` for its help.
"""

from __future__ import annotations

from typing import Any

from muybridge.errors import MuybridgeError

#: ``--average-share``'s default: the other model's share of every weight.
AVERAGE_SHARE = 0.5

State = dict[str, Any]


def averaged(own: dict[str, State], theirs: dict[str, State], share: float, partner: str) -> dict[str, State]:
    """``own`` (a state dict per network) blended with ``theirs`` (the same networks of ``partner``): every
    floating-point weight becomes ``(1 - share) * own + share * theirs``. Two runs from one ancestor, averaged so,
    can draw better than either (a "model soup", Wortsman et al. 2022; measured on the bundled 64-px model in
    docs/quality.md). Refused in one line unless the networks match name for name and shape for shape, and the
    share lies strictly between 0 and 1."""
    if not 0 < share < 1:
        raise MuybridgeError(f"average share {share:g}: must be between 0 and 1 (the partner's share of each weight)")
    blended = {}
    for network, state in own.items():
        other = theirs.get(network) or {}
        if set(other) != set(state) or any(other[k].shape != state[k].shape for k in state):
            raise MuybridgeError(f"{partner}: its {network} differs from this run's in names or shapes: only networks "
                                 "of one architecture and size average")
        blended[network] = {k: v * (1 - share) + other[k].to(v.dtype) * share if v.is_floating_point() else v
                            for k, v in state.items()}
    return blended
