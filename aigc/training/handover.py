"""Handing a fine-tune prepared by rank 0 to the other ranks of a torchrun group.

A fine-tune's data, weights and parent come from the database, which only rank 0 reads. Rank 0
prepares the run and hands it over (`Handover.share`); the other ranks wait in `follow_run`,
rebuild the same model, receive the data and weights, and train with rank 0. If rank 0 fails
before sharing, `Handover.release` tells them to exit instead of waiting.

Its own module (it used to sit at the end of the training loop with a module global saying
whether the run was shared): the handshake is a protocol between processes, not part of a step,
and its one piece of state now lives in the `Handover` object rank 0 holds for one run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from aigc.data.datasets import ImageDataset
from aigc.models import AnyModel
from aigc.models.checkpoint import CheckpointRecord
from aigc.training import distributed
from aigc.training.distributed import DistInfo
from aigc.training.loop import TrainConfig, train


@dataclass
class Handover:
    """Rank 0's side for one run: the other ranks get exactly one message, the run or an exit code."""

    dist: DistInfo
    sent: bool = False

    def share(self, model: AnyModel, dataset: ImageDataset, cfg: TrainConfig, weights: torch.Tensor | None) -> None:
        """Send the run about to be trained to the other ranks (a no-op alone, or once sent)."""
        if not self.dist.parallel or self.sent:
            return
        header = {
            "kind": model.kind,
            "config": asdict(model.cfg),
            "train": asdict(cfg),
            "dataset": dataset.name,
            "labels": dataset.labels is not None,
        }
        distributed.broadcast_json(header, self.dist)
        distributed.broadcast_tensor(dataset.images.float(), self.dist)
        if dataset.labels is not None:
            distributed.broadcast_tensor(dataset.labels, self.dist)
        distributed.broadcast_tensor(None if weights is None else weights.float(), self.dist)
        self.sent = True  # the weights themselves reach the others when DDP is built (from rank 0's model)

    def release(self, code: int, message: str) -> None:
        """Rank 0, when it ends without sharing: the followers exit with `code` instead of waiting."""
        if self.dist.parallel and self.dist.is_main and not self.sent:
            distributed.broadcast_json({"exit": int(code), "message": message}, self.dist)
            self.sent = True


def follow_run(dist: DistInfo) -> int:
    """Ranks > 0: train the run rank 0 shares; returns the process exit code."""
    from aigc.models import CONFIGS, MODELS

    header = distributed.broadcast_json(None, dist)
    if "exit" in header:
        return header["exit"]
    images = distributed.broadcast_tensor(None, dist)
    assert images is not None  # rank 0 always sends the images (Handover.share)
    labels = distributed.broadcast_tensor(None, dist) if header["labels"] else None
    weights = distributed.broadcast_tensor(None, dist)
    model = MODELS[header["kind"]](CONFIGS[header["kind"]](**header["config"]))  # rank 0's weights arrive with DDP
    cfg = TrainConfig(**{**header["train"], "device": str(dist.device), "progress": False})
    result = train(
        model,
        ImageDataset(images, labels, header["dataset"]),
        cfg,
        CheckpointRecord(kind=header["kind"], config={}),
        weights=weights,
        dist=dist,
    )
    return 130 if result.interrupted else 0
