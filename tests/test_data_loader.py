"""BatchLoader: shape and range, labels, flips, determinism, epochs, exact resume, disjoint DDP shards."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from muybridge.data import BatchLoader, PreparedDataset, open_dataset, prepare_dataset
from muybridge.data import loader as loader_module
from muybridge.errors import MuybridgeError

COUNT = 37
SIZE = 16


def left_colour(index: int) -> tuple[int, int, int]:
    return (index * 7 % 256, 255 - index * 5 % 256, (index * 13 + 60) % 256)


def coloured_dataset(root: Path, class_of: Callable[[int], str]) -> PreparedDataset:
    """37 pictures whose left half has a colour unique to the picture and whose right half is black, all in
    the train split, picture ``i`` in class ``class_of(i)``."""
    for index in range(COUNT):
        pixels = np.zeros((32, 32, 3), dtype=np.uint8)
        pixels[:, :16] = left_colour(index)
        folder = root / "src" / class_of(index)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{index:03d}.png")
    prepare_dataset([root / "src"], root / "ds", size=SIZE, workers=1)
    return open_dataset(root / "ds")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> PreparedDataset:
    """Class = index parity."""
    return coloured_dataset(tmp_path_factory.mktemp("loader"), lambda i: "even" if i % 2 == 0 else "odd")


@pytest.fixture(scope="module")
def lopsided(tmp_path_factory: pytest.TempPathFactory) -> PreparedDataset:
    """7 pictures in class "few" (every sixth) and 30 in class "many"."""
    return coloured_dataset(tmp_path_factory.mktemp("lopsided"), lambda i: "few" if i % 6 == 0 else "many")


def identities(images: torch.Tensor) -> list[tuple[int, int, int]]:
    """The unique colour of each batch image, read from whichever corner is not black."""
    pixels = ((images + 1) * 127.5).round().to(torch.uint8)
    left, right = pixels[:, :, 0, 0], pixels[:, :, 0, -1]
    chosen = torch.where((left.sum(1) > right.sum(1))[:, None], left, right)
    return [tuple(int(v) for v in row) for row in chosen]


def flipped(images: torch.Tensor) -> list[bool]:
    return (images[:, :, 0, -1].sum(1) > images[:, :, 0, 0].sum(1)).tolist()


def take(loader: BatchLoader, batches: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [next(loader) for _ in range(batches)]


def test_batches_have_the_promised_shape_range_and_labels(dataset: PreparedDataset) -> None:
    colour_to_index = {left_colour(i): i for i in range(COUNT)}
    assert len(colour_to_index) == COUNT
    images, labels = next(BatchLoader(dataset, batch_size=8, seed=3))
    assert images.shape == (8, 3, SIZE, SIZE) and images.dtype == torch.float32
    assert labels.shape == (8,) and labels.dtype == torch.int64
    assert images.min() >= -1.0 and images.max() <= 1.0
    expected_labels = [colour_to_index[colour] % 2 for colour in identities(images)]  # "even" is class 0
    assert labels.tolist() == expected_labels


def test_one_epoch_visits_every_image_once(dataset: PreparedDataset) -> None:
    loader = BatchLoader(dataset, batch_size=COUNT, seed=1)
    first, second = next(loader)[0], next(loader)[0]
    assert sorted(identities(first)) == sorted(left_colour(i) for i in range(COUNT))
    assert identities(first) != identities(second), "each epoch has its own permutation"
    assert loader.state_dict()["epoch"] == 2


def test_flips_are_random_and_can_be_turned_off(dataset: PreparedDataset) -> None:
    with_flips = torch.cat([b[0] for b in take(BatchLoader(dataset, batch_size=16, seed=5), 4)])
    without = torch.cat([b[0] for b in take(BatchLoader(dataset, batch_size=16, seed=5, flip=False), 4)])
    flags = flipped(with_flips)
    assert 10 < sum(flags) < 54
    assert not any(flipped(without))
    assert identities(with_flips) == identities(without), "flipping does not change the order"
    mirrored = torch.where(torch.tensor(flags)[:, None, None, None], without.flip(3), without)
    torch.testing.assert_close(with_flips, mirrored, rtol=0, atol=0)


def test_same_seed_same_batches_other_seed_other_batches(dataset: PreparedDataset) -> None:
    a, b, c = (take(BatchLoader(dataset, batch_size=10, seed=seed), 6) for seed in (7, 7, 8))
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))


def test_resume_from_state_yields_exactly_the_next_batches(dataset: PreparedDataset) -> None:
    original = BatchLoader(dataset, batch_size=10, seed=11)
    take(original, 5)  # 50 images: already past one epoch boundary (37)
    state = json.loads(json.dumps(original.state_dict()))
    expected = take(original, 8)
    restored = BatchLoader(dataset, batch_size=10, seed=999)
    restored.load_state_dict(state)
    for (x_expected, y_expected), (x_got, y_got) in zip(expected, take(restored, 8), strict=True):
        assert torch.equal(x_expected, x_got) and torch.equal(y_expected, y_got)


def test_resume_refuses_a_different_dataset_or_world(dataset: PreparedDataset) -> None:
    state = BatchLoader(dataset, batch_size=4).state_dict()
    with pytest.raises(MuybridgeError, match="world_size"):
        BatchLoader(dataset, batch_size=4, rank=0, world_size=2).load_state_dict(state)
    with pytest.raises(MuybridgeError, match="count"):
        BatchLoader(dataset, batch_size=4).load_state_dict({**state, "count": 5})


def test_ranks_get_disjoint_shards_of_each_epoch(dataset: PreparedDataset) -> None:
    world = 3
    per_rank = COUNT // world
    loaders = [BatchLoader(dataset, batch_size=per_rank, seed=2, rank=rank, world_size=world)
               for rank in range(world)]
    shards = [identities(next(loader)[0]) for loader in loaders]
    seen = [colour for shard in shards for colour in shard]
    assert len(seen) == len(set(seen)) == world * per_rank


def test_a_balanced_epoch_shows_each_class_as_often_as_the_largest(lopsided: PreparedDataset) -> None:
    few = {left_colour(i) for i in range(0, COUNT, 6)}
    loader = BatchLoader(lopsided, batch_size=60, seed=4, balance=True)  # 2 classes x 30
    assert loader.epoch_length == 60
    images, labels = next(loader)
    seen = identities(images)
    assert labels.tolist().count(0) == labels.tolist().count(1) == 30
    counts = {colour: seen.count(colour) for colour in set(seen)}
    assert all(counts[colour] in (4, 5) for colour in few), "7 photos fill 30 places: none twice before all once"
    assert sorted(c for colour, c in counts.items() if colour not in few) == [1] * 30
    assert loader.state_dict()["epoch"] == 1
    # Unbalanced, the same photos are each shown once per epoch.
    plain = BatchLoader(lopsided, batch_size=COUNT, seed=4)
    assert plain.epoch_length == COUNT and next(plain)[1].tolist().count(0) == 7


def test_balanced_batches_resume_exactly_and_shard_disjointly(lopsided: PreparedDataset) -> None:
    original = BatchLoader(lopsided, batch_size=16, seed=9, balance=True)
    take(original, 5)  # 80 images: past the 60-image epoch
    state = json.loads(json.dumps(original.state_dict()))
    restored = BatchLoader(lopsided, batch_size=16, seed=0, balance=True)
    restored.load_state_dict(state)
    for (x_expected, y_expected), (x_got, y_got) in zip(take(original, 6), take(restored, 6), strict=True):
        assert torch.equal(x_expected, x_got) and torch.equal(y_expected, y_got)
    with pytest.raises(MuybridgeError, match="balance"):
        BatchLoader(lopsided, batch_size=16).load_state_dict(state)
    # Two ranks take the alternate positions of the one balanced epoch a single process would see.
    whole, _ = BatchLoader(lopsided, batch_size=60, seed=2, balance=True)._order()
    ranks = [BatchLoader(lopsided, batch_size=30, seed=2, rank=r, world_size=2, balance=True) for r in (0, 1)]
    for rank, loader in enumerate(ranks):
        assert np.array_equal(loader._order()[0], whole[rank::2])
        assert next(loader)[1].tolist() == [int(i % 6 != 0) for i in picture_numbers(lopsided, whole[rank::2])]


def picture_numbers(dataset: PreparedDataset, positions: np.ndarray) -> list[int]:
    """The picture numbers (file names) at the given positions of the dataset's train split."""
    colour_to_index = {left_colour(i): i for i in range(COUNT)}
    pixels = dataset.images("train")[positions]
    return [colour_to_index[tuple(int(v) for v in row[0, 0])] for row in pixels]


