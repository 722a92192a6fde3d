"""The studio's workspace folder, and the one place where user-supplied names become paths.

Layout: ``models/NAME`` (model folders), ``datasets/NAME`` (prepared datasets), ``runs/NAME`` (training
runs), ``outputs/`` (saved images and animations), ``pets/`` (inverted photos), ``.staging/`` (uploads
being prepared) and ``.tmp/``.
Every name from a request goes through :func:`check_name` and every path through :meth:`Workspace.inside`,
which resolves symlinks and refuses anything that lands outside the workspace.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath

from muybridge.studio.errors import NotFound, StudioError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
AREAS = ("models", "datasets", "runs", "outputs", "pets", ".staging", ".tmp")


def check_name(name: str, what: str = "name") -> str:
    """A folder or file name: letters, digits, ``.``, ``_``, ``-``; no separators, no ``..``, 64 at most."""
    if not NAME_PATTERN.match(name) or ".." in name:
        raise StudioError(f"bad {what} {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    return name


class Workspace:
    """A folder the studio owns; created with its areas on first use."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        for area in AREAS:
            (self.root / area).mkdir(parents=True, exist_ok=True)
        for leftover in (self.root / ".staging").iterdir():  # uploads a killed server left half-done
            shutil.rmtree(leftover, ignore_errors=True)

    def inside(self, *parts: str) -> Path:
        """``root/parts...`` resolved (symlinks followed); refuses absolute parts, ``..`` and escapes."""
        relative = PurePosixPath(*parts) if parts else PurePosixPath(".")
        if relative.is_absolute() or any(part == ".." for part in relative.parts) or "\\" in str(relative):
            raise StudioError(f"bad path {str(relative)!r}: only names inside the workspace are allowed")
        resolved = (self.root / relative).resolve()
        if not resolved.is_relative_to(self.root):
            raise StudioError(f"bad path {str(relative)!r}: it leads outside the workspace")
        return resolved

    def area(self, area: str, name: str, what: str = "name") -> Path:
        """``root/area/name`` for a checked name, safe to create, read or delete.

        A symlink there must stay in the same area: a link from ``models/x`` to a dataset is refused too,
        so that deleting a model can never delete something else.
        """
        path = self.inside(area, check_name(name, what))
        if path.parent != self.root / area:
            raise StudioError(f"bad {what} {name!r}: it is a link to somewhere else")
        return path

    def existing(self, area: str, name: str, what: str) -> Path:
        path = self.area(area, name, what)
        if not path.exists():
            raise NotFound(f"no {what} named {name!r}")
        return path

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()
