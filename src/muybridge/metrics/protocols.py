"""Evaluation protocols: which photos a model is scored against, and with how many images (torch-free, so the
CLI can list them without loading anything).

* ``heldout`` (the default): generated images against the photos training never saw — the honest score of a
  model on *your* data, and the one the quality race and the loop's best-snapshot choice use.
* ``published``: 10,000 generated images against the **whole training split**, the way RaLSGAN
  (Jolicoeur-Martineau 2018) and StyleGAN2-ADA/StyleGAN3 (50,000 there) report FID, so our number can stand
  beside theirs. It measures how close the model comes to its training photos, memorisation included.
"""

from __future__ import annotations

from dataclasses import dataclass

from muybridge.errors import MuybridgeError

#: The most images one evaluation may generate (the Inception pass runs at ~15 images/s on this CPU: ~2 hours).
MAX_EVAL_N = 100_000


@dataclass(frozen=True)
class Protocol:
    name: str
    split: str
    n: int
    #: Score against every image of the split; otherwise against at most ``n`` of them.
    whole_reference: bool
    description: str


PROTOCOLS = {
    "heldout": Protocol("heldout", "heldout", 5000, False,
                        "n generated vs (up to n of) the held-out photos"),
    "published": Protocol("published", "train", 10_000, True,
                          "10,000 generated vs the whole training split, as RaLSGAN and StyleGAN report FID"),
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise MuybridgeError(f"--protocol {name}: unknown; choose {' or '.join(PROTOCOLS)}") from None


def check_eval_n(n: int) -> int:
    """``n`` generated images, refused in one line outside 2 .. MAX_EVAL_N."""
    if not 2 <= n <= MAX_EVAL_N:
        raise MuybridgeError(f"--n must be between 2 and {MAX_EVAL_N:,}, got {n:,}")
    return n
