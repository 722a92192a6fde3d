"""muybridge: learn animal characters from photos with GANs, then render and animate them.

``Generator`` is imported on first use (it brings in torch), so ``import muybridge.cli`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from muybridge.errors import MuybridgeError

if TYPE_CHECKING:
    from muybridge.generator import Generator

__version__ = "0.1.0"
__all__ = ["Generator", "MuybridgeError", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Generator":
        from muybridge.generator import Generator

        return Generator
    raise AttributeError(f"module 'muybridge' has no attribute {name!r}")
