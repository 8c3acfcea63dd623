"""`aigc worker --db URL`: train queued fine-tuning runs from a shared PostgreSQL, on this machine.

Start one on any machine that reaches the database (a GPU box: add `--device`-free defaults, the
run picks CUDA itself); the studio's page queues runs with `aigc serve --db URL --finetune-queue
postgres`. Stop it with Ctrl-C or SIGTERM (the run it is training is stopped and failed).
See aigc.service.pgqueue for how a killed worker's run is failed and its slot handed on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from aigc import paths
from aigc.cli.numbers import COUNT, POSITIVE, THREADS


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="train queued fine-tuning runs from a shared PostgreSQL database")
    p.add_argument("--db", required=True, metavar="URL", help="the studio's PostgreSQL database (postgresql://...)")
    p.add_argument("--models", default=None, metavar="DIR", help="folder for new versions (default $AIGC_HOME/models)")
    p.add_argument("--concurrency", type=COUNT, default=1, metavar="N", help="runs trained at once (default 1)")
    p.add_argument("--threads", type=THREADS, default=1, metavar="N", help="torch threads per run (default 1)")
    p.add_argument(
        "--stall", type=POSITIVE, default=10.0, metavar="S", help="a worker silent this long is dead (default 10 s)"
    )
    p.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    from aigc.service.errors import StudioError
    from aigc.service.pgqueue import WorkerSettings, is_postgres, run_worker

    url = paths.database_url(args.db)
    if not is_postgres(url):
        raise StudioError("aigc worker needs the studio's PostgreSQL database (--db postgresql://...)")
    if args.concurrency < 1 or args.threads < 1 or not 1.0 <= args.stall <= 3600:
        raise StudioError("--concurrency and --threads must be at least 1, --stall from 1 to 3600 s")
    from feedback_db import FeedbackStore

    FeedbackStore(url).close()  # migrated and reachable, or one line (FeedbackError) and exit 2
    settings = WorkerSettings(args.concurrency, args.threads, heartbeat_s=max(0.5, args.stall / 5), stall_s=args.stall)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: procrastinate stops the worker; no traceback
        asyncio.run(run_worker(url, args.models, settings))
    return 0
