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

#: Images per second through the Inception network on 2 idle cores (docs/evaluation.md): for time estimates.
INCEPTION_IMAGES_PER_S = 15
#: The most images one evaluation may generate (about 2 hours of Inception at that rate).
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


def inception_time(images: int) -> str:
    """About how long ``images`` take through Inception on 2 cores, in words (``about 6 minutes``)."""
    seconds = images / INCEPTION_IMAGES_PER_S
    if seconds >= 2 * 86_400:
        return f"about {seconds / 86_400:,.0f} days"
    if seconds >= 3_600:
        return f"about {seconds / 3_600:.1f} hours"
    if seconds >= 120:
        return f"about {seconds / 60:.0f} minutes"
    return f"about {max(round(seconds), 1)} s"


def check_eval_n(n: int) -> int:
    """``n`` generated images, refused in one line outside 2 .. MAX_EVAL_N (with the time it would take)."""
    if n > MAX_EVAL_N:
        raise MuybridgeError(f"--n {n:,} would take {inception_time(n)} of Inception on 2 cores "
                             f"(~{INCEPTION_IMAGES_PER_S} images/s); the most is {MAX_EVAL_N:,} "
                             f"({inception_time(MAX_EVAL_N)})")
    if n < 2:
        raise MuybridgeError(f"--n must be between 2 and {MAX_EVAL_N:,}, got {n:,}")
    return n
