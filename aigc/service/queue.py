"""Fine-tuning runs wait in line: a concurrency limit, a position and a wait estimate, cancellation.

A fine-tune takes minutes of every core it is given. When a studio is shared, asking for one must
not start it at once (nor be refused because another is running): it joins a first-in-first-out
line, and at most `concurrency` run at a time. The page shows where a run is ("2nd in line,
starts in about 3 min"); its owner or an admin can cancel it, queued or running.

This is the in-process line that every studio has (the embedded SQLite default needs no other
service): runs are started by the studio's `FinetuneJobs` (one `aigc finetune` process each) the
moment a slot frees up (no polling: a finished run dispatches the next). The process is
supervised: when it exits for any reason (a crash, SIGKILL, a cancel), the run's database row is
failed at once (`fail_stale_runs` checks its pid), not at the next start. A shared deployment on
PostgreSQL can hand runs to `aigc worker` processes on other machines instead
(aigc.service.pgqueue, procrastinate).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aigc.service.errors import StudioError, announce
from aigc.service.jobs import JobStatus
from feedback_db import FeedbackStore

KEEP_FINISHED = 200  # finished runs remembered for /finetune_status


@dataclass(frozen=True)
class QueueSettings:
    """How many runs train at once, how long the line may grow, and the first guess of a run's length."""

    concurrency: int = 1  # runs training at the same time (each has its own process and thread budget)
    max_queued: int = 20  # waiting runs, all people together
    typical_run_s: float = 180.0  # until runs have finished here, the wait estimate uses this


@dataclass
class RunStatus(JobStatus):
    """A JobStatus with the line's view: which job, whose, where in line, and the wait."""

    job_id: int = 0
    owner: str | None = None
    position: int = 0  # 1 = next to start; 0 = not waiting
    wait_s: float | None = None  # estimated seconds until it starts

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


@dataclass
class _Job:
    id: int
    model: str
    steps: int | None
    rater: str | None
    owner: str | None
    extra_args: list[str]
    submitted: float
    state: str = "queued"  # queued | running | succeeded | failed | cancelled
    started: float = 0.0
    finished: float = 0.0
    message: str = ""
    status: JobStatus | None = None  # the process's live status while it runs, and its last one


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def about(seconds: float) -> str:
    return "under a minute" if seconds < 60 else f"about {math.ceil(seconds / 60)} min"


# What both lines say and decide alike (this one, and aigc.service.pgqueue's on PostgreSQL): one wording,
# one rule, whichever line a deployment runs.


def in_line(position: int, wait_s: float) -> str:
    """A waiting run's message: "2nd in line, starts in about 3 min"."""
    return f"{ordinal(position)} in line, starts in {about(wait_s)}"


def refuse_to_join(model: str, where: str | None, waiting: int, settings: QueueSettings) -> None:
    """Why `submit` turns a run away: the asker's run of `model` is already `where` ('running', 'queued …';
    None: they have none), or `waiting` runs already fill the line."""
    if where is not None:
        raise already(model, where)
    if waiting >= settings.max_queued:
        raise StudioError(f"the fine-tuning line is full ({settings.max_queued} waiting); try later")


def already(model: str, where: str) -> StudioError:
    """The person has a run of `model` that is `where` ("running", "queued (1st in line)")."""
    return StudioError(f"a fine-tuning run of {model} is already {where}; cancel it or wait for it")


def waiting_where(status: Any) -> str:
    """Where a waiting or running run is, in `already`'s words."""
    return "running" if status.state == "running" else f"queued ({ordinal(status.position)} in line)"


def latest_run(runs: list[Any], owner_of: Callable[[Any], str | None], viewer: str | None) -> Any:
    """What `status` shows: the viewer's latest run if they have one, else the latest of anyone's (None: none)."""
    own = [j for j in runs if viewer is not None and owner_of(j) == viewer]
    return max(own or runs, key=lambda j: j.id, default=None)


