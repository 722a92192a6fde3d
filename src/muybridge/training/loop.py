"""The training loop: alternating D and G steps with DiffAugment, lazy R1, an EMA generator and an encoder
trained alongside; atomic checkpoints, exact resume, divergence rollback, samples and TensorBoard logs.

With ``pose_p`` > 0 that share of the fakes is rendered in a random pose (models/pose.py) and the reals D sees
are warped alike in image space, so the decoder's layers after its pose warp learn to render warped features;
the encoder step, the EMA and the sample grids stay unposed.

The loop owns its evaluation too: with ``eval_kimg`` > 0 it scores held-out KID that often and keeps the best
snapshot, however it was started. The run folder's layout is :class:`~muybridge.training.run.RunFolder`'s.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from muybridge.data import BatchLoader, PreparedDataset, open_dataset
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path
from muybridge.generator import Generator
from muybridge.metrics.evaluation import quick_kid
from muybridge.models import Networks, build_networks, get_architecture
from muybridge.models.pose import random_poses, warp_features
from muybridge.pictures import class_grid
from muybridge.progress import Progress, report
from muybridge.training import checkpoint as ckpt
from muybridge.training.augment import adapted_probability, augment, check_augmentations
from muybridge.training.config import TrainConfig, at_resolution, resolve_config
from muybridge.training.distributed import (
    World,
    all_ranks_sum,
    any_rank,
    average_gradients,
    barrier,
    broadcast_float,
    broadcast_module,
    gather_tensors,
    init_world,
)
from muybridge.training.losses import get_loss, gradient_penalty
from muybridge.training.run import RUN_FILE as RUN_FILE  # RUN_FILE and read_run: still importable from here
from muybridge.training.run import RunFolder
from muybridge.training.run import read_run as read_run
from muybridge.training.warm_start import WarmStart, fit_states, read_source, resolve_source

SAMPLE_SEEDS = list(range(8))


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    kimg: float
    train_seconds: float
    cpu_seconds: float
    stopped_by: str
    checkpoint: Path
    rollbacks: int


def model_config(config: TrainConfig, classes: list[str], resolution: int) -> dict[str, Any]:
    """The self-describing model config that the run, the export and the card share."""
    return {
        "architecture": config.architecture,
        "params": at_resolution(config, resolution).params,
        "resolution": resolution,
        "classes": list(classes),
        "latent_dim": config.latent_dim,
    }


def adam(network: torch.nn.Module, lr: float, betas: tuple[float, ...]) -> torch.optim.Adam:
    """Adam with the fused kernel: one pass over all of a network's tensors per step instead of a handful of ops per
    tensor (measured on gallop's G and D at 32 px, 1 thread, AVX2 EPYC: 4.3 ms per step down to 1.0)."""
    return torch.optim.Adam(network.parameters(), lr=lr, betas=betas, fused=True)  # type: ignore[arg-type]


class Trainer:
    """Holds the networks, optimisers and all state; one instance trains one run folder."""

    def __init__(self, data_dir: Path, run_dir: Path, config: TrainConfig, world: World) -> None:
        self.run_dir = run_dir
        self.run = RunFolder(run_dir)
        self.config = config
        self.world = world
        self.dataset = open_dataset(data_dir)
        check_augmentations(config.augment)
        self.loss = get_loss(config.loss)
        self.model_config = model_config(config, self.dataset.classes, self.dataset.resolution)
        torch.manual_seed(config.seed)
        networks: Networks = build_networks(self.model_config)
        self.G, self.D, self.E = networks.decoder, networks.discriminator, networks.encoder
        for module in (self.G, self.D, self.E):
            module.to(world.device)
            broadcast_module(module, world)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        betas = tuple(config.betas)
        self.opt_g = adam(self.G, config.lr_g, betas)
        self.opt_d = adam(self.D, config.lr_d, betas)
        self.opt_e = adam(self.E, config.encoder_lr, (0.9, 0.99))
        if config.batch % world.size:
            raise MuybridgeError(f"batch {config.batch} does not divide evenly over {world.size} processes")
        self.batch = config.batch // world.size
        self.loader = BatchLoader(self.dataset, split="train", batch_size=self.batch, seed=config.seed,
                                  flip=True, rank=world.rank, world_size=world.size, balance=config.class_balance)
        self.rng = torch.Generator().manual_seed(config.seed * 7919 + world.rank)
        self.step = 0
        self.nimg = 0
        self.train_seconds = 0.0
        self.cpu_seconds = 0.0
        self.rollbacks = 0
        self.d_wins = 0
        #: The probability each augmentation reaches an image: 1 without ADA; with ADA it starts at 0.
        self.augment_p = 0.0 if config.ada_target > 0 else 1.0
        self.best_kid: float | None = None
        self.num_classes = len(self.dataset.classes)

    # ---- state ----
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"G": self.G, "G_ema": self.G_ema, "D": self.D, "E": self.E}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d, "E": self.opt_e}

    def state(self) -> dict[str, Any]:
        return {"step": self.step, "nimg": self.nimg, "kimg": self.nimg / 1000, "train_seconds": self.train_seconds,
                "cpu_seconds": self.cpu_seconds,
                "rollbacks": self.rollbacks, "best_kid": self.best_kid, "augment_p": self.augment_p,
                "loader": self.loader.state_dict(),
                "world_size": self.world.size}

    def save(self) -> Path:
        """Write a checkpoint (rank 0) with every rank's RNG state; every rank gets its path, for a rollback."""
        states = gather_tensors(self.rng.get_state(), self.world)
        folder = self.run.checkpoints
        path = folder / ckpt.checkpoint_name(self.step)
        if self.world.is_main:
            rng = {f"rank{r}": s for r, s in enumerate(states)}
            rng["torch"] = torch.get_rng_state()
            # Every rank's loader shares epoch and position, so rank 0's state restores them all.
            ckpt.save_checkpoint(path, self.modules(), self.optimizers(), rng, self.state())
            ckpt.prune_checkpoints(folder, self.config.keep_checkpoints)
        barrier(self.world)
        return path

    def restore(self, path: Path) -> None:
        tensors, state = ckpt.read_checkpoint(path)
        if int(state.get("world_size", 1)) != self.world.size:
            raise MuybridgeError(f"{path}: saved with {state.get('world_size')} processes; resume with the same number")
        for name, module in self.modules().items():
            module.load_state_dict(ckpt.module_state(tensors, name))
        for name, optimizer in self.optimizers().items():
            ckpt.restore_optimizer(optimizer, f"optim_{name}", tensors, state["param_groups"][name])
        self.rng.set_state(tensors[f"rng.rank{self.world.rank}"])
        torch.set_rng_state(tensors["rng.torch"])
        self.loader.load_state_dict(state["loader"])
        self.step, self.nimg = int(state["step"]), int(state["nimg"])
        self.train_seconds = float(state["train_seconds"])
        self.cpu_seconds = float(state.get("cpu_seconds", 0.0))
        self.rollbacks = int(state.get("rollbacks", 0))
        self.best_kid = state.get("best_kid")
        self.augment_p = float(state.get("augment_p", self.augment_p))

    def initialize_from(self, states: dict[str, dict[str, torch.Tensor] | None], source: Path,
                        warn: Callable[[str], None]) -> None:
        """Start from networks trained before (:func:`~muybridge.training.warm_start.fit_states` has matched
        their classes and checked them). Optimisers, counters and random streams start afresh."""
        for name, module in self.modules().items():
            state = states[name]
            if state is None:
                warn(f"{source}: holds no {name} weights; that network starts from scratch")
                continue
            module.load_state_dict(state)
            broadcast_module(module, self.world)

    # ---- one iteration ----
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.precision == "bf16":
            return torch.autocast(self.world.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels, self.num_classes).float()

    def latents(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, generator=self.rng).to(self.world.device)

    def aug(self, images: torch.Tensor) -> torch.Tensor:
        return augment(images, self.config.augment, self.rng, self.augment_p)

    def poses(self, n: int) -> torch.Tensor:
        return random_poses(n, self.config.pose_p, self.config.pose_strength, self.rng).to(self.world.device)

    def fakes(self, classes: torch.Tensor) -> torch.Tensor:
        """A batch from G, each in a random pose with probability ``pose_p``."""
        latents = self.latents(self.batch)
        if self.config.pose_p > 0:
            return self.G(latents, classes, self.poses(self.batch))
        return self.G(latents, classes)

    def posed_reals(self, real: torch.Tensor) -> torch.Tensor:
        """The reals D sees, warped in image space by poses of the fakes' distribution: a pose tells no fake."""
        return warp_features(real, self.poses(real.shape[0])) if self.config.pose_p > 0 else real

    def train_step(self, real: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        self.set_fade()
        real, labels = real.to(self.world.device), labels.to(self.world.device)
        classes = self.one_hot(labels)
        stats: dict[str, float] = {}

        # One batch of fakes serves both steps (as in DCGAN): it saves a generator pass per step.
        with self.autocast():
            fake = self.fakes(classes).float()

        # Discriminator: real vs fake, plus lazy R1 on reals (and R2 on fakes).
        self.D.requires_grad_(True)
        shown = self.posed_reals(real)
        with self.autocast():
            real_logits = self.D(self.aug(shown), labels).float()
            fake_logits = self.D(self.aug(fake.detach()), labels).float()
            d_loss = self.loss.discriminator(real_logits, fake_logits)
        if self.step % cfg.r1_every == 0:
            for name, gamma, images in (("r1", cfg.r1_gamma, shown), ("r2", cfg.r2_gamma, fake)):
                if gamma > 0:
                    at = self.aug(images).detach().requires_grad_(True)
                    penalty = gradient_penalty(self.D(at, labels), at)
                    d_loss = d_loss + penalty * (gamma / 2 * cfg.r1_every)
                    stats[name] = float(penalty.detach())
        self.check_finite(d_loss, "discriminator loss")
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        average_gradients(self.D, self.world)
        self.opt_d.step()

        # Generator: fool the updated D (its weights are frozen for this pass, which also saves their gradients).
        self.D.requires_grad_(False)
        with self.autocast():
            g_logits = self.D(self.aug(fake), labels).float()
            g_loss = self.loss.generator(g_logits, real_logits.detach())
        self.check_finite(g_loss, "generator loss")
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        average_gradients(self.G, self.world)
        self.opt_g.step()
        self.update_ema()

        if cfg.encoder_every > 0 and self.step % cfg.encoder_every == 0:
            stats.update(self.encoder_step(real, classes))

        self.track_d_wins(real_logits, fake_logits)
        if cfg.ada_target > 0:
            self.adapt_augmentation(real_logits)
            stats["augment_p"] = self.augment_p
        stats.update(loss_d=d_loss.item(), loss_g=g_loss.item(),
                     d_real=torch.sigmoid(real_logits).mean().item(), d_fake=torch.sigmoid(fake_logits).mean().item())
        self.step += 1
        self.nimg += cfg.batch
        return stats

    def encoder_step(self, real: torch.Tensor, classes: torch.Tensor) -> dict[str, float]:
        """E learns to invert G_ema: latent regression on generated images + pixel reconstruction of reals."""
        latents = self.latents(real.shape[0])
        with torch.no_grad(), self.autocast():
            generated = self.G_ema(latents, classes).float()
        with self.autocast():
            latent_loss = F.mse_loss(self.E(generated).float(), latents)
            reconstruction = self.G_ema(self.E(real).float(), classes).float()
            pixel_loss = F.l1_loss(reconstruction, real)
            loss = latent_loss + self.config.encoder_pixel_weight * pixel_loss
        self.check_finite(loss, "encoder loss")
        self.opt_e.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.E, self.world)
        self.opt_e.step()
        return {"loss_e_latent": float(latent_loss.detach()), "loss_e_pixel": float(pixel_loss.detach())}

    def adapt_augmentation(self, real_logits: torch.Tensor) -> None:
        """ADA: steer the augmentation probability by the sign of D's logits on the reals of the whole batch
        (summed over ranks, so every rank holds the same probability)."""
        signs = torch.stack([real_logits.detach().sign().sum(), real_logits.new_tensor(real_logits.numel())])
        total_sign, count = all_ranks_sum(signs, self.world).tolist()
        self.augment_p = adapted_probability(self.augment_p, total_sign / count, self.config.ada_target,
                                             self.config.batch, self.config.ada_kimg)

    def fade_alpha(self) -> float:
        """How far a grown run's new layers are blended in: 0 at its start, 1 after ``fade_kimg``."""
        fading = self.model_config["params"].get("fade_from") and self.config.fade_kimg > 0
        return min(1.0, self.nimg / (self.config.fade_kimg * 1000)) if fading else 1.0

    def set_fade(self) -> None:
        alpha = self.fade_alpha()
        for module in (self.G, self.G_ema, self.D):
            if hasattr(module, "fade_alpha"):
                setattr(module, "fade_alpha", alpha)  # noqa: B010 (a plain attribute that nn.Module's types hide)

    def update_ema(self) -> None:
        cfg = self.config
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup > 0:
            ema_nimg = min(ema_nimg, self.nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8)) if ema_nimg > 0 else 0.0
        with torch.no_grad():
            # One call over every tensor (a Python loop of lerps took 0.46 ms per step at 32 px, this 0.12).
            torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1.0 - beta)
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                b_ema.copy_(b)

    # ---- health ----
    def check_finite(self, loss: torch.Tensor, what: str) -> None:
        """Raise :class:`Diverged` on every rank when ``loss`` is not finite on any (before the gradients are
        averaged, so no rank is left alone in a collective)."""
        finite = bool(torch.isfinite(loss))
        if any_rank(self.world, not finite)[0]:
            where = f"{float(loss)}" if not finite else "non-finite in another process"
            raise Diverged(f"{what} became {where} at step {self.step}")

    def track_d_wins(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
        """Count consecutive steps where D separates every real from every fake by a wide margin (on every
        rank's share of the batch, so all ranks count alike)."""
        separated = bool((real_logits.min() > 4.0) and (fake_logits.max() < -4.0))
        outright = not any_rank(self.world, not separated)[0]
        self.d_wins = self.d_wins + 1 if outright else 0
        if self.d_wins >= self.config.collapse_steps:
            raise Diverged(f"the discriminator has won outright for {self.d_wins} steps (generator collapsed)")

    def generator(self) -> Generator:
        self.set_fade()
        return Generator(self.model_config, copy.deepcopy(self.G_ema).cpu(), copy.deepcopy(self.E).cpu())


class Diverged(Exception):
    """Raised inside a step when training has diverged; the loop rolls back to the last checkpoint."""


def prepare_run(data_dir: Path, run_dir: Path, config: TrainConfig, resume: bool,
                init_from: WarmStart | None = None) -> TrainConfig:
    """Create the run folder, or check it on resume (``config`` then comes from :func:`resume_config`)."""
    folder = RunFolder(run_dir)
    dataset = open_dataset(data_dir)
    if resume and folder.exists():
        run = folder.read()
        if run["dataset"]["content_hash"] != dataset.content_hash:
            raise MuybridgeError(f"{data_dir}: not the dataset this run was trained on (content hash differs)")
        folder.write({**run, "config": config.to_dict()})
        return config
    if folder.exists():
        raise MuybridgeError(f"{run_dir}: a run already exists there; pass --resume to continue it")
    run = {
        "config": config.to_dict(),
        "dataset": {"path": str(data_dir), "content_hash": dataset.content_hash, "classes": dataset.classes,
                    "resolution": dataset.resolution, "count": dataset.count()},
        "model": model_config(config, dataset.classes, dataset.resolution),
    }
    if init_from is not None:  # the path, and the bytes it held: a zoo name or a run folder changes over time
        run["init_from"] = str(init_from.path)
        run["init_from_sha256"] = init_from.sha256
    folder.write(run)
    return config


def held_out_kid(config: TrainConfig, dataset: PreparedDataset) -> Callable[[Generator], float] | None:
    """The score the loop keeps the best snapshot by (held-out KID of ``eval_n`` images), or ``None`` when
    ``eval_kimg`` is 0; refused up front when the dataset has no held-out split to score on."""
    if config.eval_kimg <= 0:
        return None
    if dataset.count("heldout") == 0:
        raise MuybridgeError(f"{dataset.path}: has no held-out images for eval_kimg to score "
                             "(prepare it with --holdout, or set eval_kimg 0)")
    return lambda generator: quick_kid(generator, dataset, n=config.eval_n)


def fading_config(config: TrainConfig, source: WarmStart, resolution: int) -> TrainConfig:
    """``config`` with ``fade_from`` set when ``source`` is grown to ``resolution`` by an architecture that fades
    new layers in (a ``fade_from`` parameter) and ``fade_kimg`` > 0; else ``config`` as it is."""
    grows = source.resolution is not None and source.resolution < resolution
    if not grows or config.fade_kimg <= 0 or "fade_from" not in get_architecture(config.architecture).defaults:
        return config
    return dataclasses.replace(config, params={**config.params, "fade_from": source.resolution})


def crossed(before: int, after: int, interval_kimg: float) -> bool:
    """Whether a step from ``before`` to ``after`` images passed a multiple of ``interval_kimg``: ticks, samples,
    evaluations and snapshots fall on the run's own grid (0.5, 1.0, 1.5 kimg...), the same after a resume."""
    interval = interval_kimg * 1000
    return interval > 0 and math.floor(after / interval) > math.floor(before / interval)


def train(data_dir: str | Path, run_dir: str | Path, config: TrainConfig, *, kimg: float | None = None,
          minutes: float | None = None, cpu_minutes: float | None = None, resume: bool = False,
          init_from: str | Path | WarmStart | None = None, progress: Progress | None = None,
          should_stop: Callable[[], bool] = lambda: False,
          warn: Callable[[str], None] = lambda message: None) -> TrainResult:
    """Train until ``kimg`` thousand images, ``minutes`` of training (wall-clock) time or ``cpu_minutes`` of
    training CPU time (all counted over the whole run, across resumes), or until ``should_stop()``; the last
    state is checkpointed in every case. CPU time (the process's, all threads) is what a fair comparison of
    architectures on a shared machine should count.

    ``init_from`` starts a new run from networks trained before: a checkpoint file, a run folder, a model folder
    or a bundled model's name (see :mod:`muybridge.training.warm_start`), e.g. to fine-tune on your own photos,
    or the :class:`~muybridge.training.warm_start.WarmStart` read from one. This is the loop only: the settings
    are taken as given (:func:`~muybridge.training.session.start_or_resume` layers them as ``muybridge train``).

    With ``config.eval_kimg`` > 0 the EMA generator's held-out KID is scored that often (``eval_kid`` rows in
    ``metrics.jsonl``) and the best-scoring snapshot is kept as ``checkpoints/best.safetensors``.
    """
    data_dir, run_dir = Path(data_dir), Path(run_dir)
    if kimg is None and minutes is None and cpu_minutes is None:
        raise MuybridgeError("give a training length: kimg, minutes or cpu_minutes")
    world = init_world()
    source = init_from if isinstance(init_from, WarmStart) or init_from is None \
        else read_source(resolve_source(init_from))
    # Refuse a source that does not fit, or an evaluation without held-out images, before the run folder is written.
    dataset = open_dataset(data_dir)
    if source is not None and not resume:
        config = fading_config(config, source, dataset.resolution)
    start_states = fit_states(source, model_config(config, dataset.classes, dataset.resolution)) if source else None
    evaluate = held_out_kid(config, dataset)
    if world.is_main:
        config = prepare_run(data_dir, run_dir, config, resume, source)
    barrier(world)
    if not world.is_main:
        run = RunFolder(run_dir)
        config = resolve_config(run.read()["config"]) if run.exists() else config
    trainer = Trainer(data_dir, run_dir, config, world)
    ckpt.remove_stale_temporaries(trainer.run.checkpoints)
    latest = latest_readable_checkpoint(trainer.run, warn)
    if latest is not None and source is not None:
        raise MuybridgeError(f"{run_dir}: holds checkpoints already, so --init-from would be ignored; "
                             "drop it to resume the run")
    if resume and latest is not None:
        trainer.restore(latest)
    elif latest is not None:
        raise MuybridgeError(f"{run_dir}: holds checkpoints already; pass --resume to continue")
    elif source is not None and start_states is not None:
        trainer.initialize_from(start_states, source.path, warn)
    logger = RunLogger(run_dir) if world.is_main else None
    total_nimg = int(kimg * 1000) if kimg is not None else None
    time_limit = minutes * 60 if minutes is not None else math.inf
    cpu_limit = cpu_minutes * 60 if cpu_minutes is not None else math.inf
    stopped_by = "length"
    tick_start, tick_nimg = time.perf_counter(), trainer.nimg
    stats: dict[str, float] = {}
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = iter(trainer.loader)
    last_checkpoint: Path | None = latest
    try:
        while True:
            # Each rank has its own clocks and signals: all stop at the same step, or one would wait alone.
            time_up, stop_requested = any_rank(
                world, trainer.train_seconds >= time_limit or trainer.cpu_seconds >= cpu_limit, should_stop())
            if (total_nimg is not None and trainer.nimg >= total_nimg) or time_up:
                break
            if stop_requested:
                stopped_by = "request"
                break
            started, cpu_started, before = time.perf_counter(), time.process_time(), trainer.nimg
            real, labels = next(batches)
            try:
                stats = trainer.train_step(real, labels)
            except Diverged as exc:
                trainer.rollbacks += 1
                if last_checkpoint is None or trainer.rollbacks > config.max_rollbacks:
                    raise MuybridgeError(f"training diverged ({exc}) and cannot roll back further; "
                                         "try a lower learning rate or a larger r1_gamma") from None
                rollbacks = trainer.rollbacks
                warn(f"training diverged ({exc}); rolling back to {last_checkpoint.name} "
                     f"(rollback {rollbacks} of {config.max_rollbacks}) with fresh noise")
                trainer.restore(last_checkpoint)
                trainer.rollbacks = rollbacks
                trainer.rng.manual_seed(config.seed * 7919 + world.rank + 1_000_003 * rollbacks)
                trainer.d_wins = 0
                batches = iter(trainer.loader)
                continue
            trainer.train_seconds += time.perf_counter() - started
            trainer.cpu_seconds += time.process_time() - cpu_started

            if crossed(before, trainer.nimg, config.tick_kimg):
                now = time.perf_counter()
                stats["img_per_s"] = (trainer.nimg - tick_nimg) / max(now - tick_start, 1e-9)
                tick_start, tick_nimg = now, trainer.nimg
                if logger:
                    logger.scalars(trainer.nimg, stats)
            done, total = progress_position(trainer, total_nimg, time_limit, cpu_limit)
            report(progress, done, total, kimg=trainer.nimg / 1000,
                   **{k: v for k, v in stats.items() if k in ("loss_d", "loss_g", "img_per_s")})
            if crossed(before, trainer.nimg, config.sample_kimg) and logger:
                logger.samples(trainer.nimg, class_grid(trainer.generator(), SAMPLE_SEEDS))
            saved_now = False
            if evaluate is not None and crossed(before, trainer.nimg, config.eval_kimg):
                # Rank 0 scores (the others wait in the broadcast); then every rank takes the same decision.
                score = broadcast_float(evaluate(trainer.generator()) if world.is_main else math.nan, world)
                if logger:
                    logger.scalars(trainer.nimg, {"eval_kid": score})
                if trainer.best_kid is None or score < trainer.best_kid:
                    trainer.best_kid = score
                    last_checkpoint = trainer.save()
                    if world.is_main:
                        trainer.run.write_best(last_checkpoint)
                    saved_now = True
            if crossed(before, trainer.nimg, config.snapshot_kimg) and not saved_now:
                last_checkpoint = trainer.save()
    except KeyboardInterrupt:
        stopped_by = "interrupt"
    final = trainer.save()
    if logger:
        logger.samples(trainer.nimg, class_grid(trainer.generator(), SAMPLE_SEEDS))
        logger.close()
    return TrainResult(run_dir, trainer.step, trainer.nimg / 1000, trainer.train_seconds, trainer.cpu_seconds,
                       stopped_by, final, trainer.rollbacks)


def progress_position(trainer: Trainer, total_nimg: int | None, time_limit: float,
                      cpu_limit: float) -> tuple[int, int | None]:
    """Progress in the unit of the given length (images when kimg is set, else seconds of training time or of
    CPU time), so the bar's ETA is right whichever length was given."""
    if total_nimg is not None:
        return trainer.nimg, total_nimg
    if math.isfinite(time_limit):
        return int(trainer.train_seconds), int(time_limit)
    if math.isfinite(cpu_limit):
        return int(trainer.cpu_seconds), int(cpu_limit)
    return trainer.nimg, None


def latest_readable_checkpoint(run: RunFolder, warn: Callable[[str], None]) -> Path | None:
    """The newest checkpoint that loads; an unreadable newer one is reported and skipped."""
    for path in reversed(run.list_checkpoints()):
        try:
            ckpt.read_checkpoint(path)
            return path
        except MuybridgeError as exc:
            warn(f"skipping unreadable checkpoint: {exc}")
    return None


class RunLogger:
    """TensorBoard scalars and images, ``metrics.jsonl`` lines, and sample grids as PNG (rank 0 only)."""

    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow to import: only when a run logs

        self.run = RunFolder(run_dir)
        self.writer = SummaryWriter(str(self.run.logs))

    def scalars(self, nimg: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"train/{key}", value, nimg)
        self.run.append_metrics({"kimg": nimg / 1000, **values})

    def samples(self, nimg: int, grid: np.ndarray) -> None:
        self.writer.add_image("samples", grid, nimg, dataformats="HWC")
        for path in (self.run.sample_grid(nimg), self.run.latest_sample):
            with atomic_path(path, suffix=".png") as tmp:
                Image.fromarray(grid).save(tmp, format="PNG")

    def close(self) -> None:
        self.writer.close()
