"""muybridge: learn animal characters from photos with GANs, then render and animate them."""

from muybridge.errors import MuybridgeError
from muybridge.generator import Generator

__version__ = "0.1.0"
__all__ = ["Generator", "MuybridgeError", "__version__"]
