"""Find the input files of ``prepare`` and decide each one's class and split before anything is decoded.

Class rules: ``--class NAME`` puts everything in NAME. Otherwise a folder with subfolders has one class per
subfolder (files lying directly in it are skipped); a flat folder is one class named after the folder;
a file given directly takes its parent folder's name.

Each file has a relative path ``rel`` (POSIX, relative to the SRC it was found under; just its name for a
file given directly). Held-out files are named by ``rel``: holdout files list such paths, one a line, and
a line matches in every SRC; a fraction holds out files whose ``sha1(rel)`` falls below it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from muybridge.data.decode import ANIMATION_EXTENSIONS, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from muybridge.errors import MuybridgeError

SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class SourceFile:
    path: Path
    rel: str
    class_name: str | None
    kind: str
    """``image``, ``video`` (frames sampled), or ``other`` (skipped with ``skip_reason``)."""
    split: str = "train"
    skip_reason: str | None = None


@dataclass(frozen=True)
class HoldoutRule:
    """Either the relative paths read from holdout files, or a fraction of files chosen by the hash of their
    bytes: not of their names, which flat folders share (``0000.jpg`` in each), nor of their order."""

    paths: frozenset[str] = frozenset()
    fraction: float = 0.0
    files: tuple[str, ...] = ()

    def is_heldout(self, path: Path, rel: str) -> bool:
        if self.fraction:
            return _hash_fraction(_file_sha1(path, rel)) < self.fraction
        return rel in self.paths

    def describe(self) -> dict[str, object]:
        if self.fraction:
            return {"fraction": self.fraction, "rule": "sha1(file bytes) < fraction"}
        return {"files": list(self.files), "lines": len(self.paths)}


def parse_holdout(values: list[str] | None) -> HoldoutRule:
    """``--holdout`` values: one fraction in (0, 1), or one or more files of relative paths."""
    if not values:
        return HoldoutRule()
    fractions = [v for v in values if _is_number(v)]
    if fractions:
        if len(values) > 1:
            raise MuybridgeError("--holdout: give either one fraction (e.g. 0.1) or one or more files, "
                                 "not several values with a fraction among them")
        fraction = float(fractions[0])
        if not 0.0 < fraction < 1.0:
            raise MuybridgeError(f"--holdout {fractions[0]}: a fraction must be between 0 and 1 (exclusive)")
        return HoldoutRule(fraction=fraction)
    paths: set[str] = set()
    for value in values:
        paths.update(_read_holdout_file(Path(value)))
    return HoldoutRule(paths=frozenset(paths), files=tuple(values))


def discover(roots: list[Path], class_name: str | None, holdout: HoldoutRule) -> list[SourceFile]:
    """Every input file under ``roots`` (in the order given, each sorted by path), hidden files excluded."""
    if not roots:
        raise MuybridgeError("no SRC given: name image files, folders or videos to prepare")
    found: list[SourceFile] = []
    for root in roots:
        if not root.exists():
            raise MuybridgeError(f"{root}: no such file or folder")
        found.extend(_discover_root(root, class_name))
    return [_with_split(item, holdout) for item in found]


def unmatched_holdout_lines(holdout: HoldoutRule, sources: list[SourceFile]) -> list[str]:
    seen = {item.rel for item in sources}
    return sorted(holdout.paths - seen)


def _discover_root(root: Path, class_name: str | None) -> list[SourceFile]:
    if root.is_file():
        return [_classify(root, root.name, class_name or root.resolve().parent.name)]
    candidates = (p for p in root.rglob("*") if not _is_hidden(p.relative_to(root)))
    files = sorted(filter(_is_file_or_broken_link, candidates), key=lambda p: p.relative_to(root).as_posix())
    has_subfolders = any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir())
    items = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if class_name:
            items.append(_classify(path, rel, class_name))
        elif not has_subfolders:
            items.append(_classify(path, rel, root.resolve().name))
        elif "/" in rel:
            items.append(_classify(path, rel, rel.split("/", 1)[0]))
        else:
            reason = "not inside a class subfolder (use --class NAME for a flat folder)"
            items.append(SourceFile(path, rel, None, "other", skip_reason=reason))
    return items


def _classify(path: Path, rel: str, class_name: str) -> SourceFile:
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS or suffix in ANIMATION_EXTENSIONS:
        return SourceFile(path, rel, class_name, "video")
    if suffix in IMAGE_EXTENSIONS:
        return SourceFile(path, rel, class_name, "image")
    return SourceFile(path, rel, class_name, "other",
                      skip_reason=f"not an image or video file (extension '{suffix or 'none'}')")


def _with_split(item: SourceFile, holdout: HoldoutRule) -> SourceFile:
    if not (holdout.paths or holdout.fraction) or not holdout.is_heldout(item.path, item.rel):
        return item
    return SourceFile(item.path, item.rel, item.class_name, item.kind, "heldout", item.skip_reason)


def _read_holdout_file(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MuybridgeError(f"{path}: cannot read the holdout file ({exc})") from None
    lines = (line.strip().replace("\\", "/") for line in text.splitlines())
    paths = {PurePosixPath(line).as_posix() for line in lines if line and not line.startswith("#")}
    if not paths:
        raise MuybridgeError(f"{path}: the holdout file lists no paths")
    return paths


def _file_sha1(path: Path, rel: str) -> bytes:
    """The SHA-1 of a file's bytes (of its name when it cannot be read: it is skipped later, with the reason)."""
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha1").digest()
    except OSError:
        return hashlib.sha1(rel.encode("utf-8")).digest()


def _hash_fraction(digest: bytes) -> float:
    return int.from_bytes(digest[:8], "big") / 2**64


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return not Path(value).exists()


def _is_file_or_broken_link(path: Path) -> bool:
    """Broken links are listed too, so that they are reported as unreadable instead of vanishing."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)
