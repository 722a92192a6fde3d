"""The default architecture's building blocks keep the properties its design relies on."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from muybridge.models import build_networks, get_architecture
from muybridge.models.gallop import ModulatedConv, ResidualDown


def gallop_decoder(resolution: int = 64) -> torch.nn.Module:
    torch.manual_seed(0)
    config = {"architecture": "gallop", "params": dict(get_architecture("gallop").defaults),
              "resolution": resolution, "classes": ["cat", "dog"], "latent_dim": 128}
    return build_networks(config).decoder


def test_every_decoder_resolution_carries_signal_at_initialisation() -> None:
    """Upsampling must keep the signal's scale: when it shrank it five-fold per step, the high resolutions
    started silent and the samples were the 4x4 layer's colours, upsampled."""
    decoder = gallop_decoder()
    spread: dict[int, float] = {}

    def record(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
        if output.shape[1] > 3:  # feature layers, not RGB
            spread[output.shape[-1]] = float(output.std())

    for module in decoder.modules():
        if isinstance(module, ModulatedConv):
            module.register_forward_hook(record)
    with torch.no_grad():
        decoder(torch.randn(16, 128), F.one_hot(torch.arange(16) % 2, 2).float())
    assert sorted(spread) == [4, 8, 16, 32]
    assert min(spread.values()) > 0.25 * max(spread.values()), spread


def test_subpixel_layer_starts_as_nearest_neighbour_upsampling() -> None:
    """ICNR initialisation: the four sub-pixel phases start equal, so no checkerboard at the start."""
    torch.manual_seed(0)
    layer = ModulatedConv(8, 3, 4, subpixel=True, demodulate=False)
    with torch.no_grad():
        out = layer(torch.randn(2, 8, 5, 5), torch.randn(2, 4))
    assert out.shape == (2, 3, 10, 10)
    blocks = out.reshape(2, 3, 5, 2, 5, 2)
    assert torch.allclose(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))
    assert out.std() > 0.1


def test_residual_down_skip_is_average_pooling_then_1x1_convolution() -> None:
    torch.manual_seed(0)
    block = ResidualDown(4, 6)
    images = torch.randn(3, 4, 8, 8)
    skip = block.skip.weight * block.skip.scale
    expected = F.leaky_relu(block.conv(images), 0.2) + F.conv2d(F.avg_pool2d(images, 2), skip)
    with torch.no_grad():
        assert torch.allclose(block(images), expected, atol=1e-5)
