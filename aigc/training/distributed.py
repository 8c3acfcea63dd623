"""Data-parallel runs under torchrun: one process per core or GPU, PyTorch's own DDP.

    torchrun --nproc_per_node 2 -m aigc.cli train vae --data synthetic --batch-size 64
    torchrun --nproc_per_node 2 -m aigc.cli finetune fashion-vae --db postgresql+psycopg://...

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT; `init_from_env` reads them, joins
the process group (gloo on CPU; NCCL for CUDA tensors, with gloo beside it for the few CPU-side
collectives) and says who this process is. Without torchrun (WORLD_SIZE unset or 1) it joins
nothing, and the single-process path of `aigc.training.loop` runs exactly as it always has.

How a data-parallel step equals a single-process step with the same global batch:
- every rank draws the SAME global index list for step s (the same seeded generator) and takes
  its contiguous rows of it (`DistInfo.rows`): weighted sampling stays exact across ranks;
- per-step noise (GAN z, VAE eps) is drawn for the whole global batch and sliced the same way;
- each rank's loss is the mean over its rows and DDP averages gradients: with equal rows that is
  the gradient of the global mean.
What differs: BatchNorm normalises with each rank's own batch statistics in training mode
(torch's SyncBatchNorm is CUDA-only), and float sums run in another order. Running statistics
are averaged over the ranks after every step (`reduce_step`), so the ranks stay identical.

Only rank 0 writes: progress bar, log, sample grids, checkpoints, model card, database rows.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import json
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """Who this process is in a run. The default is a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    is_main: bool = True
    parallel: bool = False  # True once a process group is joined (even a group of one)
    leave_after_run: bool = False  # joined by init_from_env: the group serves one run (`leave_after_training`)

    def rows(self, batch_size: int) -> slice:
        """This rank's contiguous rows of a global batch."""
        if batch_size % self.world_size:
            raise ValueError(
                f"the batch size ({batch_size}) is the global batch and must be divisible by the number "
                f"of processes ({self.world_size}); each process takes batch_size / processes rows"
            )
        per = batch_size // self.world_size
        return slice(self.rank * per, (self.rank + 1) * per)


SINGLE = DistInfo()  # frozen: a constant, not state


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str | None = None, timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group torchrun describes in the environment; a no-op without torchrun.

    device: the command's --device ('auto'/None → CUDA when present). On CUDA each process takes
    cuda:LOCAL_RANK; any other device runs on CPU with gloo.
    """
    if not launched_by_torchrun():
        return SINGLE
    world = int(os.environ["WORLD_SIZE"])
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    want = torch.device(device)
    if want.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda under torchrun, but this machine has no CUDA device")
        target = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(target)
        backend = "cpu:gloo,cuda:nccl"
    elif want.type == "cpu":
        target, backend = torch.device("cpu"), "gloo"
    else:
        raise ValueError(f"data-parallel runs support cpu and cuda devices, not {want.type}")
    return replace(join(rank, world, local, target, backend, timeout_s), leave_after_run=True)


def join(
    rank: int,
    world_size: int,
    local_rank: int = 0,
    device: torch.device | str = "cpu",
    backend: str | None = None,
    timeout_s: float = 1800.0,
) -> DistInfo:
    """Join (or adopt) the default process group (MASTER_ADDR/MASTER_PORT from the environment)."""
    device = torch.device(device)
    if not dist.is_initialized():
        dist.init_process_group(
            backend or ("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"),
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout_s),
        )
        atexit.register(shutdown)
    return DistInfo(rank, world_size, local_rank, device, rank == 0, parallel=True)


def leave_after_training(info: DistInfo) -> None:
    """Called by the loop when a run ends: a group joined by `init_from_env` is left then.

    What rank 0 does afterwards (evaluation, torchmetrics, the model card, database rows) is then
    plain single-process work: nothing can wait on ranks that have already exited. A group joined
    with `join` (tests, notebooks) stays.
    """
    if info.leave_after_run:
        # Every rank's queued work done before any rank tears its group down (a gloo barrier waits for the work
        # queued before it): gloo threads still holding work at teardown abort the process ("terminate called
        # without an active exception", seen on rank 1 in about 1 of 50 CI runs; pytorch/pytorch#179291).
        dist.barrier()
        shutdown()


def shutdown() -> None:
    """Leave the process group (at exit, or when a test is done with it)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------- models


