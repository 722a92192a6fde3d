"""Networks: registered architectures, the model config and the model-folder format."""

from muybridge.models import dcgan, gallop  # noqa: F401  (registers the built-in architectures)
from muybridge.models.config import ModelConfig, build_networks
from muybridge.models.registry import (
    ARCHITECTURES,
    Architecture,
    Decoder,
    Networks,
    get_architecture,
    register_architecture,
)

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Decoder",
    "ModelConfig",
    "Networks",
    "build_networks",
    "get_architecture",
    "register_architecture",
]
