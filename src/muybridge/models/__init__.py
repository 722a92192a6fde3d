"""Networks: registered architectures and the model-folder format."""

from muybridge.models import dcgan, gallop  # noqa: F401  (registers the built-in architectures)
from muybridge.models.registry import (
    ARCHITECTURES,
    Architecture,
    Decoder,
    Networks,
    build_networks,
    get_architecture,
    register_architecture,
)

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Decoder",
    "Networks",
    "build_networks",
    "get_architecture",
    "register_architecture",
]
