"""The user-facing generator: load a model folder, then turn (class, seed) pairs or latents into images.

Latents are the decoder's input vectors ``z`` (standard normal). A seed names one latent forever, by the rule of
:mod:`muybridge.keys` (what ``torch.randn`` draws from that seed, reproducible without torch). Truncation scales latents
towards the origin (the mean of the prior), trading variety for typicality.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from muybridge.errors import MuybridgeError
from muybridge.keys import ClassSpec, class_index, class_weight_rows, seed_latents
from muybridge.models.config import ModelConfig, as_model_config, build_networks
from muybridge.models.format import WEIGHTS_NAME, load_state, read_config, read_weights, state_digest
from muybridge.pose_fields import POSE_DIM
from muybridge.precision import (
    PROBE_COUNT,
    REDUCED,
    PrecisionChoice,
    Trial,
    check_precision,
    choose_precision,
    remembered_trial,
    render_context,
    render_error,
)
from muybridge.zoo import model_name, resolve_model_path

#: The decoder always runs on batches of exactly this many samples (the last one padded). CPU kernels sum
#: in an order that depends on the batch size, so this is what makes a (class, seed) pair render the very
#: same pixels in any call. 64 is the batch the decoder reaches its speed at (on an Intel Xeon: 2,300 frames/s
#: against 1,800 at 16, benchmarks/results/render.md); a single image costs a 64-batch, about 30 ms.
DECODE_CHUNK = 64


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` floats in [-1, 1] → ``(N, H, W, 3)`` uint8."""
    scaled = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).contiguous().numpy()


