"""The resume file (OUT/last.safetensors): model, optimisers, step, sampling weights and what the run trains
on, in one atomic file, so an interrupted run goes on exactly where it stopped (on every rank under torchrun)."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from aigc.data.datasets import ImageDataset
from aigc.models import AnyModel
from aigc.models.checkpoint import CheckpointError, CheckpointRecord, read_checkpoint, save_tensors
from aigc.training import distributed
from aigc.training.distributed import DistInfo
from aigc.training.optim_state import optimizer_from_tensors, optimizer_to_tensors


def data_label(dataset: ImageDataset) -> str:
    """What a run trains on, as its resume file records it: the source and how many images (--data, --limit)."""
    return f"{dataset.name} ({len(dataset)} images)"


def save_training_state(
    path: Path,
    model: AnyModel,
    objective,
    step: int,
    record: CheckpointRecord,
    weights: torch.Tensor | None,
    data: str = "",
) -> None:
    """Model + optimisers + step (+ weights, + the data's label) in one atomic file, enough to resume exactly."""
    record.kind, record.config = model.kind, asdict(model.cfg)  # so load_module() can rebuild the model from it
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    meta: dict[str, str] = {"step": str(step), "data": data}
    for name, opt in objective.optimizers.items():
        opt_tensors, opt_meta = optimizer_to_tensors(opt, f"optim.{name}.")
        tensors.update(opt_tensors)
        meta[f"optim.{name}"] = opt_meta
    tensors.update(getattr(objective, "extra_state", dict)())
    if weights is not None:
        tensors["train.weights"] = weights
    save_tensors(path, tensors, record, extra_meta=meta)


def load_training_state(path: Path, model: nn.Module, objective, data: str = "") -> tuple[int, torch.Tensor | None]:
    """The step to go on from and the saved weights; refused when the run trained on other data (`data_label`):
    `--resume` without the first run's --data or --limit went on with Fashion-MNIST's 60,000 images."""
    tensors, record, meta = read_checkpoint(path)
    if data and meta.get("data") and meta["data"] != data:
        raise CheckpointError(
            f"{path}: the interrupted run trained on {meta['data']}, this one loads {data}; "
            "give --resume the same --data and --limit as the first run"
        )
    state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
        for name, opt in objective.optimizers.items():
            optimizer_from_tensors(opt, tensors, f"optim.{name}.", meta[f"optim.{name}"])
        if hasattr(objective, "load_extra_state"):
            objective.load_extra_state(tensors)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot resume from it: it does not match this model/config ({exc})") from exc
    return int(meta.get("step", 0)), tensors.get("train.weights")


def resume_all_ranks(
    path: Path, model: nn.Module, objective, dist: DistInfo, data: str
) -> tuple[int, torch.Tensor | None]:
    """Rank 0 reads the resume file and sends its bytes to every rank (other nodes need no copy of OUT)."""
    payload = path.read_bytes() if dist.is_main and path.exists() else None
    payload = distributed.broadcast_bytes(payload, dist)
    if payload is None:
        raise CheckpointError(f"{path}: nothing to resume from (no interrupted run in {path.parent})")
    if dist.is_main:
        return load_training_state(path, model, objective, data)
    with tempfile.TemporaryDirectory(prefix="aigc-resume-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(payload)
        return load_training_state(copy, model, objective, data)