def test_unbalanced_epochs_are_the_seeded_permutation(dataset: PreparedDataset) -> None:
    """Pinned to what the loader drew before balancing existed, so runs started then resume exactly."""
    loader = BatchLoader(dataset, batch_size=8, seed=5)
    generator = torch.Generator().manual_seed(loader_module._epoch_seed(5, 0))
    order, flips = loader._order()
    assert np.array_equal(order, torch.randperm(COUNT, generator=generator).numpy())
    assert np.array_equal(flips, (torch.rand(COUNT, generator=generator) < 0.5).numpy())


def test_bad_loader_arguments(dataset: PreparedDataset) -> None:
    with pytest.raises(MuybridgeError):
        BatchLoader(dataset, batch_size=0)
    with pytest.raises(MuybridgeError):
        BatchLoader(dataset, rank=2, world_size=2)
    with pytest.raises(MuybridgeError, match="too few"):
        BatchLoader(dataset, split="heldout")


def test_loader_reads_a_real_split(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    for name in ("a", "b", "c", "d"):
        (tmp_path / "src" / "x").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.roll(pixels, ord(name), axis=1)).save(tmp_path / "src" / "x" / f"{name}.png")
    (tmp_path / "held.txt").write_text("x/b.png\n")
    holdout = [str(tmp_path / "held.txt")]
    prepare_dataset([tmp_path / "src"], tmp_path / "ds", size=SIZE, workers=1, holdout=holdout)
    data = open_dataset(tmp_path / "ds")
    heldout = next(BatchLoader(data, split="heldout", batch_size=2, flip=False))[0]
    expected = torch.from_numpy(data.images("heldout")).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.equal(heldout, torch.cat([expected, expected]))


def test_mirror_copy_and_on_the_fly_flips_agree(dataset: PreparedDataset,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    mirrored = BatchLoader(dataset, batch_size=12, seed=4)
    monkeypatch.setattr("muybridge.data.loader.MIRROR_BYTES", 0)
    on_the_fly = BatchLoader(dataset, batch_size=12, seed=4)
    assert mirrored.mirrored and not on_the_fly.mirrored
    for (xa, ya), (xb, yb) in zip(take(mirrored, 5), take(on_the_fly, 5), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
