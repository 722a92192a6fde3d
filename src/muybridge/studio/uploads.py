"""Uploads into a staging folder: loose images or zip archives, with limits on size and count.

Zip archives are extracted member by member: absolute names, ``..`` parts, backslashes and symlinks are
refused (zip-slip), the bytes actually written are counted against the limit (the sizes a zip declares
are not trusted), and hidden entries (``__MACOSX/``, ``.DS_Store``) are skipped. The images themselves
are decoded later by ``prepare_dataset``, with the same safe decoder as ``muybridge prepare``.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from muybridge.data.decode import ANIMATION_EXTENSIONS, IMAGE_EXTENSIONS
from muybridge.studio.errors import StudioError, TooLarge

UPLOAD_EXTENSIONS = IMAGE_EXTENSIONS | ANIMATION_EXTENSIONS
COPY_CHUNK = 1 << 20
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 512 * 2**20
    """Largest request body, and largest total of extracted bytes."""
    max_files: int = 20_000
    """Most images in one upload (loose files plus zip members)."""


class _Budget:
    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def count_file(self, name: str) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise TooLarge(f"{name}: more than {self.limits.max_files} files in one upload")

    def count_bytes(self, name: str, amount: int) -> None:
        self.bytes += amount
        if self.bytes > self.limits.max_bytes:
            raise TooLarge(f"{name}: the upload unpacks to more than {self.limits.max_bytes // 2**20} MiB")


def safe_filename(name: str, index: int) -> str:
    """The last part of a client's file name, reduced to safe characters and numbered to stay unique."""
    base = PurePosixPath(name.replace("\\", "/")).name
    stem, suffix = base.rsplit(".", 1) if "." in base else (base, "")
    stem = _UNSAFE_CHARACTERS.sub("_", stem).strip("._")[:60] or "file"
    return f"{index:05d}-{stem}.{suffix.lower()}" if suffix else f"{index:05d}-{stem}"


def _copy_limited(source: IO[bytes], target: Path, name: str, budget: _Budget) -> None:
    with open(target, "wb") as handle:
        while chunk := source.read(COPY_CHUNK):
            budget.count_bytes(name, len(chunk))
            handle.write(chunk)


def zip_member_path(info: zipfile.ZipInfo, archive_name: str) -> PurePosixPath | None:
    """The member's relative path, ``None`` for what is skipped; refuses every unsafe entry."""
    raw = info.filename
    path = PurePosixPath(raw)
    unsafe = (raw.startswith(("/", "\\")) or "\\" in raw or re.match(r"^[A-Za-z]:", raw) is not None
              or any(part == ".." for part in path.parts))
    if unsafe:
        raise StudioError(f"{archive_name}: unsafe entry {raw!r} (absolute or '..' path); "
                          "refusing the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise StudioError(f"{archive_name}: entry {raw!r} is a symbolic link; refusing the archive")
    if info.is_dir() or any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
        return None
    return path


def extract_zip(archive: Path, destination: Path, archive_name: str, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [(info, zip_member_path(info, archive_name)) for info in bundle.infolist()]
            for info, relative in members:
                if relative is None:
                    continue
                budget.count_file(archive_name)
                if info.file_size > budget.limits.max_bytes:
                    raise TooLarge(f"{archive_name}: entry {info.filename!r} is larger than the upload limit")
                target = destination.joinpath(*relative.parts)
                if not target.resolve().is_relative_to(destination.resolve()):
                    raise StudioError(f"{archive_name}: entry {info.filename!r} leads outside the upload")
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as member:
                    _copy_limited(member, target, archive_name, budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise StudioError(f"{archive_name}: not a readable zip archive ({exc})") from None


def stage_upload(files: Iterable[tuple[str, IO[bytes]]], staging: Path, class_folder: str,
                 limits: UploadLimits) -> Path:
    """Put uploaded ``(client name, stream)`` pairs under ``staging`` and return the folder to prepare.

    Loose images go to ``staging/CLASS_FOLDER/`` (one class). Zips are extracted into ``staging/`` keeping
    their folders (one class per subfolder); a zip holding a single top folder is looked into.
    """
    budget = _Budget(limits)
    loose = staging / class_folder
    archives = staging / "archives"
    count = 0
    for index, (name, stream) in enumerate(files):
        count += 1
        filename = safe_filename(name or "upload", index)
        suffix = PurePosixPath(filename).suffix
        if suffix == ".zip":
            archives.mkdir(parents=True, exist_ok=True)
            archive = archives / filename
            _copy_limited(stream, archive, name, budget)
            extract_zip(archive, staging / "unzipped", name, budget)
            archive.unlink()
        elif suffix in UPLOAD_EXTENSIONS:
            budget.count_file(name)
            loose.mkdir(parents=True, exist_ok=True)
            _copy_limited(stream, loose / filename, name, budget)
        else:
            raise StudioError(f"{name}: not an image or a zip archive (extension '{suffix or 'none'}')")
    if count == 0:
        raise StudioError("no files uploaded: send images or a zip archive")
    shutil.rmtree(archives, ignore_errors=True)
    return _source_folder(staging, loose)


def _source_folder(staging: Path, loose: Path) -> Path:
    """Folders become classes; a flat set of images is one class (a zip's single flat folder names it)."""
    root = staging / "unzipped"
    if not root.is_dir():
        return loose
    entries = _visible(root)
    while len(entries) == 1 and entries[0].is_dir():  # look into wrapper folders
        root, entries = entries[0], _visible(entries[0])
    if any(entry.is_dir() for entry in entries):
        if loose.is_dir():  # loose images beside class folders: one more class
            shutil.move(str(loose), str(root / loose.name))
        return root
    if loose.is_dir() or root == staging / "unzipped":
        loose.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            shutil.move(str(entry), str(loose / entry.name))
        return loose
    return root


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
