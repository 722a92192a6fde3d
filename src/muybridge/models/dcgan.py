"""``dcgan``: pytorch/examples' DCGAN (Radford et al. 2015), made class-conditional. The baseline to beat.

Architecture and hyper-parameters follow the example: nz=100, ngf=ndf=64, transposed 4x4 convolutions
with BatchNorm and ReLU in G, strided 4x4 convolutions with BatchNorm and LeakyReLU(0.2) in D,
Adam(lr 2e-4, betas 0.5/0.999), non-saturating logistic loss, no augmentation. Conditioning: the class
embedding is concatenated to z in G, and D adds a projection term (Miyato & Koyama 2018).
Works at any power-of-two resolution from 16 px.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

import torch
from torch import nn

from muybridge.models.registry import Architecture, Decoder, register_architecture


def _init_dcgan(module: nn.Module) -> None:
    """The example's init: N(0, 0.02) for convolutions, N(1, 0.02) for BatchNorm gains."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def _levels(resolution: int) -> int:
    """Number of 2x steps between 4x4 and the output resolution."""
    levels = int(math.log2(resolution)) - 2
    if 2 ** (levels + 2) != resolution or levels < 2:
        raise ValueError(f"resolution must be a power of two >= 16, got {resolution}")
    return levels


class DCGANDecoder(Decoder):
    def __init__(self, resolution: int, num_classes: int, latent_dim: int, ngf: int, embed_dim: int) -> None:
        super().__init__(resolution, num_classes, latent_dim)
        levels = _levels(resolution)
        self.class_embedding = nn.Linear(num_classes, embed_dim, bias=False)
        width = ngf * 2 ** (levels - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + embed_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(levels - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        _init_dcgan(self)

    def forward(self, latents: torch.Tensor, class_weights: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([latents, self.class_embedding(class_weights)], dim=1)
        return self.main(inputs[:, :, None, None])

    def latent_projection(self) -> torch.Tensor:
        first = cast(nn.ConvTranspose2d, self.main[0]).weight  # (in, out, 4, 4): a transposed convolution
        return first[: self.latent_dim].permute(1, 2, 3, 0).reshape(-1, self.latent_dim)


class DCGANBody(nn.Module):
    """The discriminator's strided-conv stack, shared in shape by D and the encoder."""

    def __init__(self, resolution: int, ndf: int) -> None:
        super().__init__()
        levels = _levels(resolution)
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(levels - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        self.main = nn.Sequential(*layers)
        self.out_channels = width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.main(images)


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int, num_classes: int, ndf: int) -> None:
        super().__init__()
        self.body = DCGANBody(resolution, ndf)
        width = self.body.out_channels
        self.head = nn.Conv2d(width, 1, 4, 1, 0, bias=False)
        self.projection = nn.Embedding(num_classes, width * 16)
        nn.init.normal_(self.projection.weight, 0.0, 0.02)
        _init_dcgan(self)

    def forward(self, images: torch.Tensor, class_index: torch.Tensor) -> torch.Tensor:
        features = self.body(images)
        logits = self.head(features).flatten(1).squeeze(1)
        return logits + (features.flatten(1) * self.projection(class_index)).sum(1)


class DCGANEncoder(nn.Module):
    def __init__(self, resolution: int, latent_dim: int, ndf: int) -> None:
        super().__init__()
        self.body = DCGANBody(resolution, ndf)
        self.head = nn.Conv2d(self.body.out_channels, latent_dim, 4, 1, 0)
        _init_dcgan(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images)).flatten(1)


@register_architecture("dcgan")
class DCGAN(Architecture):
    defaults: ClassVar[dict[str, Any]] = {"ngf": 64, "ndf": 64, "embed_dim": 32}
    training_defaults: ClassVar[dict[str, Any]] = {
        "latent_dim": 100, "loss": "nonsaturating", "lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999],
        "augment": [], "r1_gamma": 0.0, "ema_kimg": 0.0, "batch": 64,
    }
    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {"ngf": (32, 64, 128), "ndf": (32, 64, 128)}

    def build_decoder(self) -> Decoder:
        return DCGANDecoder(self.resolution, self.num_classes, self.latent_dim, self.params["ngf"],
                            self.params["embed_dim"])

    def build_encoder(self) -> nn.Module:
        return DCGANEncoder(self.resolution, self.latent_dim, self.params["ndf"])

    def build_discriminator(self) -> nn.Module:
        return DCGANDiscriminator(self.resolution, self.num_classes, self.params["ndf"])