def wrap(module: nn.Module, info: DistInfo) -> nn.Module:
    """DDP around `module` (its parameters stay the module's own: optimisers and state_dict are unchanged).

    Building it copies rank 0's parameters and buffers to every rank. Buffers are not broadcast at
    every forward: BatchNorm running statistics are averaged after each step instead (`reduce_step`).
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [info.device.index] if info.device.type == "cuda" else None  # CPU: no device_ids
    # torch ≥ 2.13 renamed broadcast_buffers (whose False now also skips the sync at construction).
    per_forward = (
        "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP).parameters else "broadcast_buffers"
    )
    buffers_off: dict[str, Any] = {per_forward: False}  # a keyword chosen at run time: no stub can name it
    ddp = DDP(module, device_ids=ids, **buffers_off)
    with torch.no_grad():
        for buf in module.buffers():  # rank 0's buffers everywhere at the start, whatever the version does
            dist.broadcast(buf, 0)
    return ddp


def no_sync(module: nn.Module) -> contextlib.AbstractContextManager:
    """Forwards inside do not synchronise gradients (a DDP module); a plain module: nothing."""
    sync_off = getattr(module, "no_sync", None)
    return sync_off() if sync_off is not None else contextlib.nullcontext()


@torch.no_grad()
def divergence(module: nn.Module, info: DistInfo) -> float:
    """Largest absolute difference of any weight or buffer between ranks (0.0: all ranks agree)."""
    if not info.parallel or info.world_size == 1:
        return 0.0
    values = [t.detach().reshape(-1).double() for t in module.state_dict().values() if t.numel()]
    flat = torch.cat(values) if values else torch.zeros(1, dtype=torch.float64, device=info.device)
    hi, lo = flat.clone(), flat.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    return float((hi - lo).max())


# ---------------------------------------------------------------- small collectives


@torch.no_grad()
def reduce_step(
    losses: dict[str, float], stop: bool, info: DistInfo, buffers: Sequence[torch.Tensor] = ()
) -> tuple[dict[str, float], bool]:
    """One all-reduce per step: the ranks' mean losses (= the global batch's with equal rows), a stop
    vote, and the rank mean of `buffers` (BatchNorm running statistics), written back in place.

    Every rank gets the same numbers, so every rank stops, logs and checks for NaN at the same step,
    and the ranks' weights AND buffers stay identical after every step (checkpoints, grids, resume).
    Each rank's running mean is an exponential average of its rows' batch means, so their rank mean
    is exactly the running mean of the global batch means; the running variance averages per-rank
    variances, leaving out the spread between the ranks' means: close, not equal.
    Buffers on a GPU take a second all-reduce there rather than a round trip through the CPU.
    """
    on_cpu = [b for b in buffers if b.device.type == "cpu"]
    elsewhere = [b for b in buffers if b.device.type != "cpu"]
    head = torch.tensor([*losses.values(), 1.0 if stop else 0.0], dtype=torch.float64)
    packed = torch.cat([head, *(b.reshape(-1).double() for b in on_cpu)])
    dist.all_reduce(packed)
    means = packed / info.world_size
    _unflatten(means[len(head) :], on_cpu)
    if elsewhere:
        flat = torch.cat([b.reshape(-1).double() for b in elsewhere])
        dist.all_reduce(flat)
        _unflatten(flat / info.world_size, elsewhere)
    return dict(zip(losses, means[: len(losses)].tolist())), bool(packed[len(losses)] > 0)


def _unflatten(flat: torch.Tensor, tensors: Sequence[torch.Tensor]) -> None:
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


def check_same(what: str, numbers: Sequence[float], info: DistInfo) -> None:
    """Raise on every rank if the ranks disagree on `numbers` (data, weights, flags)."""
    if not info.parallel or info.world_size == 1:
        return
    t = torch.tensor([float(x) for x in numbers], dtype=torch.float64)
    hi, lo = t.clone(), t.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    if not torch.allclose(hi, lo, rtol=1e-9, atol=0.0):
        raise ValueError(
            f"the {info.world_size} processes disagree on {what}: every process (and every node) needs "
            "the same data, checkpoint and flags"
        )


def fingerprint(t: torch.Tensor | None) -> list[float]:
    """A few numbers that differ when two tensors differ (for `check_same`)."""
    if t is None:
        return [-1.0, 0.0, 0.0]
    x = t.detach().double()
    return [float(x.numel()), float(x.sum()), float((x * x).sum())]


def broadcast_json(obj: Any, info: DistInfo) -> Any:
    """Rank 0's JSON-able object, on every rank (plain JSON bytes, no pickle)."""
    payload = json.dumps(obj).encode() if info.is_main else b""
    received = broadcast_bytes(payload, info)
    assert received is not None  # rank 0 sent bytes, not None
    return json.loads(received)


def broadcast_bytes(payload: bytes | None, info: DistInfo) -> bytes | None:
    """Rank 0's bytes (or None), on every rank."""
    size = torch.tensor([-1 if payload is None else len(payload)], dtype=torch.int64)
    dist.broadcast(size, 0)
    n = int(size.item())
    if n < 0:
        return None
    buf = (
        torch.frombuffer(bytearray(payload), dtype=torch.uint8)
        if info.is_main and payload  # on rank 0, n is len(payload)
        else torch.empty(n, dtype=torch.uint8)
    )
    if n:
        dist.broadcast(buf, 0)
    return bytes(buf.numpy().tobytes()) if n else b""


def broadcast_tensor(t: torch.Tensor | None, info: DistInfo) -> torch.Tensor | None:
    """Rank 0's CPU tensor (or None), on every rank."""
    meta = broadcast_json(
        None if t is None else {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}, info
    )
    if meta is None:
        return None
    out = (
        t.detach().contiguous().cpu()
        if info.is_main and t is not None  # on rank 0, meta is None exactly when t is
        else torch.empty(meta["shape"], dtype=getattr(torch, meta["dtype"]))
    )
    dist.broadcast(out, 0)
    return out


# ---------------------------------------------------------------- stopping together


class StopSignals:
    """Ctrl-C / SIGTERM → a flag the loop votes on, instead of a KeyboardInterrupt in mid-collective.

    A rank interrupted inside an all-reduce would leave the others waiting; with the flag, every
    rank finishes the current step, the vote says stop, and rank 0 writes the resumable checkpoint.
    Only installed in the main thread (Python's rule for signal handlers).
    """

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[signal.Signals, Any] = {}

    def _handle(self, signum, frame) -> None:
        self.requested = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, old in self._old.items():
                signal.signal(sig, old)
            self._old.clear()
