"""evaluate / evaluate_real / quick_kid, the reference-feature cache and the `evaluate` CLI verb."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from typer.testing import CliRunner

import muybridge
from muybridge import Generator, files
from muybridge.cli import app
from muybridge.errors import MuybridgeError
from muybridge.metrics import evaluate, evaluate_real, features, quick_kid, scores
from muybridge.metrics import evaluation as evaluate_module
from muybridge.metrics.inception import PINNED_SHA256
from muybridge.metrics.scores import fid as full_dim_fid


class FakeDataset:
    """The reading API of ``muybridge.data.PreparedDataset``, over random 32 px images."""

    def __init__(self, per_class: dict[str, tuple[int, int]], resolution: int = 32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.classes = list(per_class)
        self.resolution = resolution
        self.content_hash = f"fake-{seed}"
        self.path = Path("fake")
        rows = [(i, split) for i, (train, heldout) in enumerate(per_class.values())
                for split, count in (("train", train), ("heldout", heldout)) for _ in range(count)]
        self._labels = np.array([label for label, _ in rows], dtype=np.int64)
        self._splits = np.array([split for _, split in rows])
        self._images = rng.integers(0, 256, size=(len(rows), resolution, resolution, 3), dtype=np.uint8)

    def _mask(self, split: str | None, class_name: str | None) -> np.ndarray:
        mask = np.ones(len(self._labels), dtype=bool)
        if split is not None:
            mask &= self._splits == split
        if class_name is not None:
            mask &= self._labels == self.classes.index(class_name)
        return mask

    def images(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        return self._images[self._mask(split, class_name)]

    def labels(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        return self._labels[self._mask(split, class_name)]


def _cheap_features(images: np.ndarray, progress: object = None, batch_size: int = 16,
                    precision: str = "fp32", stats: features.PassStats | None = None,
                    network_path: object = None) -> np.ndarray:
    """A deterministic stand-in for Inception: pixel statistics projected to 2048 dims."""
    small = images[:, ::4, ::4].reshape(len(images), -1).astype(np.float64) / 255.0
    projection = np.random.default_rng(1).normal(size=(small.shape[1], 2048))
    if stats is not None:
        stats.images += len(images)
        stats.seconds += 1e-3
    return np.maximum(small @ projection / 8.0, 0.0)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "features"


@pytest.fixture()
def cheap(monkeypatch: pytest.MonkeyPatch, cache: Path) -> list[int]:
    """Replace the Inception pass; the returned list holds the batch sizes it was called with."""
    calls: list[int] = []

    def counted(images: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(len(images))
        return _cheap_features(images, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(features, "extract_features", counted)
    monkeypatch.setattr(evaluate_module, "extract_features", counted)
    # scipy's sqrtm of a 2048x2048 matrix takes 10-40 s here: FID on 64 dims keeps these tests fast
    # (FID itself is checked against torchmetrics in test_metrics_scores.py).
    monkeypatch.setattr(scores, "fid", lambda a, b: full_dim_fid(a[:, :64], b[:, :64]))
    return calls


def test_reference_features_are_cached_once_per_key(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = FakeDataset({"cat": (3, 4), "dog": (2, 2)})
    first = features.reference_features(dataset, "heldout")  # the real network: 6 images
    assert not first.from_cache and first.features.shape == (6, 2048)
    assert list(first.labels) == [0, 0, 0, 0, 1, 1]
    assert len(list(cache.glob("*.npz"))) == 1

    def no_inception(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("the second call must not run Inception")

    monkeypatch.setattr(features, "extract_features", no_inception)
    second = features.reference_features(dataset, "heldout")
    assert second.from_cache and second.key == first.key
    np.testing.assert_array_equal(second.features, first.features)
    other = features.cache_key(dataset.content_hash, "train", None, first.selection,
                               features.feature_protocol())
    assert other != first.key


def test_a_subset_of_a_cached_split_is_read_from_it(cache: Path, cheap: list[int]) -> None:
    dataset = FakeDataset({"cat": (12, 2), "dog": (8, 2)})
    whole = features.reference_features(dataset, "train")
    assert cheap == [20]

    subset = features.reference_features(dataset, "train", n=5)
    assert cheap == [20] and subset.from_cache  # no second Inception pass
    chosen, selection = features.select_indices(20, 5)
    assert subset.selection == selection
    np.testing.assert_allclose(subset.features, whole.features[chosen], rtol=1e-6)
    np.testing.assert_array_equal(subset.labels, whole.labels[chosen])
    features.reference_features(dataset, "heldout", n=3)  # another split's whole is not there: computed
    assert cheap == [20, 3]


def test_selection_is_a_fixed_subset() -> None:
    chosen, selection = features.select_indices(100, 10)
    again, _ = features.select_indices(100, 10)
    np.testing.assert_array_equal(chosen, again)
    assert len(set(chosen.tolist())) == 10 and selection["n"] == 10 and selection["of"] == 100
    everything, all_selection = features.select_indices(5, 10)
    assert everything.tolist() == [0, 1, 2, 3, 4] and all_selection["rule"] == "all"


def test_evaluate_reports_scores_per_class_and_protocol(tiny_model_dir: Path, cheap: list[int]) -> None:
    dataset = FakeDataset({"cat": (4, 30), "dog": (4, 10)})
    generator = Generator.load(tiny_model_dir)
    seen: list[tuple[str, int, int | None]] = []
    result = evaluate(generator, dataset, metrics=("fid", "kid", "pr"), n=40, seed=5, truncation=0.8,
                      progress=lambda done, total, **info: seen.append((str(info["stage"]), done, total)))
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages[-3:] == ["generated", "scores", "separation"]  # every stage after Inception moves the bar too
    assert [(done, total) for stage, done, total in seen if stage == "scores"] == [(1, 3), (2, 3), (3, 3)]
    overall = result["overall"]
    assert overall["n_real"] == 40 and overall["n_fake"] == 40
    assert overall["fid"] > 0 and {"kid_mean", "kid_std", "precision", "recall"} <= set(overall)
    assert set(result["per_class"]) == {"cat", "dog"}
    assert result["per_class"]["cat"]["n_fake"] == 30 and result["per_class"]["dog"]["n_fake"] == 10
    proto = result["protocol"]
    assert proto["network_sha256"] == PINNED_SHA256 and proto["resize"] == "tf1-bilinear"
    assert proto["feature_dim"] == 2048 and proto["precision"] == "fp32"
    assert proto["generated_per_class"] == {"cat": 30, "dog": 10}
    assert proto["reference_per_class"] == {"cat": 30, "dog": 10} and proto["reference_count"] == 40
    assert proto["seeds"] == [5, 44] and proto["truncation"] == 0.8
    assert proto["dataset_content_hash"] == "fake-0" and proto["reference_split"] == "heldout"
    assert proto["kid_subsets"] == 100 and overall["kid_subset_size"] == 40
    assert proto["muybridge_version"] == muybridge.__version__
    assert proto["inception_images"] == 80 and proto["elapsed_s"] >= 0
    assert set(result["separation"]["fid"]) == {"cat", "dog"} and set(result["separation"]["fid"]["cat"]) == {
        "cat", "dog"}
    json.dumps(result)  # the whole result is plain JSON


def test_class_separation_tells_a_model_that_ignores_its_classes() -> None:
    rng = np.random.default_rng(0)
    cats, dogs = rng.normal(0, 1, (200, 6)), rng.normal(3, 1, (200, 6))
    reference = features.ReferenceFeatures(np.concatenate([cats, dogs]), np.repeat([0, 1], 200), "all")
    drawn = ["cat"] * 150 + ["dog"] * 150
    apart = np.concatenate([rng.normal(0, 1, (150, 6)), rng.normal(3, 1, (150, 6))])
    result = evaluate_module.class_separation(reference, apart, drawn, ["cat", "dog"])
    assert result["separated"] and result["closest"] == {"cat": "cat", "dog": "dog"}
    assert result["fid"]["cat"]["dog"] > 10 * result["fid"]["cat"]["cat"]
    same = rng.normal(0, 1, (300, 6))  # both classes drawn alike: cats for every class
    mixed = evaluate_module.class_separation(reference, same, drawn, ["cat", "dog"])
    assert not mixed["separated"] and mixed["closest"] == {"cat": "cat", "dog": "cat"}


def test_evaluate_one_class_and_bad_input(tiny_model_dir: Path, cheap: list[int]) -> None:
    dataset = FakeDataset({"cat": (4, 12), "dog": (4, 10)})
    generator = Generator.load(tiny_model_dir)
    result = evaluate(generator, dataset, metrics=("kid",), n=6, class_name="dog")
    assert result["per_class"] == {} and result["protocol"]["generated_per_class"] == {"dog": 6}
    assert "fid" not in result["overall"] and result["overall"]["n_real"] == 6
    with pytest.raises(MuybridgeError, match="unknown metrics"):
        evaluate(generator, dataset, metrics=("is",))
    with pytest.raises(MuybridgeError, match="horse"):
        evaluate(generator, dataset, class_name="horse")


def test_quick_kid_reuses_cached_reference(tiny_model_dir: Path, cheap: list[int]) -> None:
    dataset = FakeDataset({"cat": (4, 12), "dog": (4, 10)})
    generator = Generator.load(tiny_model_dir)
    first = quick_kid(generator, dataset, n=10)
    assert cheap[:1] == [22]  # the held-out reference, once
    calls_before = len(cheap)
    second = quick_kid(generator, dataset, n=10)
    assert second == pytest.approx(first)
    assert 22 not in cheap[calls_before:]


def test_evaluate_real_compares_splits(cheap: list[int]) -> None:
    dataset = FakeDataset({"cat": (12, 10), "dog": (9, 8)})
    result = evaluate_real(dataset, n=100)
    assert result["overall"]["n_real"] == 18 and result["overall"]["n_fake"] == 21
    assert set(result["per_class"]) == {"cat", "dog"}
    assert result["protocol"]["compared_split"] == "train"


def test_evaluate_through_the_real_network(tiny_model_dir: Path, cache: Path) -> None:
    dataset = FakeDataset({"cat": (2, 5), "dog": (2, 5)})
    result = evaluate(Generator.load(tiny_model_dir), dataset, metrics=("kid",), n=8)
    assert result["overall"]["kid_mean"] > 0
    assert result["protocol"]["reference_count"] == 8
    assert result["protocol"]["inception_images"] == 16 and result["protocol"]["inception_images_per_s"] > 0


def test_cli_evaluate_prints_a_table_and_writes_json(tiny_model_dir: Path, cheap: list[int], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import muybridge.data

    dataset = FakeDataset({"cat": (4, 12), "dog": (4, 10)})
    monkeypatch.setattr(muybridge.data, "open_dataset", lambda path: dataset)
    train_images = len(dataset.labels("train"))  # 8: more than the 4 generated below
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["evaluate", str(tiny_model_dir), "--data", str(tmp_path), "--n", "10",
                                      "--metrics", "fid,kid", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "overall" in result.output and "cat" in result.output and "dog" in result.output
    written = json.loads(out.read_text())
    assert written["overall"]["n_fake"] == 10 and written["protocol"]["network_sha256"] == PINNED_SHA256
    floor = CliRunner().invoke(app, ["evaluate", "--real", "--data", str(tmp_path), "--metrics", "kid"])
    assert floor.exit_code == 0, floor.output
    assert "real-data floor" in floor.output and "train photos" in floor.output  # not headed "generated"

    published = CliRunner().invoke(app, ["evaluate", str(tiny_model_dir), "--data", str(tmp_path), "--n", "4",
                                         "--metrics", "kid", "--protocol", "published", "--json", str(out)])
    assert published.exit_code == 0, published.output
    written = json.loads(out.read_text())
    assert written["protocol"]["protocol"] == "published" and written["protocol"]["reference_split"] == "train"
    assert written["overall"]["n_real"] == train_images  # the whole training split, though --n is smaller
    code, said = run_cli(["evaluate", str(tiny_model_dir), "--data", str(tmp_path), "--n", "1000000000"],
                         monkeypatch, capsys)
    assert code != 0 and "Traceback" not in said
    assert "--n 1,000,000,000 would take about 772 days of Inception" in said and "the most is 100,000" in said
    code, said = run_cli(["evaluate", str(tiny_model_dir), "--data", str(tmp_path), "--n", "0"], monkeypatch, capsys)
    assert code != 0 and "--n must be between 2 and 100,000, got 0" in said  # not the protocol's 5,000
