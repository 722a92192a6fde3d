"""The default architecture's building blocks keep the properties its design relies on."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from muybridge.models import build_networks, gallop, get_architecture
from muybridge.models.gallop import SUBPIXEL_COMPUTED_OUTPUTS, UP_GAIN, ModulatedConv, ResidualDown, SubpixelToRGB


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
    layer = SubpixelToRGB(8, 4)
    with torch.no_grad():
        out = layer(torch.randn(2, 8, 5, 5), torch.randn(2, 4), skip=torch.zeros(2, 3, 5, 5))
    assert out.shape == (2, 3, 10, 10)
    blocks = out.reshape(2, 3, 5, 2, 5, 2)
    assert torch.allclose(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))
    assert out.std() > 0.1


def test_the_last_layer_computed_as_16_channels_draws_what_12_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the CPU the sub-pixel layer's 12 outputs are computed as 16 (zero filters, dropped) for oneDNN's speed:
    forward and backward are the same as with 12."""
    torch.manual_seed(0)
    layer = SubpixelToRGB(16, 4)
    x, style, skip = torch.randn(3, 16, 6, 6), torch.randn(3, 4), torch.randn(3, 3, 6, 6)
    results = []
    for computed in (12, SUBPIXEL_COMPUTED_OUTPUTS):
        monkeypatch.setattr(gallop, "SUBPIXEL_COMPUTED_OUTPUTS", computed)
        layer.zero_grad()
        out = layer(x.contiguous(memory_format=torch.channels_last), style, skip)
        out.square().sum().backward()
        results.append((out.detach(), layer.weight.grad.clone()))
    assert SUBPIXEL_COMPUTED_OUTPUTS == 16
    assert torch.allclose(results[0][0], results[1][0], atol=1e-6)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-5)


def test_fused_layers_compute_the_plain_formulas() -> None:
    """The rendering fast paths (1x1 layers as batched products, the skip's upsampling as a convolution to the
    sub-pixel phases, output scales and bias in one pass) compute what the textbook formulas say, gradients too."""
    torch.manual_seed(0)
    features, style_input = torch.randn(3, 8, 5, 5), torch.randn(3, 4)
    with torch.no_grad():
        for layer in (ModulatedConv(8, 6, 4), ModulatedConv(8, 6, 4, up=True), ModulatedConv(8, 3, 4, kernel=1,
                                                                                           demodulate=False)):
            torch.nn.init.normal_(layer.bias)
            assert torch.allclose(layer(features, style_input), plain_modulated_conv(layer, features, style_input),
                                  atol=1e-5)
        last = SubpixelToRGB(8, 4)
        torch.nn.init.normal_(last.weight)
        torch.nn.init.normal_(last.bias)
    skip = torch.randn(3, 3, 5, 5, requires_grad=True)
    styles = last.affine(style_input) * last.input_gain
    expected = F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False) + F.pixel_shuffle(
        F.conv2d(features * styles[:, :, None, None], last.weight * last.scale, padding=1), 2) + last.bias[
        None, :, None, None]
    drawn = last(features, style_input, skip=skip)
    assert torch.allclose(drawn, expected, atol=1e-5)
    weights = torch.randn_like(drawn)
    (skip_grad,) = torch.autograd.grad((expected * weights).sum(), skip)
    assert torch.allclose(torch.autograd.grad((drawn * weights).sum(), skip)[0], skip_grad, atol=1e-5)


def plain_modulated_conv(layer: ModulatedConv, features: torch.Tensor, style_input: torch.Tensor) -> torch.Tensor:
    styles = layer.affine(style_input) * layer.input_gain
    weight = layer.weight * layer.scale
    modulated = features * styles[:, :, None, None]
    if layer.up:
        upsampled = F.conv_transpose2d(modulated, weight.transpose(0, 1), stride=2, padding=1)
        kernel = torch.tensor([1.0, 2.0, 1.0]).outer(torch.tensor([1.0, 2.0, 1.0])) / 16
        padded = F.pad(upsampled, [1, 1, 1, 1], mode="replicate")
        out = F.conv2d(padded, kernel.expand(weight.shape[0], 1, 3, 3), groups=weight.shape[0]) * UP_GAIN
    else:
        out = F.conv2d(modulated, weight, padding=layer.kernel // 2)
    if layer.demodulate:
        out = out / (styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8).sqrt()[:, :, None, None]
    return out + layer.bias[None, :, None, None]


def test_residual_down_skip_is_average_pooling_then_1x1_convolution() -> None:
    torch.manual_seed(0)
    block = ResidualDown(4, 6)
    images = torch.randn(3, 4, 8, 8)
    skip = block.skip.weight * block.skip.scale
    expected = F.leaky_relu(block.conv(images), 0.2) + F.conv2d(F.avg_pool2d(images, 2), skip)
    with torch.no_grad():
        assert torch.allclose(block(images), expected, atol=1e-5)


def test_gallop_below_64_px_is_sized_to_the_picture() -> None:
    """A 32-px model's levels are as wide as the 64-px model's at the same fraction of the picture; from 64 px
    up the widths are the bundled model's; a width the config gives is kept."""
    from muybridge.training.config import at_resolution, resolve_config
    from muybridge.training.loop import model_config

    def widths(resolution: int, params: dict[str, int] | None = None) -> list[int]:
        config = model_config(resolve_config({"params": params or {}}), ["cat"], resolution)
        decoder = build_networks(config).decoder
        return [block[-1].weight.shape[0] for block in decoder.convs]

    assert widths(64) == [128, 128, 64, 32]
    assert widths(32) == [128, 64, 32]  # the 64-px model's widths at 8, 16 and 32 px
    assert widths(32, {"channel_base": 1024}) == [128, 128, 64]
    assert at_resolution(resolve_config({}), 128).params["channel_base"] == 1024
