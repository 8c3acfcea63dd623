"""Run `aigc ...` under torchrun, and also save EVERY rank's final weights (the CLI saves rank 0's only).

    torchrun --nproc_per_node 2 tests/distributed/rank_worker.py DUMP_DIR train vae --data synthetic ...

Wraps `aigc.training.loop.train` (as the CLI and the fine-tune follower call it) so that, after training,
rank r writes DUMP_DIR/rank{r}.safetensors: the ranks' weights can then be compared directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors.torch import save_file

import aigc.cli.commands
import aigc.feedback.finetune
import aigc.training.loop
from aigc.cli import main

real_train = aigc.training.loop.train


def train_and_dump(model, *args, **kwargs):
    result = real_train(model, *args, **kwargs)
    rank = int(os.environ["RANK"])  # the loop has left the process group by now
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(Path(DUMP) / f"rank{rank}.safetensors"))
    return result


if __name__ == "__main__":
    DUMP = sys.argv[1]
    Path(DUMP).mkdir(parents=True, exist_ok=True)
    aigc.training.loop.train = aigc.cli.commands.train = aigc.feedback.finetune.train = train_and_dump
    sys.exit(main(sys.argv[2:]))
