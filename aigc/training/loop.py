"""THE training loop: training from scratch and fine-tuning from ratings are the same code path.

A run = a model (fresh or from a parent checkpoint), an in-memory dataset, optional per-example
weights, and a `TrainConfig`. The loop draws batches (uniformly per epoch, or by weight), asks
the kind's objective for one step, and takes care of what every run needs: a tqdm bar with live
losses, a JSONL log, periodic resumable checkpoints and sample grids, Ctrl-C → resumable save,
and a loss-curve PNG at the end.

Every random draw of step s comes from a generator seeded by (seed, s), so `--resume` continues
exactly where an interrupted run stopped and the same seed repeats the same run.

Under torchrun the same loop runs data-parallel (see `aigc.training.distributed`): every rank draws the
same global batch for step s and trains on its rows of it; only rank 0 writes anything.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import torch
from tqdm.auto import tqdm

from aigc.data.datasets import ImageDataset, to_uint8
from aigc.data.images import save_grid
from aigc.models import AnyModel, Generative
from aigc.models.checkpoint import CheckpointError, CheckpointRecord, save_model
from aigc.training import distributed
from aigc.training.distributed import DistInfo
from aigc.training.loss_plot import plot_losses
from aigc.training.objectives import OBJECTIVES, StepInput, objective_options
from aigc.training.resume import data_label, load_training_state, resume_all_ranks, save_training_state

DEFAULT_LR = {"gan": 2e-4, "vae": 1e-3, "classifier": 1e-3}
ADAM_BETAS = {"gan": (0.5, 0.999), "vae": (0.9, 0.999), "classifier": (0.9, 0.999)}


@dataclass
class TrainConfig:
    out_dir: str = "runs/default"
    epochs: float = 10.0
    steps: int | None = None  # overrides epochs when set
    batch_size: int = 128
    lr: float | None = None  # None → the kind's default
    seed: int = 0
    weighting: str = "sampler"  # how per-example weights act: 'sampler' (draw by weight) or 'loss' (weighted loss)
    checkpoint_every: int = 1000
    sample_every: int = 500
    log_every: int = 20
    threads: int | None = None  # torch intra-op threads; None leaves torch's default
    device: str = "cpu"
    progress: bool = True
    resume: bool = False
    ema_decay: float = 0.0  # GAN only: ship an exponential moving average of the generator (0: the last weights)
    perceptual: str | None = None  # GAN/VAE: a classifier checkpoint whose view of the images joins the loss
    perceptual_weight: float = 0.0  # the weight of that perceptual distance (aigc.training.perceptual)
    latent_prior: dict | None = None  # GAN: a prior record (aigc.models.prior) its training z come from, not N(0, I)


@dataclass
class TrainResult:
    model: AnyModel
    steps: int
    wall_time_s: float
    images_per_s: float
    final_losses: dict[str, float]
    interrupted: bool = False
    out_dir: Path = field(default_factory=Path)
    world_size: int = 1  # processes that trained it (data-parallel under torchrun)
    rank_divergence: float = 0.0  # largest weight difference between ranks at the end (0.0: identical)


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


class BatchPlan:
    """Which examples step s uses: an epoch-wise permutation, or draws proportional to the weights."""

    def __init__(self, n: int, batch_size: int, seed: int, weights: torch.Tensor | None, weighting: str):
        self.n, self.batch_size, self.seed = n, min(batch_size, n), seed
        self.weights = weights if weights is not None and weighting == "sampler" else None
        self.steps_per_epoch = max(1, n // self.batch_size)
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        if self.weights is not None:
            return torch.multinomial(
                self.weights, self.batch_size, replacement=True, generator=_step_generator(self.seed + 7, step)
            )
        epoch, offset = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = torch.randperm(self.n, generator=_step_generator(self.seed + 13, epoch))
        return self._perm[offset * self.batch_size : (offset + 1) * self.batch_size]


def total_steps(cfg: TrainConfig, n: int) -> int:
    return cfg.steps if cfg.steps is not None else max(1, math.ceil(cfg.epochs * max(1, n // min(cfg.batch_size, n))))


def train(
    model: AnyModel,
    dataset: ImageDataset,
    cfg: TrainConfig,
    record: CheckpointRecord,
    weights: torch.Tensor | None = None,
    on_progress: Callable[[int, int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dist: DistInfo | None = None,
) -> TrainResult:
    """Train `model` in place on `dataset` (weighted if `weights`), writing everything under cfg.out_dir.

    dist: the data-parallel run this process is part of (`distributed.init_from_env`'s answer under
    torchrun; default: a plain single-process run). Then cfg.batch_size is the global batch, each
    rank trains on its rows, and only the main rank writes files and calls `on_progress`.
    """
    dist = dist or distributed.SINGLE
    par, main = dist.parallel, dist.is_main
    # cfg.threads is recorded, not applied: the entry point (CLI, Studio.open, a benchmark) sets the
    # process's thread count once; a library call changing process-wide state was a hidden side effect
    torch.manual_seed(
        cfg.seed + dist.rank
    )  # dropout and friends (offset by rank); every other draw has its own per-step generator
    device = torch.device(cfg.device)
    out = Path(cfg.out_dir)
    if main:
        (out / "samples").mkdir(parents=True, exist_ok=True)
    # channels-last convolutions measured 1.2× faster for these models on CPU (benchmarks/train_throughput.py)
    memory_format = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    model.to(device=device, memory_format=memory_format).train()  # type: ignore[call-overload]  # torch's stubs omit the keyword
    kind = model.kind
    lr = cfg.lr if cfg.lr is not None else DEFAULT_LR[kind]
    images = dataset.images.to(device).contiguous(memory_format=memory_format)  # one copy: the GAN's term reads it
    opts = objective_options(str(kind), cfg.ema_decay, cfg.perceptual, cfg.perceptual_weight, images, cfg.latent_prior)
    objective = OBJECTIVES[kind](
        model, lr, ADAM_BETAS[kind], device, wrap=(lambda m: distributed.wrap(m, dist)) if par else None, **opts
    )
    if weights is not None:
        if (
            weights.shape != (len(dataset),)
            or not torch.isfinite(weights).all()
            or (weights < 0).any()
            or weights.sum() <= 0
        ):
            raise ValueError(f"weights must be {len(dataset)} finite non-negative numbers with a positive sum")
        weights = weights.float().cpu()

    start_step = 0
    last_path = out / "last.safetensors"
    if cfg.resume:
        if par:
            start_step, saved_weights = resume_all_ranks(last_path, model, objective, dist, data_label(dataset))
        else:
            if not last_path.exists():
                raise CheckpointError(f"{last_path}: nothing to resume from (no interrupted run in {out})")
            start_step, saved_weights = load_training_state(last_path, model, objective, data_label(dataset))
        weights = saved_weights if saved_weights is not None else weights
    labels = dataset.labels.to(device) if dataset.labels is not None else None
    loss_weights_all = weights.to(device) if weights is not None and cfg.weighting == "loss" else None
    plan = BatchPlan(len(dataset), cfg.batch_size, cfg.seed, weights, cfg.weighting)
    n_steps = total_steps(cfg, len(dataset))
    rows = dist.rows(plan.batch_size) if par else None
    if par:
        distributed.check_same(
            "the data, weights or step plan",
            [
                *distributed.fingerprint(dataset.images),
                *distributed.fingerprint(weights),
                n_steps,
                plan.batch_size,
                cfg.seed,
                start_step,
            ],
            dist,
        )
    grid_z = (
        torch.randn(64, cast(Generative, model).latent_dim, generator=_step_generator(cfg.seed, -1))
        if kind != "classifier"
        else None
    )

    running_stats = [b for b in model.buffers() if b.is_floating_point()]  # data-parallel: averaged over ranks

    def checkpoint(step: int) -> None:
        if main:
            save_training_state(last_path, model, objective, step, record, weights, data_label(dataset))

    def sample_grid(step: int) -> None:
        if grid_z is None or not main:
            return
        model.eval()
        with torch.inference_mode():
            save_grid(
                to_uint8(cast(Generative, model).decode(grid_z.to(device))),
                out / "samples" / f"step_{step:06d}.png",
                nrow=8,
                upscale=2,
            )
        model.train()

    log_file = open(out / "log.jsonl", "a" if cfg.resume else "w") if main else None  # noqa: SIM115 (closed in finally)
    bar = tqdm(
        total=n_steps,
        initial=start_step,
        desc=f"train {kind}",
        disable=not cfg.progress or not main,
        dynamic_ncols=True,
    )
    losses: dict[str, float] = {}
    interrupted, step = False, start_step
    completed = start_step  # steps whose update has been applied: what a resume must not replay
    signals = distributed.StopSignals()
    stop_voted = False
    t0 = time.perf_counter()
    try:
        with signals.installed() if par else contextlib.nullcontext():
            for step in range(start_step, n_steps):
                if stop_voted or (not par and should_stop is not None and should_stop()):
                    interrupted = True
                    break
                global_idx = plan.indices(step)
                idx = (global_idx if rows is None else global_idx[rows]).to(device)  # data-parallel: this rank's rows
                batch = StepInput(
                    images=images.index_select(0, idx),
                    labels=labels.index_select(0, idx) if labels is not None else None,
                    weights=loss_weights_all.index_select(0, idx) if loss_weights_all is not None else None,
                    generator=_step_generator(cfg.seed, step),
                )
                if rows is not None:
                    batch.rows, batch.global_batch = rows, plan.batch_size
                    if (
                        loss_weights_all is not None
                    ):  # rank's weighted mean × (its weight share × ranks) → DDP's mean is the global one
                        assert batch.weights is not None  # taken from loss_weights_all above
                        batch.weight_scale = float(
                            batch.weights.sum()
                            * dist.world_size
                            / loss_weights_all.index_select(0, global_idx.to(device)).sum()
                        )
                losses = objective.step(batch)
                if par:  # mean losses and BatchNorm statistics over ranks, and everyone's stop requests: one all-reduce
                    stop_wanted = signals.requested or (should_stop is not None and should_stop())
                    losses, stop_voted = distributed.reduce_step(losses, stop_wanted, dist, running_stats)
                completed = step + 1
                if not all(math.isfinite(v) for v in losses.values()):
                    raise FloatingPointError(f"loss became non-finite at step {step}: {losses}; try a lower --lr")
                done = step + 1
                bar.update(1)
                if log_file is not None and (done % cfg.log_every == 0 or done == n_steps):
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
                    log_file.write(
                        json.dumps({"step": done, "time_s": round(time.perf_counter() - t0, 3), **losses}) + "\n"
                    )
                    log_file.flush()
                if on_progress is not None and main:
                    on_progress(done, n_steps, losses)
                if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done < n_steps:
                    checkpoint(done)
                if cfg.sample_every and done % cfg.sample_every == 0:
                    sample_grid(done)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
    wall = time.perf_counter() - t0
    if interrupted:
        checkpoint(completed)
        if cfg.progress and main:
            print(
                f"interrupted at step {completed}/{n_steps}; resumable checkpoint saved to {last_path} "
                "(continue with --resume)"
            )
    else:
        if hasattr(objective, "finish"):
            objective.finish(cfg.seed)  # e.g. the GAN's averaged generator replaces the last weights
        sample_grid(n_steps)
        if main:
            if (out / "log.jsonl").stat().st_size:
                plot_losses(out / "log.jsonl", out / "loss.png")
            last_path.unlink(missing_ok=True)
    divergence = 0.0
    if par:
        divergence = distributed.divergence(model, dist)
        if divergence > 0 and main:
            print(
                f"warning: the {dist.world_size} processes ended with different weights "
                f"(max difference {divergence:.3g}); "
                "rank 0's are saved",
                file=sys.stderr,
            )
        distributed.leave_after_training(dist)  # what rank 0 does next (evaluation, saving, rows) is single-process
    model.to(memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]  # hand back an ordinary model (torch's stubs omit the keyword)
    images_seen = (completed - start_step) * plan.batch_size
    return TrainResult(
        model,
        completed,
        wall,
        images_seen / wall if wall > 0 else 0.0,
        losses,
        interrupted,
        out,
        world_size=dist.world_size,
        rank_divergence=divergence,
    )


def finish_record(record: CheckpointRecord, result: TrainResult, cfg: TrainConfig, **extra) -> CheckpointRecord:
    """Fill the record's training stats from a finished run."""
    record.training.update(
        {
            "steps": result.steps,
            "wall_time_s": round(result.wall_time_s, 1),
            "images_per_s": round(result.images_per_s, 1),
            "final_losses": {k: round(v, 4) for k, v in result.final_losses.items()},
            "config": asdict(cfg),
            "threads": torch.get_num_threads(),
            "adam_betas": list(ADAM_BETAS.get(record.kind, ())),
            **(
                {"world_size": result.world_size, "rank_divergence": result.rank_divergence}
                if result.world_size > 1
                else {}
            ),
            **extra,
        }
    )
    return record


def save_final(path: str | os.PathLike, model: AnyModel, record: CheckpointRecord) -> Path:
    model.cpu()
    return save_model(path, model, record)