def from_uint8(pixels: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 → ``(N, 3, H, W)`` floats in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


class Generator:
    """A trained model, ready to render. Build it with :meth:`Generator.load`; ``config`` is its
    :class:`~muybridge.models.config.ModelConfig` (``generator.config.pixel_art``...).

    A long-running Python process that renders a lot may call ``muybridge.memory.keep_freed_memory()`` once:
    it makes glibc keep the feature-map memory freed after each batch for the next one instead of faulting it
    in again (a fifth to a third of the rendering time), at the cost of keeping the peak memory. It changes
    malloc for the whole process, so the generator does not do it for you; ``muybridge`` commands and the
    studio do.
    """

    def __init__(self, config: ModelConfig | Mapping[str, Any], decoder: torch.nn.Module,
                 encoder: torch.nn.Module, path: Path | None = None, precision: str = "auto") -> None:
        """``config`` may also be a dict such as training builds; it is checked like ``config.json``.
        ``precision`` is how :meth:`decode` renders: ``fp32``, ``bf16``, ``fp16`` or ``auto`` (a reduced precision
        only where it is native, faithful and faster for this model: :mod:`muybridge.precision`, decided on the first
        decode)."""
        self.config = as_model_config(config)
        self.decoder = decoder.eval().requires_grad_(False)
        self.encoder = encoder.eval().requires_grad_(False)
        self.path = path
        self.requested_precision = check_precision(precision)
        self._precision_choice: PrecisionChoice | None = None

    @classmethod
    def load(cls, path_or_name: str | Path | None = None, precision: str = "auto") -> Generator:
        """Load a model folder (or a bundled model by name; ``None``/``"default"`` is the bundled default)."""
        folder = resolve_model_path(path_or_name)
        config = read_config(folder)
        networks = build_networks(config)
        tensors = read_weights(folder / WEIGHTS_NAME)
        load_state(networks.decoder, tensors, "decoder.", folder / WEIGHTS_NAME, config.architecture)
        load_state(networks.encoder, tensors, "encoder.", folder / WEIGHTS_NAME, config.architecture)
        return cls(config, networks.decoder, networks.encoder, folder, precision)

    @property
    def classes(self) -> list[str]:
        return list(self.config.classes)

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def name(self) -> str:
        return model_name(self.config.name, self.path)

    def class_index(self, name: str) -> int:
        return class_index(self.classes, name)

    def class_weights(self, classes: Sequence[ClassSpec]) -> torch.Tensor:
        """One row per entry: a class name (one-hot) or a ``{name: weight}`` mix (normalised to sum 1)."""
        return torch.from_numpy(class_weight_rows(self.classes, classes))

    def latents(self, seeds: Sequence[int]) -> torch.Tensor:
        """The latent each seed names (:func:`muybridge.keys.seed_latents`)."""
        return torch.from_numpy(seed_latents(seeds, self.latent_dim))

    @property
    def precision_choice(self) -> PrecisionChoice:
        """The precision :meth:`decode` renders in, and why (``auto`` tries this model on first use, or reads what
        was measured before for these weights on this kind of CPU: :func:`~muybridge.precision.remembered_trial`)."""
        if self._precision_choice is None:
            if self.requested_precision == "auto":
                digest = functools.cache(lambda: state_digest(self.decoder))  # only where a precision is tried
                self._precision_choice = choose_precision(lambda precision: remembered_trial(
                    digest(), precision, lambda: self.trial_precision(precision)))
            else:
                self._precision_choice = PrecisionChoice(self.requested_precision, "requested")
        return self._precision_choice

    def trial_precision(self, precision: str, rounds: int = 3) -> Trial:
        """Frames with the convolutions in the reduced ``precision`` against float32 frames of the same
        :data:`~muybridge.precision.PROBE_COUNT` characters (seeds 0.., the classes in turn), and how many times as
        fast it decodes them: the fastest of ``rounds`` alternating calls each way (a first call builds the kernels,
        and a shared machine's speed drifts)."""
        if precision not in REDUCED:
            raise MuybridgeError(f"precision {precision!r} is not a reduced one: try {', '.join(REDUCED)}")
        classes = [self.classes[i % len(self.classes)] for i in range(PROBE_COUNT)]
        latents, weights = self.latents(range(PROBE_COUNT)), self.class_weights(classes)
        frames: dict[str, torch.Tensor] = {}
        seconds = dict.fromkeys(("fp32", precision), math.inf)
        for _ in range(rounds):
            for name in seconds:
                start = time.perf_counter()
                frames[name] = self.decode(latents, weights, precision=name)
                seconds[name] = min(seconds[name], time.perf_counter() - start)
        return Trial(render_error(to_uint8(frames["fp32"]), to_uint8(frames[precision])),
                     seconds["fp32"] / seconds[precision])

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor, class_weights: torch.Tensor, truncation: float = 1.0,
               pose: torch.Tensor | None = None, precision: str | None = None) -> torch.Tensor:
        """Latents ``(N, latent_dim)`` + class weights ``(N, C)`` → images ``(N, 3, R, R)`` in [-1, 1].

        ``pose`` ``(N, 6)`` moves each character's head without changing who it is (see
        :mod:`muybridge.models.pose`); None or zeros is the rest pose. ``precision`` (``fp32``, ``bf16`` or ``fp16``)
        overrides :attr:`precision_choice` for this call."""
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim:
            raise MuybridgeError(f"latents must have shape (N, {self.latent_dim}), got {tuple(latents.shape)}")
        if class_weights.shape != (latents.shape[0], len(self.classes)):
            raise MuybridgeError(
                f"class weights must have shape ({latents.shape[0]}, {len(self.classes)}), "
                f"got {tuple(class_weights.shape)}"
            )
        if not 0.0 <= truncation <= 2.0:
            raise MuybridgeError(f"truncation must be within [0, 2], got {truncation}")
        count = latents.shape[0]
        padding = -count % DECODE_CHUNK
        latents = torch.cat([latents.float() * truncation, latents.new_zeros(padding, self.latent_dim)])
        class_weights = torch.cat([class_weights.float(), class_weights.new_zeros(padding, len(self.classes))])
        poses = self._checked_pose(pose, count, padding)
        with render_context(check_precision(precision) if precision else self.precision_choice.precision):
            chunks = [self.decoder(latents[i : i + DECODE_CHUNK], class_weights[i : i + DECODE_CHUNK],
                                   **({} if poses is None else {"pose": poses[i : i + DECODE_CHUNK]})).float()
                      for i in range(0, latents.shape[0], DECODE_CHUNK)]
        return torch.cat(chunks)[:count] if chunks else torch.empty(0, 3, self.resolution, self.resolution)

    @property
    def takes_pose(self) -> bool:
        """Whether the decoder can move a character's head (the motion library needs it)."""
        return bool(getattr(self.decoder, "takes_pose", False))

    def _checked_pose(self, pose: torch.Tensor | None, count: int, padding: int) -> torch.Tensor | None:
        if pose is None or not bool(pose.any()):
            return None
        if not self.takes_pose:
            raise MuybridgeError(f"model {self.name} ({self.config.architecture}) has no pose input: motions that "
                                 "keep the character need a gallop model")
        if pose.shape != (count, POSE_DIM):
            raise MuybridgeError(f"pose must have shape ({count}, {POSE_DIM}), got {tuple(pose.shape)}")
        return torch.cat([pose.float(), pose.new_zeros(padding, POSE_DIM)])

    def generate(self, classes: ClassSpec | Sequence[ClassSpec], seeds: int | Sequence[int],
                 truncation: float = 1.0) -> np.ndarray:
        """Render ``(N, R, R, 3)`` uint8 images; one class or seed is broadcast against a list of the other."""
        class_list = [classes] if isinstance(classes, str | Mapping) else list(classes)
        seed_list = [seeds] if isinstance(seeds, int) else list(seeds)
        if len(class_list) == 1 and len(seed_list) > 1:
            class_list = class_list * len(seed_list)
        if len(seed_list) == 1 and len(class_list) > 1:
            seed_list = seed_list * len(class_list)
        if len(class_list) != len(seed_list):
            raise MuybridgeError(f"got {len(class_list)} classes for {len(seed_list)} seeds")
        images = self.decode(self.latents(seed_list), self.class_weights(class_list), truncation)
        return to_uint8(images)

    def generate_image(self, class_name: ClassSpec, seed: int = 0, truncation: float = 1.0) -> Image.Image:
        """One image as a PIL image: ``Generator.load().generate_image("cat", seed=7)``."""
        return Image.fromarray(self.generate(class_name, seed, truncation)[0])

    @torch.inference_mode()
    def encode(self, images: np.ndarray | torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Images (uint8 ``(N, R, R, 3)`` or floats ``(N, 3, R, R)`` in [-1, 1]) → latents ``(N, latent_dim)``."""
        tensor = from_uint8(images) if isinstance(images, np.ndarray) else images.float()
        if tensor.shape[1:] != (3, self.resolution, self.resolution):
            raise MuybridgeError(
                f"images must be {self.resolution}x{self.resolution} RGB, got shape {tuple(tensor.shape)}"
            )
        chunks = [self.encoder(tensor[i : i + batch_size]) for i in range(0, tensor.shape[0], batch_size)]
        return torch.cat(chunks) if chunks else torch.empty(0, self.latent_dim)
