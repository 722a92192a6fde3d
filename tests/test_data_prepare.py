"""prepare_dataset and open_dataset: outcome per file, duplicates, splits, atomicity, real data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data
from PIL import Image

from muybridge.data import decode_image, open_dataset, prepare_dataset
from muybridge.data.sources import parse_holdout
from muybridge.errors import MuybridgeError

SIZE = 16


def solid_pattern(index: int, side: int = 32) -> Image.Image:
    """A distinct two-tone picture per ``index`` (left and right halves differ)."""
    pixels = np.zeros((side, side, 3), dtype=np.uint8)
    pixels[:, : side // 2] = ((index * 37) % 256, (index * 91 + 40) % 256, (index * 53 + 90) % 256)
    pixels[:, side // 2:] = (255 - (index * 37) % 256, 30, 200)
    return Image.fromarray(pixels)


def make_tree(root: Path, cats: int = 6, dogs: int = 5, bad: bool = True) -> Path:
    """root/cat/*.png and root/dog/*.png good pictures, plus (``bad``) one of every bad kind in root/cat."""
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    for index in range(cats):
        solid_pattern(index).save(root / "cat" / f"cat_{index:02d}.png")
    for index in range(dogs):
        solid_pattern(100 + index).save(root / "dog" / f"dog_{index:02d}.png")
    if bad:
        add_bad_files(root / "cat")
        (root / "README.md").write_text("loose file at the top")
    return root


def add_bad_files(folder: Path) -> None:
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    Image.new("RGB", (5, 5), "red").save(folder / "tiny.png")
    jpeg = folder / "truncated.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(jpeg)
    jpeg.write_bytes(jpeg.read_bytes()[:800])
    (folder / "gone.png").symlink_to(folder / "missing.png")
    shutil.copy(folder / "cat_00.png", folder / "zz_copy_of_cat_00.png")


def by_rel(meta: dict) -> dict[str, dict]:
    return {entry["rel"]: entry for entry in meta["sources"]}


def test_prepare_reports_every_file(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "pets")
    meta = prepare_dataset([root], tmp_path / "out", size=SIZE, workers=1)
    assert meta["classes"] == ["cat", "dog"]
    assert meta["count"] == 11 and meta["counts"]["per_class"] == {"cat": 6, "dog": 5}
    assert meta["counts"]["per_split"] == {"train": 11, "heldout": 0}
    entries = by_rel(meta)
    expected = {"cat/empty.jpg": "empty", "cat/notes.jpg": "not an image", "cat/tiny.png": "too small",
                "cat/truncated.jpg": "truncated", "cat/gone.png": "unreadable",
                "cat/zz_copy_of_cat_00.png": "duplicate", "README.md": "ignored"}
    for rel, category in expected.items():
        assert entries[rel]["outcome"] == "skipped" and entries[rel]["category"] == category, rel
        assert entries[rel]["reason"]
    assert str(root / "cat" / "cat_00.png") in entries["cat/zz_copy_of_cat_00.png"]["reason"]
    assert entries["cat/cat_03.png"]["outcome"] == "kept" and len(entries["cat/cat_03.png"]["sha256"]) == 64
    assert sum(meta["skipped"].values()) == len(expected)
    assert len(meta["sources"]) == 11 + len(expected)


def test_round_trip_matches_decode_image(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "pets", cats=3, dogs=2)
    prepare_dataset([root], tmp_path / "out", size=SIZE, workers=1)
    dataset = open_dataset(tmp_path / "out")
    kept = [root / "cat" / f"cat_{i:02d}.png" for i in range(3)] + [root / "dog" / f"dog_{i:02d}.png"
                                                                   for i in range(2)]
    expected = np.stack([decode_image(path, SIZE) for path in kept])
    np.testing.assert_array_equal(dataset.images(), expected)
    np.testing.assert_array_equal(dataset.labels(), [0, 0, 0, 1, 1])
    assert dataset.labels().dtype == np.int64
    np.testing.assert_array_equal(dataset.images(class_name="dog"), expected[3:])
    assert dataset.count() == 5 and dataset.count("heldout") == 0
    assert dataset.images("heldout").shape == (0, SIZE, SIZE, 3)
    assert dataset.resolution == SIZE and dataset.content_hash == dataset.meta["content_hash"]


def test_workers_do_not_change_the_result(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "pets")
    one = prepare_dataset([root], tmp_path / "one", size=SIZE, workers=1)
    two = prepare_dataset([root], tmp_path / "two", size=SIZE, workers=2)
    assert one["content_hash"] == two["content_hash"]
    assert [e["outcome"] for e in one["sources"]] == [e["outcome"] for e in two["sources"]]


def test_content_hash_depends_on_labels(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "pets", cats=3, dogs=2)
    by_folder = prepare_dataset([root], tmp_path / "a", size=SIZE, workers=1)
    one_class = prepare_dataset([root], tmp_path / "b", size=SIZE, class_name="pet", workers=1)
    again = prepare_dataset([root], tmp_path / "c", size=SIZE, workers=1)
    assert one_class["classes"] == ["pet"]
    assert by_folder["content_hash"] == again["content_hash"] != one_class["content_hash"]


def test_holdout_files_from_several_roots(tmp_path: Path) -> None:
    cats = make_tree(tmp_path / "cats_src", dogs=0, bad=False)
    dogs = make_tree(tmp_path / "dogs_src", cats=0, bad=False)
    (cats / "heldout.txt").write_text("cat/cat_01.png\ncat/cat_04.png\n")
    (dogs / "heldout.txt").write_text("# held-out dogs\ndog/dog_02.png\ndog/not_there.png\n")
    meta = prepare_dataset([cats, dogs], tmp_path / "out", size=SIZE, workers=1,
                           holdout=[str(cats / "heldout.txt"), str(dogs / "heldout.txt")])
    assert meta["counts"]["per_class_split"] == {"cat": {"train": 4, "heldout": 2},
                                                 "dog": {"train": 4, "heldout": 1}}
    assert meta["holdout"]["unmatched_lines"] == 1
    assert meta["holdout"]["unmatched_examples"] == ["dog/not_there.png"]
    held_out_dog = open_dataset(tmp_path / "out").images("heldout", "dog")[0]
    np.testing.assert_array_equal(held_out_dog, decode_image(dogs / "dog/dog_02.png", SIZE))


def test_holdout_fraction_is_deterministic_and_close(tmp_path: Path) -> None:
    rule = parse_holdout(["0.3"])
    files = []
    for i in range(2000):
        files.append(tmp_path / f"cat_{i:05d}.jpg")
        files[-1].write_bytes(f"photo {i}".encode())
    chosen = [path for path in files if rule.is_heldout(path, path.name)]
    assert chosen == [path for path in files if parse_holdout(["0.3"]).is_heldout(path, path.name)]
    assert 0.26 < len(chosen) / len(files) < 0.34


def test_holdout_fraction_follows_content_not_names_or_order(tmp_path: Path) -> None:
    """Two flat folders named alike (0000.png, ...) get independent held-out sets, whatever their order."""
    rng = np.random.default_rng(5)
    folders = [tmp_path / name for name in ("otters", "badgers")]
    for folder in folders:
        folder.mkdir()
        for i in range(40):
            Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")

    def heldout_names(order: list[Path], out: str) -> dict[str, set[str]]:
        prepare_dataset(order, tmp_path / out, size=SIZE, workers=1, holdout=["0.25"])
        entries = json.loads((tmp_path / out / "dataset.json").read_text())["sources"]
        return {name: {Path(e["path"]).name for e in entries if e["class"] == name and e["split"] == "heldout"}
                for name in ("otters", "badgers")}

    forward, backward = heldout_names(folders, "a"), heldout_names(folders[::-1], "b")
    assert forward == backward
    assert forward["otters"] and forward["badgers"] and forward["otters"] != forward["badgers"]


@pytest.mark.parametrize("values", [["1.5"], ["0.1", "0.2"], ["/no/such/heldout.txt"]])
def test_bad_holdout_values(values: list[str]) -> None:
    with pytest.raises(MuybridgeError):
        parse_holdout(values)


def test_flat_folder_loose_files_and_videos(tmp_path: Path) -> None:
    flat = tmp_path / "foxes"
    flat.mkdir()
    for index in range(3):
        solid_pattern(200 + index).save(flat / f"fox_{index}.png")
    frames = [solid_pattern(50 + i, side=40).convert("P") for i in range(3)]
    frames[0].save(flat / "run.gif", save_all=True, append_images=frames[1:], duration=250, loop=0)
    loose = tmp_path / "loose" / "owl.png"
    loose.parent.mkdir()
    solid_pattern(300).save(loose)
    meta = prepare_dataset([flat, loose], tmp_path / "out", size=SIZE, fps=4, workers=1)
    assert meta["classes"] == ["foxes", "loose"]
    assert by_rel(meta)["run.gif"]["frames_kept"] == 3
    assert meta["counts"]["per_class"] == {"foxes": 6, "loose": 1}
    named = prepare_dataset([flat], tmp_path / "named", size=SIZE, class_name="fox", workers=1)
    assert named["classes"] == ["fox"] and named["count"] == 6


def test_nothing_usable_leaves_nothing_behind(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.jpg").write_bytes(b"")
    (junk / "b.png").write_text("nope")
    with pytest.raises(MuybridgeError, match="no usable image"):
        prepare_dataset([junk], tmp_path / "out", size=SIZE, workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk"]


def test_interrupted_prepare_leaves_nothing_behind(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "pets")

    def interrupt(done: int, total: int | None, /, **info: float | str) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_dataset([root], tmp_path / "out", size=SIZE, workers=2, progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets"]


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "pets", cats=2, dogs=2)
    out = tmp_path / "out"
    prepare_dataset([root], out, size=SIZE, workers=1)
    with pytest.raises(MuybridgeError, match="--overwrite"):
        prepare_dataset([root], out, size=SIZE, workers=1)
    meta = prepare_dataset([root], out, size=24, workers=1, overwrite=True)
    assert open_dataset(out).resolution == 24 == meta["resolution"]
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    with pytest.raises(MuybridgeError, match="not a dataset"):
        prepare_dataset([root], precious, size=SIZE, workers=1, overwrite=True)
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MuybridgeError, match="no such file"):
        prepare_dataset([tmp_path / "nowhere"], tmp_path / "out", workers=1)


def test_open_dataset_refuses_damaged_folders(tmp_path: Path) -> None:
    with pytest.raises(MuybridgeError, match="no such dataset"):
        open_dataset(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MuybridgeError, match="not a dataset folder"):
        open_dataset(tmp_path / "empty")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "dataset.json").write_text(json.dumps({"name": "something else"}))
    with pytest.raises(MuybridgeError, match="not a muybridge dataset"):
        open_dataset(foreign)
    (foreign / "dataset.json").write_text("{broken")
    with pytest.raises(MuybridgeError, match="unreadable"):
        open_dataset(foreign)
    root = make_tree(tmp_path / "pets", cats=2, dogs=2)
    out = tmp_path / "out"
    prepare_dataset([root], out, size=SIZE, workers=1)
    np.save(out / "labels.npy", np.zeros(3, dtype=np.int64))
    with pytest.raises(MuybridgeError, match="damaged"):
        open_dataset(out)
    (out / "images-00000.npy").write_bytes(b"truncated")
    with pytest.raises(MuybridgeError, match="images-00000.npy"):
        open_dataset(out)


@pytest.mark.slow
def test_real_cats_and_dogs_with_their_heldout_files(tmp_path: Path) -> None:
    cats, dogs = shared_data("cat_faces_64"), shared_data("dogfacenet_224")
    meta = prepare_dataset([cats, dogs], tmp_path / "catdog", size=64, workers=2,
                           holdout=[str(cats / "heldout.txt"), str(dogs / "heldout.txt")])
    assert meta["counts"]["per_class"] == {"cat": 9294, "dog": 6316}
    assert meta["counts"]["per_class_split"]["cat"]["heldout"] == 924
    assert meta["counts"]["per_class_split"]["dog"]["heldout"] == 663
    assert meta["holdout"]["unmatched_lines"] == 0
    dataset = open_dataset(tmp_path / "catdog")
    assert dataset.images("heldout").shape == (1587, 64, 64, 3)
