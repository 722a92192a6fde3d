"""How far inversion goes (torch-free, so the CLI declares its options without loading torch): the settings of
latent refinement (:mod:`muybridge.inversion.refine`) and pivotal tuning (:mod:`muybridge.inversion.tune`), and
the presets ``--fidelity`` names.
"""

from __future__ import annotations

from dataclasses import dataclass

from muybridge.errors import MuybridgeError


@dataclass(frozen=True)
class RefineSettings:
    """How refinement runs. Measured on 64 held-out cats with the 585-kimg bundled model, 200 steps (PSNR dB /
    SSIM / FID of reconstructions vs originals; encoder alone 15.37 / 0.189 / 113.4): perceptual weight 1
    16.28 / 0.247 / 110.9; weight 3 15.65 / 0.234 / 108.4. Hence weight 3 (docs/inversion.md)."""

    steps: int = 200
    lr: float = 0.05
    perceptual_weight: float = 3.0
    norm_weight: float = 0.05
    perceptual_upsample: int = 1

    def check(self) -> RefineSettings:
        if not 0 <= self.steps <= 10_000:
            raise MuybridgeError(f"--steps must be between 0 and 10000, got {self.steps}")
        if not 0 < self.lr <= 10:
            raise MuybridgeError(f"--lr must be in (0, 10], got {self.lr:g}")
        if self.perceptual_weight < 0 or self.norm_weight < 0:
            raise MuybridgeError("loss weights must not be negative")
        return self


@dataclass(frozen=True)
class TuneSettings:
    """How pivotal tuning runs. Measured on 4 held-out cats with the bundled model (refined pivot, 1 thread),
    PSNR dB / SSIM of the photo, and PSNR of another character against the base decoder (locality):
    150 steps at lr 3e-4: 19.6 / 0.45 / 26.7; lr 2e-3: 22.8 / 0.63 / 25.6; lr 5e-3: 23.7 / 0.68 / 23.5;
    300 steps at lr 3e-3: 24.6 / 0.73 / 26.6, with perceptual weight 0.3 instead of 1: 24.8 / 0.73 / 29.1;
    from the encoder's pivot instead of the refined one: 24.2 / 0.72 / 24.4. On 8 + 8 held-out cats and dogs,
    300 steps at lr 3e-3: cats 24.1 / 0.69, dogs 22.7 / 0.71, locality 28.2; at lr 6e-3: cats 25.3 / 0.75, dogs
    24.5 / 0.78, locality 24.8. On 64 + 64 (benchmarks/results/inversion.md): lr 6e-3, 300 steps: cats 25.00 /
    0.750, dogs 23.54 / 0.766; lr 1e-2, 250 steps: cats 25.29 / 0.760, dogs 23.80 / 0.776 in about 20 CPU-seconds
    a photo, and the pets move as before (flow-explained share 0.74 / 0.76). Hence these defaults."""

    steps: int = 250
    lr: float = 1e-2
    perceptual_weight: float = 0.3
    #: Weight of the locality term: L1 between tuned and base decoder on ``locality_samples`` other latents.
    locality_weight: float = 1.0
    locality_samples: int = 4
    seed: int = 0

    def check(self) -> TuneSettings:
        if not 0 <= self.steps <= 5_000:
            raise MuybridgeError(f"tuning steps must be between 0 and 5000, got {self.steps}")
        if not 0 < self.lr <= 0.1:
            raise MuybridgeError(f"tuning lr must be in (0, 0.1], got {self.lr:g}")
        if min(self.perceptual_weight, self.locality_weight) < 0 or self.locality_samples < 0:
            raise MuybridgeError("tuning weights and sample counts must not be negative")
        return self


@dataclass(frozen=True)
class Fidelity:
    """How far inversion goes: latent refinement, and pivotal tuning of the decoder (None: no tuning)."""

    refine: RefineSettings
    tune: TuneSettings | None
    description: str


#: Measured on held-out cats with the bundled model (benchmarks/results/inversion.md).
FIDELITIES = {
    "fast": Fidelity(RefineSettings(steps=200), None, "encoder + latent refinement (~2 s a 64-px photo)"),
    "balanced": Fidelity(RefineSettings(steps=100), TuneSettings(),
                         "+ a decoder tuned to the photo (~20 s)"),
    "exact": Fidelity(RefineSettings(steps=200), TuneSettings(steps=800), "longer on both (~70 s)"),
}
DEFAULT_FIDELITY = "balanced"


def get_fidelity(name: str) -> Fidelity:
    try:
        return FIDELITIES[name]
    except KeyError:
        raise MuybridgeError(f"fidelity {name}: choose {', '.join(FIDELITIES)}") from None


