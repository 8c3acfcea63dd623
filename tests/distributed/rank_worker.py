"""Run `aigc ...` under torchrun, and also save EVERY rank's final weights (the CLI saves rank 0's only).

    torchrun --nproc_per_node 2 tests/distributed/rank_worker.py DUMP_DIR train vae --data synthetic ...

Wraps `aigc.training.loop.train` (as the CLI, the fine-tune and its followers call it) so that, after training,
rank r writes DUMP_DIR/rank{r}.safetensors: the ranks' weights can then be compared directly.

With AIGC_TEST_HOLD_AT_STEP=N, every rank stops before the N-th step's all-reduce, writes
DUMP_DIR/held-rank{r} and waits there until it has received its own Ctrl-C (SIGINT or SIGTERM). A test
can then interrupt a run at a known step however fast or slow the machine is: no sleep, no race.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from safetensors.torch import save_file

import aigc.cli.commands
import aigc.feedback.finetune
import aigc.training.handover
import aigc.training.loop
from aigc.cli import main
from aigc.training import distributed

real_train = aigc.training.loop.train
real_reduce_step = distributed.reduce_step
real_handle = distributed.StopSignals._handle
HOLD_AT = int(os.environ.get("AIGC_TEST_HOLD_AT_STEP", "0"))
signalled = threading.Event()
steps_seen = 0


def train_and_dump(model, *args, **kwargs):
    result = real_train(model, *args, **kwargs)
    rank = int(os.environ["RANK"])  # the loop has left the process group by now
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(Path(DUMP) / f"rank{rank}.safetensors"))
    return result


def handle_and_note(self, signum, frame) -> None:
    signalled.set()
    real_handle(self, signum, frame)


def reduce_step_held(losses, stop, info, buffers=()):
    """The loop's per-step all-reduce; at step HOLD_AT, first wait for this rank's own Ctrl-C.

    The stop flag of this step was read before the signal, so the ranks vote to stop at the step after:
    the run always ends after step HOLD_AT + 1, with the last log line the one written before the hold.
    """
    global steps_seen
    steps_seen += 1
    if steps_seen == HOLD_AT:
        (Path(DUMP) / f"held-rank{info.rank}").touch()
        deadline = time.monotonic() + 300
        while not signalled.is_set():  # the signal handler runs in this (main) thread, inside sleep
            if time.monotonic() > deadline:
                raise SystemExit(f"rank {info.rank}: held at step {HOLD_AT}, but no Ctrl-C came within 300 s")
            time.sleep(0.01)
    return real_reduce_step(losses, stop, info, buffers)


if __name__ == "__main__":
    DUMP = sys.argv[1]
    Path(DUMP).mkdir(parents=True, exist_ok=True)
    for module in (aigc.training.loop, aigc.cli.commands, aigc.feedback.finetune, aigc.training.handover):
        module.train = train_and_dump  # every caller: the CLI, rank 0's fine-tune, the followers' handover
    if HOLD_AT:
        distributed.reduce_step = reduce_step_held
        distributed.StopSignals._handle = handle_and_note
    sys.exit(main(sys.argv[2:]))
