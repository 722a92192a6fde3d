"""``gallop``: the default architecture, a small class-conditional GAN built for CPU speed and small data.

Decoder: a learned 4x4 constant refined by style-modulated convolutions (StyleGAN2's modulation and
demodulation, applied to activations so plain convolutions do the work), 2x transposed-conv upsampling
(blurred, with a gain that keeps the signal's scale), and skip connections to RGB at every scale. The style
of every layer is an affine map of ``[z, class embedding]``: no mapping network, so scaling ``z`` is exact
truncation towards the mean style and the affine weights give closed-form semantic directions. Every
sample is computed on its own.

Nothing runs at full resolution: the last layer maps half-resolution features straight to RGB through a
sub-pixel convolution.

Discriminator: residual strided blocks, minibatch standard deviation, projection conditioning.
Encoder: the same residual trunk, regressing the latent.

Channel width at resolution r is ``clamp(channel_base // r, channel_min, channel_max)``.
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from muybridge.errors import MuybridgeError
from muybridge.models.pose import warp_features
from muybridge.models.registry import Architecture, Decoder, register_architecture

SQRT2 = math.sqrt(2.0)

#: Feature maps are kept channels-last (NHWC): oneDNN's convolutions, the transposed ones above all, run
#: without layout reorders in that format (measured on this CPU: training 18% more images per CPU-second).
#: A no-op where the input already has that layout.
FEATURE_LAYOUT = torch.channels_last


def channels(res: int, params: dict[str, Any]) -> int:
    return int(max(params["channel_min"], min(params["channel_max"], params["channel_base"] // res)))


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate (weights stored at unit scale)."""

    def __init__(self, cin: int, cout: int, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale = 1.0 / math.sqrt(cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The scale goes on the input, a batch of rows, rather than on the weight (the discriminator's fc layer is
        # 128 x 2064: scaling it, and its gradient, took 0.5 ms a call).
        return F.linear(x * self.scale, self.weight, self.bias)


class EqualConv2d(nn.Module):
    """Convolution with equalized learning rate, so one Adam step size suits every layer."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


def blur(x: torch.Tensor) -> torch.Tensor:
    """[1, 2, 1] low-pass filter in both axes. Its response at the stride-2 period is exactly zero, so it removes
    the checkerboard that transposed convolutions leave (StyleGAN2 filters its upsampling the same way)."""
    kernel = x.new_tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    channels = x.shape[1]
    return F.conv2d(F.pad(x, [1, 1, 1, 1], mode="replicate"), kernel.expand(channels, 1, 3, 3), groups=channels)


#: Output gain of the upsampling layer. A 4x4 stride-2 transposed convolution feeds each output pixel from 4
#: of its 16 taps (x2 in amplitude, since demodulation counts all 16), and the blur keeps 0.375 of the amplitude
#: of uncorrelated input: without this gain every upsampling step shrank the signal about five-fold, the high
#: resolutions started silent and the image was the 4x4 layer's colours upsampled (measured: blocky samples,
#: FID 388 vs 283 with the gain after 10 CPU-minutes on cats).
UP_GAIN = 2.0 / 0.375

#: oneDNN's direct convolutions compute output channels in whole blocks of 8 or 16: on the CPU the last layer's 12
#: outputs (3 colours x 4 phases) are computed as 16, four of them from zero filters, and dropped (the same pixels;
#: measured at batch 64 on an AMD EPYC with AVX2: that convolution 22% faster, the whole decoder 2.3%). Other devices
#: and an exported graph keep 12: onnxruntime drew 96 frames 7-9% slower with 16.
SUBPIXEL_COMPUTED_OUTPUTS = 16


class ModulatedConv(nn.Module):
    """Style-modulated convolution. ``up`` makes it a 4x4 stride-2 transposed convolution followed by a blur.

    The output's per-sample scales (demodulation, the upsampling gain) and the bias are applied in one pass, and a
    1x1 layer folds its modulation into per-sample weights (one batched matrix product on the channels-last
    features): rendering is bound by passes over the feature maps as much as by the convolutions."""

    def __init__(self, cin: int, cout: int, style_dim: int, kernel: int = 3, up: bool = False,
                 demodulate: bool = True, input_gain: float = SQRT2) -> None:
        super().__init__()
        self.input_gain = input_gain
        self.up = up
        self.kernel = 4 if up else kernel
        self.demodulate = demodulate
        self.weight = nn.Parameter(torch.randn(cout, cin, self.kernel, self.kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.affine = EqualLinear(style_dim, cin, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(cin * self.kernel**2)

    def forward(self, x: torch.Tensor, style_input: torch.Tensor) -> torch.Tensor:
        with full_precision(x):
            styles = self.affine(style_input) * self.input_gain
            weight = self.weight * self.scale
            x = x.contiguous(memory_format=FEATURE_LAYOUT)
            if self.kernel == 1 and not self.demodulate:
                return pointwise_modulated(x, weight[:, :, 0, 0][None] * styles[:, None, :], self.bias)
            x = x * styles[:, :, None, None]
            gains = styles.new_full((x.shape[0], weight.shape[0]), UP_GAIN if self.up else 1.0)
            if self.demodulate:
                norms = styles.square() @ weight.square().sum(dim=(2, 3)).t()
                gains = gains * torch.rsqrt(norms + 1e-8)
        # The convolutions are the one place reduced precision may run (Generator.decode's reduced-precision autocast).
        if self.up:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2, padding=1)
            with full_precision(x):
                out = blur(out.float())
        else:
            out = F.conv2d(x, weight, padding=self.kernel // 2)
        return torch.addcmul(self.bias[None, :, None, None], out, gains[:, :, None, None])


def full_precision(x: torch.Tensor) -> contextlib.AbstractContextManager[None]:
    """Styles, demodulation, biases and the RGB layers stay in float32 under an autocast: rounding them to bf16
    shifts whole channels (measured on the bundled model: mean error 1.4 grey levels with everything in bf16,
    0.4 with the convolutions alone)."""
    return torch.autocast(x.device.type, enabled=False)


def pointwise_modulated(x: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution with per-sample ``weights`` (N, cout, cin), as one batched matrix product that reads the
    channels-last ``x`` in place; returns a contiguous NCHW tensor (few channels: RGB)."""
    n, channels, height, width = x.shape
    flat = x.reshape(n, channels, height * width)  # a view: channels-last memory is (N, H*W, C) transposed
    return torch.baddbmm(bias[None, :, None], weights, flat).view(n, -1, height, width)


class SubpixelToRGB(ModulatedConv):
    """The last layer: a modulated 3x3 convolution to 4x the RGB channels rearranged to twice the resolution
    (pixel shuffle) and added to the lower resolutions' RGB ``skip`` upsampled. The four phases start equal
    (ICNR initialisation), so it starts as nearest-neighbour upsampling. The skip's bilinear upsampling, with the
    bias, is added in the phase layout (:func:`upsampled_phases`), so one copy of the sum does the shuffle (a
    separate pixel shuffle of channels-last features is a slow gather)."""

    def __init__(self, cin: int, style_dim: int) -> None:
        super().__init__(cin, 3, style_dim, kernel=3, demodulate=False)
        self.weight = nn.Parameter(self.weight.detach().repeat_interleave(4, dim=0))

    def forward(self, x: torch.Tensor, style_input: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        with full_precision(x):
            styles = self.affine(style_input) * self.input_gain
            x = x.contiguous(memory_format=FEATURE_LAYOUT) * styles[:, :, None, None]
        outputs = self.weight.shape[0]
        on_cpu = x.device.type == "cpu" and not torch.compiler.is_exporting()
        computed = max(outputs, SUBPIXEL_COMPUTED_OUTPUTS) if on_cpu else outputs
        weight = F.pad(self.weight * self.scale, [0, 0, 0, 0, 0, 0, 0, computed - outputs])
        out = F.conv2d(x, weight, padding=1)[:, :outputs]
        with full_precision(x):
            out = out + upsampled_phases(skip.to(self.bias.dtype), self.bias)
        n, _, height, width = out.shape
        shuffled = out.view(n, 3, 2, 2, height, width).permute(0, 1, 4, 2, 5, 3)  # (N, 3, H, 2, W, 2)
        return shuffled.reshape(n, 3, 2 * height, 2 * width)


#: Bilinear 2x upsampling (``align_corners=False``) reads each output pixel from two neighbours per axis of the
#: edge-replicated input, with weights by output phase (even, odd) over the offsets -1, 0, +1.
BILINEAR_PHASE_TAPS = ((0.25, 0.75, 0.0), (0.0, 0.75, 0.25))


def upsampled_phases(rgb: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The bilinear 2x upsampling of ``rgb`` ``(N, 3, H, W)``, plus ``bias`` per colour, in the sub-pixel layout
    ``(N, 12, H, W)`` (colour, row phase, column phase), as one fixed 3x3 convolution: on the CPU the same numbers
    as :func:`upsample_rgb` (a GPU's TF32 convolutions round them as they round the others), added to the last
    layer's output before its one shuffling pass: a pass fewer (measured on the bundled model, batch 64, 1 thread:
    the decoder 0.7 ms faster of 87, onnxruntime 2.5 ms of 111)."""
    taps = rgb.new_tensor(BILINEAR_PHASE_TAPS)
    phases = taps[:, None, :, None] * taps[None, :, None, :]  # (row phase, column phase, 3, 3)
    kernel = torch.eye(3, dtype=rgb.dtype, device=rgb.device)[:, None, None, :, None, None] * phases[None, :, :, None]
    padded = F.pad(rgb.contiguous(memory_format=FEATURE_LAYOUT), [1, 1, 1, 1], mode="replicate")
    return F.conv2d(padded, kernel.reshape(12, 3, 3, 3), bias.repeat_interleave(4))


def check_fade_from(params: dict[str, Any], resolution: int) -> int:
    """The ``fade_from`` parameter (0: not fading), refused unless a lower power of two from 8 px."""
    fade_from = int(params.get("fade_from") or 0)
    if fade_from and (fade_from < 8 or fade_from >= resolution or fade_from & (fade_from - 1)):
        raise MuybridgeError(f"fade_from {fade_from}: the resolution a {resolution}-px model was grown from must "
                             "be a power of two from 8 below it")
    return fade_from


def upsample_rgb(rgb: torch.Tensor) -> torch.Tensor:
    return F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)


class GallopDecoder(Decoder):
    takes_pose = True

    def __init__(self, resolution: int, num_classes: int, latent_dim: int, params: dict[str, Any]) -> None:
        super().__init__(resolution, num_classes, latent_dim)
        #: Features are warped by the pose after the block at this resolution (0: the last, half the
        #: output's; smaller ones smear the face unless the model was trained with pose warps: docs/motion.md,
        #: docs/motion-training.md).
        self.pose_resolution = int(params.get("pose_resolution") or resolution // 2)
        embed_dim = params["embed_dim"]
        self.class_embedding = nn.Linear(num_classes, embed_dim, bias=False)
        nn.init.normal_(self.class_embedding.weight)
        style_dim = latent_dim + embed_dim
        resolutions = [2**i for i in range(2, int(math.log2(resolution)))]
        if self.pose_resolution not in resolutions:
            raise MuybridgeError(f"pose_resolution {self.pose_resolution}: the decoder's feature maps are "
                                 f"{', '.join(map(str, resolutions))} px")
        c4 = channels(4, params)
        self.const = nn.Parameter(torch.randn(1, c4, 4, 4))
        self.convs = nn.ModuleList()
        self.to_rgb = nn.ModuleList()
        cin = c4
        for res in resolutions:
            cout = channels(res, params)
            block = nn.ModuleList()
            if res > 4:
                block.append(ModulatedConv(cin, cout, style_dim, up=True))
            if res == 4 or res <= params["refine_upto"]:
                block.append(ModulatedConv(cout, cout, style_dim, kernel=3, input_gain=SQRT2 if res > 4 else 1.0))
            self.convs.append(block)
            self.to_rgb.append(ModulatedConv(cout, 3, style_dim, kernel=1, demodulate=False))
            cin = cout
        # The full resolution has no feature maps: its RGB comes straight from the half-resolution features
        # through one sub-pixel convolution, which halves the decoder's cost. A sub-pixel convolution rather than
        # a transposed one: an unblurred transposed convolution left a dotted 2x2 texture, and a blur here would
        # low-pass the output, as nothing follows that could restore the detail.
        self.final_rgb = SubpixelToRGB(cin, style_dim)
        #: Fading in after growing (``fade_from``: the resolution the model was grown from): the source's last
        #: layer, kept as ``fade_rgb``, draws the source's picture, which the new layers' output is blended
        #: with by ``fade_alpha`` (set by the training loop; 1, the default, is the grown model alone).
        self.fade_from = check_fade_from(params, resolution)
        self.fade_rgb = SubpixelToRGB(channels(self.fade_from // 2, params), style_dim) if self.fade_from else None
        self.fade_alpha = 1.0

    def forward(self, latents: torch.Tensor, class_weights: torch.Tensor,
                pose: torch.Tensor | None = None) -> torch.Tensor:
        with full_precision(latents):
            style_input = torch.cat([latents, self.class_embedding(class_weights)], dim=1)
        x = self.const.expand(latents.shape[0], -1, -1, -1)
        rgb: torch.Tensor | None = None
        source_picture: torch.Tensor | None = None
        for block, to_rgb in zip(self.convs, self.to_rgb, strict=True):
            for conv in block:  # type: ignore[attr-defined]
                x = F.leaky_relu_(conv(x, style_input), 0.2)  # in place: the convolution's output is not kept
            layer_rgb = to_rgb(x, style_input)
            rgb = layer_rgb if rgb is None else layer_rgb.add_(upsample_rgb(rgb))
            if pose is not None and x.shape[-1] == self.pose_resolution:
                x, rgb = warp_features(x, pose), warp_features(rgb, pose)
            if self.fade_rgb is not None and self.fade_alpha < 1 and x.shape[-1] == self.fade_from // 2:
                source_picture = self.fade_rgb(x, style_input, skip=rgb)
        assert rgb is not None
        picture = self.final_rgb(x, style_input, skip=rgb)
        if source_picture is None:
            return picture
        while source_picture.shape[-1] < picture.shape[-1]:
            source_picture = upsample_rgb(source_picture)
        return torch.lerp(source_picture, picture, self.fade_alpha)

    def latent_projection(self) -> torch.Tensor:
        weights = [m.affine.weight[:, : self.latent_dim] for name, m in self.named_modules()
                   if isinstance(m, ModulatedConv) and not name.startswith("fade_")]
        return torch.cat(weights, dim=0)


class ResidualDown(nn.Module):
    """``(sqrt2 * lrelu(conv(x)) + skip(pool(x))) / sqrt2``, with the constants folded into the skip weights."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = EqualConv2d(cin, cout, 4, 2, 1)
        self.skip = EqualConv2d(cin, cout, 1, bias=False)
        self.skip.scale /= SQRT2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 2x2 average pooling, then the 1x1 skip convolution: a quarter of the arithmetic of the same map as one 2x2
        # stride-2 convolution, and 2.2-3.4x faster forward and backward (32-batch, 1 thread, AMD EPYC with AVX2).
        return F.leaky_relu(self.conv(x), 0.2) + self.skip(F.avg_pool2d(x, 2))


class Trunk(nn.Module):
    """A strided convolution from RGB to half resolution, then residual downsampling to 4x4: the shared
    shape of the discriminator and the encoder (mirroring the decoder, nothing runs at full resolution)."""

    def __init__(self, resolution: int, params: dict[str, Any]) -> None:
        super().__init__()
        self.from_rgb = EqualConv2d(3, channels(resolution // 2, params), 4, 2, 1)
        blocks = []
        res = resolution // 2
        while res > 4:
            blocks.append(ResidualDown(channels(res, params), channels(res // 2, params)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = channels(4, params)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.contiguous(memory_format=FEATURE_LAYOUT)
        return self.blocks(F.leaky_relu(self.from_rgb(images), 0.2))


class GallopDiscriminator(nn.Module):
    def __init__(self, resolution: int, num_classes: int, params: dict[str, Any]) -> None:
        super().__init__()
        self.trunk = Trunk(resolution, params)
        width = self.trunk.out_channels
        self.mbstd_group = params["mbstd_group"]
        self.fc = EqualLinear((width + 1) * 16, width)
        self.out = EqualLinear(width, 1)
        self.projection = nn.Embedding(num_classes, width)
        nn.init.normal_(self.projection.weight)
        self.projection_scale = 1.0 / math.sqrt(width)
        #: Fading in after growing: the source's first layer, kept as ``fade_from_rgb``, reads the picture
        #: downsampled to the source's resolution; its features are blended with the new blocks' by ``fade_alpha``.
        self.fade_from = check_fade_from(params, resolution)
        self.fade_octaves = int(math.log2(resolution // self.fade_from)) if self.fade_from else 0
        self.fade_from_rgb = (EqualConv2d(3, channels(self.fade_from // 2, params), 4, 2, 1) if self.fade_from
                              else None)
        self.fade_alpha = 1.0

    def minibatch_std(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.mbstd_group, n)
        while n % group:
            group -= 1
        y = x.reshape(group, -1, c, h, w)
        # The variance written out: torch.var over the short group axis takes 13x as long on the CPU (4.7 ms against
        # 0.36 for a 32-batch of 128x4x4 features; 4% of a 32-px training step by the profiler).
        variance = (y - y.mean(dim=0)).square().mean(dim=0)
        std = (variance + 1e-8).sqrt().mean(dim=(1, 2, 3))
        std = std.reshape(-1, 1, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, std], dim=1)

    def trunk_features(self, images: torch.Tensor) -> torch.Tensor:
        if self.fade_from_rgb is None or self.fade_alpha >= 1:
            return self.trunk(images)
        images = images.contiguous(memory_format=FEATURE_LAYOUT)
        new = self.trunk.blocks[: self.fade_octaves](F.leaky_relu(self.trunk.from_rgb(images), 0.2))
        old = F.leaky_relu(self.fade_from_rgb(F.avg_pool2d(images, 2**self.fade_octaves)), 0.2)
        return self.trunk.blocks[self.fade_octaves :](torch.lerp(old, new, self.fade_alpha))

    def forward(self, images: torch.Tensor, class_index: torch.Tensor) -> torch.Tensor:
        features = self.minibatch_std(self.trunk_features(images))
        hidden = F.leaky_relu(self.fc(features.flatten(1)), 0.2)
        projection = (hidden * self.projection(class_index)).sum(dim=1) * self.projection_scale
        return self.out(hidden).squeeze(1) + projection


class GallopEncoder(nn.Module):
    def __init__(self, resolution: int, latent_dim: int, params: dict[str, Any]) -> None:
        super().__init__()
        self.trunk = Trunk(resolution, params)
        width = self.trunk.out_channels
        self.fc = EqualLinear(width * 16, width)
        self.out = EqualLinear(width, latent_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        hidden = F.leaky_relu(self.fc(self.trunk(images).flatten(1)), 0.2)
        return self.out(hidden)


@register_architecture("gallop")
class Gallop(Architecture):
    defaults: ClassVar[dict[str, Any]] = {
        "channel_base": 1024, "channel_min": 16, "channel_max": 128, "embed_dim": 32,
        "refine_upto": 8, "mbstd_group": 4, "pose_resolution": 0, "fade_from": 0,
    }
    training_defaults: ClassVar[dict[str, Any]] = {
        "latent_dim": 128, "loss": "nonsaturating", "lr_g": 2e-3, "lr_d": 2e-3, "betas": [0.0, 0.99],
        "augment": ["color", "translation", "cutout"], "r1_gamma": 0.05, "r1_every": 16,
        "ema_kimg": 5.0, "batch": 32, "precision": "auto",
    }
    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {"channel_base": (512, 1024, 2048)}
    #: Below 64 px ``channel_base`` is this times the resolution, so every level has the width of the level at
    #: the same fraction of the picture in the 64-px model: a 32-px model's half-resolution features get 32
    #: channels, not 64. Measured at 32 px, 1 thread, images per CPU-second on synthetic pictures: 174 with 1024
    #: and 283-353 with 512 (dcgan 153-158) on a loaded machine; 348 against dcgan's 157 on an idle one
    #: (benchmarks/results/training.md).
    CHANNELS_PER_PIXEL: ClassVar[int] = 16

    @classmethod
    def defaults_for(cls, resolution: int) -> dict[str, Any]:
        return {**cls.defaults, "channel_base": min(cls.defaults["channel_base"], cls.CHANNELS_PER_PIXEL * resolution)}

    def build_decoder(self) -> Decoder:
        return GallopDecoder(self.resolution, self.num_classes, self.latent_dim, self.params)

    def build_encoder(self) -> nn.Module:
        return GallopEncoder(self.resolution, self.latent_dim, self.params)

    def build_discriminator(self) -> nn.Module:
        return GallopDiscriminator(self.resolution, self.num_classes, self.params)

    def grown_state(self, part: str, state: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor],
                    source_resolution: int) -> dict[str, torch.Tensor] | None:
        """The decoder's blocks are counted from 4 px, so they keep their names; its new blocks' RGB layers
        and the last layer start at zero, so the grown decoder first draws the source's image (less its last
        layer's detail) upsampled, and the new layers fade in as they learn. The trunks (encoder,
        discriminator) are counted from the top: their blocks shift down by the added octaves, and the new
        top blocks (from RGB, the first residual blocks) start afresh. With ``fade_from`` set, the source's last
        decoder layer and the discriminator's first are kept as the fade layers (``fade_rgb``, ``fade_from_rgb``),
        so at ``fade_alpha`` 0 the grown networks are the source's, working on upsampled and downsampled
        pictures (ProGAN's fade-in). Levels the new parameters make wider than the source's are widened without
        changing what the networks compute (:func:`widened_state`)."""
        layers = dict(_on_meta(self, part).named_modules())
        if part == "decoder":
            shared = int(math.log2(source_resolution)) - 2  # blocks at 4 .. source_resolution / 2
            grown = {key: value for key, value in state.items() if not key.startswith("final_rgb.")}
            for key in fresh:
                index = re.match(r"to_rgb\.(\d+)\.weight$", key)
                if key == "final_rgb.weight" or (index and int(index[1]) >= shared):
                    grown[key] = torch.zeros_like(fresh[key])
            if "fade_rgb.weight" in fresh:  # fading in: the source's last layer keeps drawing its picture
                grown.update({"fade_rgb." + key.removeprefix("final_rgb."): value for key, value in state.items()
                              if key.startswith("final_rgb.")})
            return widened_state({**fresh, **grown}, fresh, layers, part)
        octaves = int(math.log2(self.resolution // source_resolution))
        fading = "fade_from_rgb.weight" in fresh

        def renamed(key: str) -> str | None:
            block = re.match(r"trunk\.blocks\.(\d+)\.(.+)$", key)
            if block:
                return f"trunk.blocks.{int(block[1]) + octaves}.{block[2]}"
            if key.startswith("trunk.from_rgb."):
                return "fade_from_rgb." + key.removeprefix("trunk.from_rgb.") if fading else None
            return key

        moved = {name: value for key, value in state.items() if (name := renamed(key)) is not None}
        return widened_state({**fresh, **moved}, fresh, layers, part)


    def widened_state(self, part: str, state: dict[str, torch.Tensor],
                      fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        return widened_state(state, fresh, dict(_on_meta(self, part).named_modules()), part)


def _on_meta(architecture: Architecture, part: str) -> nn.Module:
    """The network ``part`` of ``architecture`` without weights (on the meta device: no memory, no random draws),
    to read which layer each tensor belongs to."""
    builders = {"decoder": architecture.build_decoder, "discriminator": architecture.build_discriminator,
                "encoder": architecture.build_encoder}
    with torch.device("meta"):
        return builders[part]()


def widened_state(state: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor], layers: dict[str, nn.Module],
                  part: str) -> dict[str, torch.Tensor]:
    """``state`` (of the network ``part``) laid into the wider tensors of ``fresh`` wherever a level has more
    channels, so that the network computes what it did (Net2Net's widening, by zero initialisation).

    A convolution's new input channels get zero weights, so the new channels change nothing downstream until
    training moves them; its new output channels, biases and styles start as ``fresh`` ones. Equalized learning
    rate scales weights by 1/sqrt(fan-in), so the kept weights of a layer whose output is not demodulated are
    multiplied by sqrt(new fan-in / old) (a demodulated layer's output does not depend on that scale). The
    4-px width, the class embedding and the fully connected layers cannot widen: refused in one line."""
    widened = dict(state)
    for key, old in state.items():
        new = fresh.get(key)
        if new is None or new.shape == old.shape:
            continue
        owner, _, leaf = key.rpartition(".")
        layer = layers.get(owner)
        grows_only = old.ndim == new.ndim and all(a <= b for a, b in zip(old.shape, new.shape, strict=True))
        convolution = isinstance(layer, ModulatedConv | EqualConv2d) and leaf == "weight" and old.ndim == 4
        rows_only = (old.ndim in (1, 2) and old.shape[1:] == new.shape[1:] and leaf in ("weight", "bias")
                     and isinstance(layer, EqualLinear | EqualConv2d | ModulatedConv))
        if (convolution or rows_only) and not grows_only:
            raise MuybridgeError(f"{part}.{key} is {tuple(old.shape)} in the source and {tuple(new.shape)} here: "
                                 "a level may widen, not narrow (keep channel_base and channel_min at least the "
                                 "source's)")
        if not grows_only or not (convolution or rows_only):
            raise MuybridgeError(f"{part}.{key} is {tuple(old.shape)} in the source and {tuple(new.shape)} here: "
                                 "only the convolutions above 4 px can widen (keep the source's latent_dim, "
                                 "embed_dim, channel_max and 4-px width)")
        tensor = new.clone()
        cout = old.shape[0]
        if convolution:
            cin = old.shape[1]
            demodulated = isinstance(layer, ModulatedConv) and layer.demodulate
            tensor[:cout, cin:] = 0
            tensor[:cout, :cin] = old if demodulated else old * math.sqrt(new.shape[1] / cin)
        else:
            tensor[:cout] = old
        widened[key] = tensor
    return widened
