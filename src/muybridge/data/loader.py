"""An infinite, deterministic, resumable batch iterator over one split of a prepared dataset.

The split is held in RAM as one uint8 array laid out ``(N, 3, R, R)``, followed by its mirror images when
they fit in ``MIRROR_BYTES`` (then a flipped sample is just index ``i + N``); a batch is one gather and one
conversion to float. Batches are assembled with NumPy, which is single-threaded: torch's intra-op threads
spin-wait badly on a busy 2-core machine (measured 6-40x slower there), and training owns those threads.

Each epoch has its own permutation and flip draws, both derived from ``(seed, epoch)`` only, so ``(epoch,
position)`` is the whole state: a restored loader yields exactly the batches the original would have. With
``balance`` an epoch shows every class as often as the largest one: each class's images in permutations laid end
to end (a small class's photos repeat, none twice before all once), all classes shuffled together. With
``world_size > 1`` every rank takes the strided shard ``perm[rank::world_size]`` (truncated to equal length) of
the same permutation, so shards are disjoint (in positions: a balanced epoch's repeated photo may reach two
ranks). Batches run across epoch boundaries, so every batch is full.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from muybridge.data.dataset import PreparedDataset
from muybridge.errors import MuybridgeError

MIRROR_BYTES = 2 * 2**30
"""Keep a mirrored copy of the split in RAM when the split is at most this big (flips become free)."""


class BatchLoader:
    def __init__(self, dataset: PreparedDataset, split: str | None = "train", batch_size: int = 64,
                 seed: int = 0, flip: bool = True, rank: int = 0, world_size: int = 1,
                 balance: bool = False) -> None:
        if batch_size < 1:
            raise MuybridgeError(f"batch size must be at least 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise MuybridgeError(f"rank {rank} is outside world size {world_size}")
        pixels = dataset.images(split)
        self.count = len(pixels)
        if self.count < world_size:
            raise MuybridgeError(f"{dataset.path}: split {split!r} has {self.count} images, too few for "
                                 f"{world_size} rank(s)")
        self.pixels = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))  # one copy, in RAM
        self.mirrored = flip and self.pixels.size <= MIRROR_BYTES
        if self.mirrored:
            self.pixels = np.concatenate([self.pixels, self.pixels[..., ::-1]])
        self.labels = np.ascontiguousarray(dataset.labels(split), dtype=np.int64)
        self.split, self.batch_size, self.flip, self.balance = split, batch_size, flip, balance
        self.rank, self.world_size = rank, world_size
        #: The images of each class present, for balanced epochs of (classes x the largest class's count).
        self.class_indices = [np.flatnonzero(self.labels == label) for label in np.unique(self.labels)]
        self.epoch_length = len(self.class_indices) * max(map(len, self.class_indices)) if balance else self.count
        self.per_rank = self.epoch_length // world_size
        self.seed, self.epoch, self.position = int(seed), 0, 0
        self._epoch_order: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one pass over this rank's shard (the last one runs into the next epoch)."""
        return -(-self.per_rank // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        indices, flips = self._next_indices()
        if self.mirrored:
            images = np.take(self.pixels, indices + flips * self.count, axis=0)
        else:
            images = np.take(self.pixels, indices, axis=0)
            if self.flip:
                images = np.where(flips[:, None, None, None], images[..., ::-1], images)
        scaled = np.divide(images, np.float32(127.5), dtype=np.float32)  # exact at 0 and 255
        scaled -= np.float32(1.0)
        return torch.from_numpy(scaled), torch.from_numpy(np.take(self.labels, indices))

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position, "split": self.split,
                "batch_size": self.batch_size, "world_size": self.world_size, "count": self.count,
                "balance": self.balance}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; refuses a state taken on a different split size, world size or balance."""
        state = {"balance": False, **state}  # states written before balancing existed were unbalanced
        for key in ("count", "world_size", "balance"):
            if key in state and state[key] != getattr(self, key):
                raise MuybridgeError(f"cannot resume the data loader: saved {key} {state[key]} differs from "
                                     f"the current {getattr(self, key)}")
        self.seed, self.epoch, self.position = int(state["seed"]), int(state["epoch"]), int(state["position"])
        self._epoch_order = None

    def _next_indices(self) -> tuple[np.ndarray, np.ndarray]:
        index_parts, flip_parts, wanted = [], [], self.batch_size
        while wanted:
            order, flips = self._order()
            take = min(wanted, self.per_rank - self.position)
            index_parts.append(order[self.position:self.position + take])
            flip_parts.append(flips[self.position:self.position + take])
            self.position += take
            wanted -= take
            if self.position == self.per_rank:
                self.epoch, self.position = self.epoch + 1, 0
        if len(index_parts) == 1:
            return index_parts[0], flip_parts[0]
        return np.concatenate(index_parts), np.concatenate(flip_parts)

    def _order(self) -> tuple[np.ndarray, np.ndarray]:
        """This rank's share of the current epoch's permutation and flip draws (cached per epoch)."""
        if self._epoch_order is None or self._epoch_order[0] != self.epoch:
            generator = torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch))
            permutation = _balanced_order(self.class_indices, generator) if self.balance \
                else torch.randperm(self.count, generator=generator)
            flips = torch.rand(self.epoch_length, generator=generator) < 0.5
            shard = slice(self.rank, self.per_rank * self.world_size, self.world_size)
            self._epoch_order = (self.epoch, permutation[shard].numpy(), flips[shard].numpy())
        return self._epoch_order[1], self._epoch_order[2]


def _balanced_order(class_indices: list[np.ndarray], generator: torch.Generator) -> torch.Tensor:
    """Indices showing each class as often as the largest: per class, permutations of its images laid end to end
    and cut to that length; then all of them shuffled together."""
    longest = max(map(len, class_indices))
    drawn = [torch.from_numpy(indices)[torch.cat([torch.randperm(len(indices), generator=generator)
                                                  for _ in range(-(-longest // len(indices)))])[:longest]]
             for indices in class_indices]
    merged = torch.cat(drawn)
    return merged[torch.randperm(len(merged), generator=generator)]


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)