def nothing_to_cancel(model: str, someone_elses: bool = False) -> StudioError:
    if someone_elses:
        return StudioError(f"the fine-tuning run of {model} is someone else's: only they (or an admin) can cancel it")
    return StudioError(f"no waiting or running fine-tuning run of {model} to cancel")


def cancelled_by(by: str | None, owner: str | None) -> str:
    """The status line of a cancelled run, which every visitor may read: who, by role, never by id (an
    anonymous rater id is the cookie that makes a browser that person)."""
    if by is None:
        return "cancelled"
    return "cancelled by its owner" if by == owner else "cancelled by an admin"


@dataclass
class FinetuneQueue:
    """The studio's line of fine-tuning runs, started through `jobs` (FinetuneJobs or a stand-in)."""

    jobs: Any  # FinetuneJobs, or a stand-in with start/stop/on_done
    store: FeedbackStore | None = None
    settings: QueueSettings = field(default_factory=QueueSettings)
    _jobs: dict[int, _Job] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _durations: list[float] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        previous = getattr(self.jobs, "on_done", None) or (lambda status: None)

        def finished(status: JobStatus) -> None:
            try:
                self._finished(status)
            finally:
                previous(status)

        self.jobs.on_done = finished

    # ------------------------------------------------------------ asking

    def submit(
        self,
        model: str,
        steps: int | None = None,
        rater: str | None = None,
        owner: str | None = None,
        extra_args: list[str] | None = None,
    ) -> RunStatus:
        """Join the line (and start at once if a slot is free). One waiting or running run per person and model."""
        with self._lock:
            mine = self._active(model, owner)
            where = None if mine is None else waiting_where(self._status(mine))
            refuse_to_join(model, where, sum(j.state == "queued" for j in self._jobs.values()), self.settings)
            job = _Job(next(self._ids), model, steps, rater, owner, list(extra_args or []), time.time())
            self._jobs[job.id] = job
            self._forget_old()
            self._dispatch()
            if job.state == "failed":  # could not even start: the caller hears why, and nothing stays in line
                del self._jobs[job.id]
                raise StudioError(job.message)
            return self._status(job)

    def status(self, model: str, viewer: str | None = None) -> RunStatus:
        """The viewer's latest run of `model` if they have one, else the latest of anyone's (or idle)."""
        with self._lock:
            latest = latest_run([j for j in self._jobs.values() if j.model == model], lambda j: j.owner, viewer)
            return self._status(latest) if latest else RunStatus(model)

    def line(self) -> list[RunStatus]:
        """Every waiting and running run, in the order they will start (running first)."""
        with self._lock:
            active = [j for j in self._jobs.values() if j.state in ("queued", "running")]
            return [self._status(j) for j in sorted(active, key=lambda j: (j.state != "running", j.id))]

    def cancel(self, model: str, by: str | None, admin: bool = False) -> RunStatus:
        """Cancel the caller's waiting or running run of `model` (an admin: anyone's, the oldest first)."""
        with self._lock:
            job = self._active(model, by)
            if job is None and admin:
                job = min((j for j in self._jobs.values() if j.model == model and j.state in ("queued", "running")),
                          key=lambda j: j.id, default=None)  # fmt: skip
            if job is None:
                raise nothing_to_cancel(model, any(j.model == model and j.state in ("queued", "running")
                                                   for j in self._jobs.values()))  # fmt: skip
            job.message = cancelled_by(by, job.owner)
            if job.state == "queued":
                job.state, job.finished = "cancelled", time.time()
                self._dispatch()
            else:
                job.state = "cancelled"  # _finished keeps it so when the process exits
                self.jobs.stop(model)
            return self._status(job)

    # ------------------------------------------------------------ the line moves

    def _dispatch(self) -> None:
        """Start waiting runs, oldest first, while slots are free (a model trains once at a time)."""
        running = {j.model for j in self._jobs.values() if j.state == "running"}
        for job in sorted(self._jobs.values(), key=lambda j: j.id):
            if len(running) >= self.settings.concurrency:
                return
            if job.state != "queued" or job.model in running:
                continue
            try:
                job.status = self.jobs.start(job.model, steps=job.steps, rater=job.rater, extra_args=job.extra_args)
            except (RuntimeError, StudioError) as exc:
                job.state, job.message, job.finished = "failed", str(exc), time.time()
                announce(f"fine-tune {job.id} of {job.model} could not start ({exc})")
                continue
            job.state, job.started = "running", time.time()
            running.add(job.model)
            announce(f"fine-tune {job.id} of {job.model} started ({job.steps or 'default'} steps)")

    def _finished(self, status: JobStatus) -> None:
        """The run's process exited (whatever the cause): fail its database row now if it is left running."""
        if self.store is not None and status.state != "succeeded":
            with contextlib.suppress(Exception):  # the line must keep moving even if the database hiccups
                self.store.fail_stale_runs()  # this host's runs whose process is gone
        with self._lock:
            exited = (j for j in self._jobs.values() if j.model == status.model and j.started and not j.finished)
            job = next((j for j in exited if j.state in ("running", "cancelled")), None)
            if job is not None:
                job.finished, job.status = time.time(), status
                if job.state != "cancelled":
                    job.state, job.message = status.state, status.message
                if status.state == "succeeded":
                    self._durations = (self._durations + [job.finished - job.started])[-20:]
                took = f"after {job.finished - job.started:.0f} s"
                what = {"succeeded": f"succeeded {took}: {status.child}"}.get(job.state, f"{job.state} {took}")
                why = f" ({job.message})" if job.message and job.state != "succeeded" else ""
                announce(f"fine-tune {job.id} of {job.model} {what}{why}")
            self._dispatch()

    def _forget_old(self, keep: int = KEEP_FINISHED) -> None:
        """Bound memory: only the newest `keep` finished runs are remembered (waiting and running ones always)."""
        done = sorted(j.id for j in self._jobs.values() if j.state not in ("queued", "running"))
        for job_id in done[: max(0, len(done) - keep)]:
            del self._jobs[job_id]

    # ------------------------------------------------------------ reading

    def _active(self, model: str, owner: str | None) -> _Job | None:
        mine = (j for j in self._jobs.values() if j.model == model and j.owner == owner)
        return next((j for j in mine if j.state in ("queued", "running")), None)

    def _position(self, job: _Job) -> int:
        return 1 + sum(j.state == "queued" and j.id < job.id for j in self._jobs.values())

    def _typical(self) -> float:
        return sum(self._durations) / len(self._durations) if self._durations else self.settings.typical_run_s

    def _wait(self, job: _Job) -> float:
        """Seconds until `job` starts: fill the free slots in line order, each run taking a typical time."""
        now, typical = time.time(), self._typical()
        slots = [max(0.0, typical - (now - j.started)) for j in self._jobs.values() if j.state == "running"]
        slots += [0.0] * max(0, self.settings.concurrency - len(slots))
        heapq.heapify(slots)
        for _ in range(self._position(job) - 1):  # each run ahead takes the earliest free slot
            heapq.heappush(slots, heapq.heappop(slots) + typical)
        return slots[0] if slots else 0.0

    def _status(self, job: _Job) -> RunStatus:
        live = job.status or JobStatus(job.model)
        out = RunStatus(
            job.model, job.state, live.stage, live.progress, job.message or live.message, live.child,
            dict(live.metrics), job.started, job.finished, live.step, live.steps, live.eta_s, live.updated,
            list(live.stages), live.training_since, job_id=job.id, owner=job.owner,
        )  # fmt: skip
        if job.state == "running":
            out.message = live.message
        elif job.state == "queued":
            out.position, out.wait_s = self._position(job), self._wait(job)
            out.stage, out.progress = "queued", 0.0
            out.message = in_line(out.position, out.wait_s)
        return out
