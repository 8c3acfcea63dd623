"""Fine-tuning runs: started, finished or failed, and never left dangling.

A run records the pid and host of the process that runs it. When a process dies
mid-run the row would stay 'running' forever and block the next run of that
parent; `fail_stale` (called when a process starts) finds such rows by asking
whether their pid is still alive on this host. Pids get reused (in a container
the server is often pid 1 every time), so a live pid whose process started after
the run did is a different process, and the run is stale all the same.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import Conflict, NotFound
from .records import RunInfo
from .schema import FinetuneRun, utcnow
from .versions import require


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM  # exists, owned by someone else
    return True


def process_start_time(pid: int) -> datetime | None:
    """When the process started (Linux /proc); None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as fh:
            btime = next(int(line.split()[1]) for line in fh if line.startswith(b"btime"))
        ticks = int(fields[19])  # field 22 of stat; fields here start at field 3
        return datetime.fromtimestamp(btime + ticks / os.sysconf("SC_CLK_TCK"), timezone.utc)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def runs_since(pid: int, started_at: datetime | None) -> bool:
    """True if the process `pid` is alive and is the one that started at or
    before `started_at` (not a later process that got the same pid)."""
    if not pid_alive(pid):
        return False
    began = process_start_time(pid)
    if began is None or started_at is None:
        return True
    return began <= started_at + timedelta(seconds=2)  # /proc times are coarse


def to_info(row: FinetuneRun) -> RunInfo:
    return RunInfo(
        id=row.id,
        parent_version_id=row.parent_version_id,
        child_version_id=row.child_version_id,
        status=row.status,
        n_ratings=row.n_ratings,
        config=dict(row.config or {}),
        metrics=dict(row.metrics or {}),
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        pid=row.pid,
        host=row.host,
        stage=row.stage,
        progress=row.progress,
    )


def _running_for(session: Session, parent_id: int) -> FinetuneRun | None:
    return session.scalars(
        select(FinetuneRun).where(FinetuneRun.parent_version_id == parent_id, FinetuneRun.status == "running")
    ).first()


def start(session: Session, parent_id: int, config: dict[str, Any], n_ratings: int) -> int:
    """Insert a running run; Conflict if the parent already has one.

    The check gives the friendly message; the partial unique index is what makes
    it hold when two processes start at the same instant (the store maps that
    IntegrityError to the same Conflict).
    """
    require(session, parent_id)
    running = _running_for(session, parent_id)
    if running is not None:
        raise Conflict(
            f"fine-tune run {running.id} of version {parent_id} is still running "
            f"(pid {running.pid} on {running.host}); wait for it or fail it first"
        )
    row = FinetuneRun(
        parent_version_id=parent_id,
        status="running",
        n_ratings=n_ratings,
        config=config,
        metrics={},
        started_at=utcnow(),
        pid=os.getpid(),
        host=this_host(),
    )
    session.add(row)
    session.flush()
    return row.id


def _require_running(session: Session, run_id: int) -> FinetuneRun:
    row = session.get(FinetuneRun, run_id, with_for_update=True)
    if row is None:
        raise NotFound(f"fine-tune run {run_id} does not exist")
    if row.status != "running":
        raise Conflict(f"fine-tune run {run_id} is {row.status}, not running")
    return row


def finish(session: Session, run_id: int, child_id: int, metrics: dict[str, Any]) -> RunInfo:
    row = _require_running(session, run_id)
    child = require(session, child_id)
    if child.parent_id != row.parent_version_id:
        raise Conflict(
            f"version {child_id} descends from {child.parent_id}, not from the run's parent {row.parent_version_id}"
        )
    row.status, row.child_version_id, row.metrics = "succeeded", child_id, metrics
    row.finished_at = utcnow()
    session.flush()
    return to_info(row)


def fail(session: Session, run_id: int, error: str) -> RunInfo:
    row = _require_running(session, run_id)
    row.status, row.error, row.finished_at = "failed", error, utcnow()
    session.flush()
    return to_info(row)


def fail_stale(
    session: Session,
    *,
    host: str,
    is_alive: Callable[[int, datetime | None], bool],
    older_than: timedelta | None,
    now: datetime,
) -> list[int]:
    """Fail running runs whose process is gone: on this host, when its pid is
    dead or now belongs to a younger process; on any host, when `older_than`
    is given and the run started before that."""
    failed = []
    for row in session.scalars(select(FinetuneRun).where(FinetuneRun.status == "running")):
        reason = None
        if row.host == host and (row.pid is None or not is_alive(row.pid, row.started_at)):
            reason = f"process {row.pid} on {row.host} is gone; the run was abandoned"
        elif older_than is not None and row.started_at is not None and row.started_at < now - older_than:
            reason = f"still running after {older_than}; presumed abandoned"
        if reason is not None:
            row.status, row.error, row.finished_at = "failed", reason, now
            failed.append(row.id)
    session.flush()
    return failed


def report_progress(session: Session, run_id: int, stage: str, progress: float) -> None:
    row = session.get(FinetuneRun, run_id)
    if row is None:
        raise NotFound(f"fine-tune run {run_id} does not exist")
    if row.status == "running":  # a late report never rewrites a finished run
        row.stage, row.progress = stage, progress
        session.flush()


def get(session: Session, run_id: int) -> RunInfo:
    row = session.get(FinetuneRun, run_id)
    if row is None:
        raise NotFound(f"fine-tune run {run_id} does not exist")
    return to_info(row)


def list_for(session: Session, version_id: int | None) -> list[RunInfo]:
    """All runs, or those whose parent or child is `version_id`; oldest first."""
    stmt = select(FinetuneRun).order_by(FinetuneRun.id)
    if version_id is not None:
        stmt = stmt.where((FinetuneRun.parent_version_id == version_id) | (FinetuneRun.child_version_id == version_id))
    return [to_info(r) for r in session.scalars(stmt)]
