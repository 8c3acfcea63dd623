"""The fine-tuning line on PostgreSQL, for workers on other machines: procrastinate jobs run by `aigc worker`.

When a deployment shares one PostgreSQL and has machines to spare (a GPU box), the line lives in
the database, as procrastinate jobs (its `procrastinate_*` tables, created here on first use), and
`aigc worker --db URL` processes anywhere take them: first in, first out, at most `--concurrency`
each. The server only queues (`PgFinetuneQueue`, the same interface as aigc.service.queue's
in-process line: submit, status with position and wait, cancel, line); it trains nothing itself.

A worker supervises each run as a child process (`aigc finetune --job-id J`), which dies with it
(PR_SET_PDEATHSIG). When the run's process exits badly, the worker fails the run's row at once.
When the worker itself is killed, its heartbeat stops: every live worker reaps jobs whose
worker's heartbeat is older than `stall_s` (a lease), failing the job and its run row, and takes
the next job in line. A cancel is procrastinate's abort: the worker sees it within a second and
stops the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

from procrastinate import App, Blueprint, JobContext, PsycopgConnector
from procrastinate.jobs import Status
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aigc import paths
from aigc.service.jobs import failure_line
from aigc.service.queue import (
    QueueSettings,
    RunStatus,
    cancelled_by,
    in_line,
    latest_run,
    nothing_to_cancel,
    refuse_to_join,
)
from feedback_db import FeedbackStore

log = logging.getLogger("aigc.worker")

QUEUE = "aigc-finetune"
TASK = "aigc.finetune"
ABORT_CHECK_S = 1.0
SCHEMA_LOCK = 726_351  # pg_advisory_xact_lock key: two processes never create the tables at once

tasks = Blueprint()


def is_postgres(db_url: str) -> bool:
    return make_url(str(db_url)).get_backend_name() == "postgresql"


def conninfo(db_url: str) -> str:
    """A libpq URL from the studio's SQLAlchemy URL (postgresql+psycopg://… → postgresql://…)."""
    return make_url(str(db_url)).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(db_url: str) -> App:
    app = App(connector=PsycopgConnector(conninfo=conninfo(db_url)))
    app.add_tasks_from(tasks, namespace="studio")
    return app


def ensure_schema(db_url: str) -> None:
    """Create procrastinate's tables once (under an advisory lock: servers and workers start together)."""
    engine = create_engine(str(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"))
            if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
                conn.exec_driver_sql(App(connector=PsycopgConnector()).schema_manager.get_schema().replace("%", "%%"))
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the worker's side


def _status(job: Any) -> str:
    return str(getattr(job.status, "value", job.status))


def _die_with_parent() -> None:  # runs in the child before exec: a killed worker takes its run with it
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@tasks.task(name=TASK, queue=QUEUE, pass_context=True)
def finetune_job(
    context: JobContext,
    model: str,
    steps: int | None = None,
    rater: str | None = None,
    owner: str | None = None,
    extra_args: list[str] | None = None,
) -> dict:
    """One run, supervised: `aigc finetune` as a child; abort → stop it; a bad exit fails its row at once."""
    ctx = context.additional_context
    job_id = context.job.id
    cmd = [sys.executable, "-m", "aigc.cli", "finetune", model, "--db", ctx["db_url"], "--job-id", str(job_id)]
    cmd += ["--threads", str(ctx.get("threads", 1)), "--json-progress"]
    if ctx.get("models_dir"):
        cmd += ["--models", str(ctx["models_dir"])]
    if steps:
        cmd += ["--steps", str(int(steps))]
    if rater:
        cmd += ["--rater", rater]
    cmd += list(extra_args or [])
    env = {**paths.child_env(), "OMP_NUM_THREADS": str(ctx.get("threads", 1))}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, preexec_fn=_die_with_parent
        )
        reporter = threading.Thread(target=_report_progress, args=(proc, ctx["db_url"]), daemon=True)
        reporter.start()
        aborted = False
        while True:
            try:
                code = proc.wait(timeout=ABORT_CHECK_S)
                break
            except subprocess.TimeoutExpired:
                if not aborted and context.should_abort():
                    aborted = True
                    proc.terminate()
        reporter.join(timeout=10)
        err.seek(0)
        stderr = err.read()
    if code != 0:
        with FeedbackStore(ctx["db_url"]) as store:
            store.fail_stale_runs()  # this host's runs whose process is gone: the one that just exited
        if aborted:
            from procrastinate.exceptions import JobAborted

            raise JobAborted("cancelled")
        raise RuntimeError(failure_line(stderr, code))
    return {"model": model}


def _report_progress(proc: subprocess.Popen, db_url: str) -> None:
    """Read the run's JSON-lines progress (always: a full pipe would stall it) and keep its run row up to date."""
    run_id, last = None, ("", -1.0)
    with FeedbackStore(db_url) as store:
        for line in proc.stdout or ():
            try:
                event = json.loads(line)
                run_id = int(event["run_id"]) if "run_id" in event else run_id
                stage, progress = str(event["stage"])[:32], float(event["progress"])
            except (ValueError, KeyError, TypeError):
                continue
            if run_id is not None and (stage != last[0] or progress - last[1] >= 0.01):
                with contextlib.suppress(Exception):  # a missed report only makes the bar lag
                    store.report_run_progress(run_id, stage, min(1.0, max(0.0, progress)))
                last = (stage, progress)


async def reap_stalled(app: App, db_url: str, stall_s: float) -> list[int]:
    """Fail the jobs of workers whose heartbeat stopped (killed, cut off) and their run rows; returns job ids."""
    stalled = list(await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stall_s))
    if stalled:  # the run rows first: whoever sees the job failed then finds its run failed too
        await asyncio.to_thread(_fail_runs_of_jobs, db_url, {job.id for job in stalled})
    for job in stalled:
        await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
    return [job.id for job in stalled if job.id is not None]


def _fail_runs_of_jobs(db_url: str, job_ids: set[int | None]) -> None:
    with FeedbackStore(db_url) as store:
        for run in store.list_runs():
            if run.status == "running" and (run.config or {}).get("job_id") in job_ids:
                store.fail_run(run.id, "its worker stopped (no heartbeat); the run was abandoned")


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 1  # runs this worker trains at once
    threads: int = 1  # torch threads per run
    heartbeat_s: float = 2.0  # how often this worker says it is alive
    stall_s: float = 10.0  # a worker silent this long is dead: its runs are failed, its slot freed


async def run_worker(db_url: str, models_dir: str | None, settings: WorkerSettings, wait: bool = True) -> None:
    """`aigc worker`: take runs from the line until stopped (SIGINT/SIGTERM); reap dead workers' runs meanwhile."""
    ensure_schema(db_url)
    app = make_app(db_url)
    async with app.open_async():

        async def reaper() -> None:
            while True:
                try:
                    reaped = await reap_stalled(app, db_url, settings.stall_s)
                    if reaped:
                        log.warning("failed the runs of jobs %s: their worker stopped sending heartbeats", reaped)
                except Exception:  # a database hiccup must not stop the worker (logged)
                    log.exception("reaping stalled jobs failed; trying again")
                await asyncio.sleep(settings.heartbeat_s)

        reaping = asyncio.create_task(reaper())
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=settings.concurrency,
                wait=wait,
                name=f"aigc-worker-{os.uname().nodename}-{os.getpid()}",
                update_heartbeat_interval=settings.heartbeat_s,
                stalled_worker_timeout=settings.stall_s,
                additional_context={"db_url": str(db_url), "models_dir": models_dir, "threads": settings.threads},
                listen_notify=True,
                shutdown_graceful_timeout=5.0,  # then a run still going is aborted (its process stopped)
            )
        finally:
            reaping.cancel()


# ---------------------------------------------------------------- the server's side


@dataclass
class PgFinetuneQueue:
    """The line as the server sees it: queue runs, read where they are, cancel them. Trains nothing."""

    db_url: str
    store: FeedbackStore | None = None
    settings: QueueSettings = field(default_factory=QueueSettings)

    def __post_init__(self) -> None:
        ensure_schema(self.db_url)
        self.app = make_app(self.db_url).open()
        self.task = self.app.tasks[f"studio:{TASK}"]

    def close(self) -> None:
        self.app.close()

    def _jobs(self) -> list[Any]:
        return sorted(self.app.job_manager.list_jobs(queue=QUEUE), key=lambda j: j.id)

    def submit(
        self,
        model: str,
        steps: int | None = None,
        rater: str | None = None,
        owner: str | None = None,
        extra_args: list[str] | None = None,
    ) -> RunStatus:
        jobs = self._jobs()
        mine = next(
            (j for j in jobs if j.task_kwargs.get("model") == model and j.task_kwargs.get("owner") == owner
             and _status(j) in ("todo", "doing")),
            None,
        )  # fmt: skip
        where = None if mine is None else "running" if _status(mine) == "doing" else "queued"
        refuse_to_join(model, where, sum(_status(j) == "todo" for j in jobs), self.settings)
        job_id = self.task.configure(lock=f"finetune:{model}").defer(
            model=model, steps=steps, rater=rater, owner=owner, extra_args=list(extra_args or [])
        )
        return self._status(next(j for j in self._jobs() if j.id == job_id))

    def status(self, model: str, viewer: str | None = None) -> RunStatus:
        runs = [j for j in self._jobs() if j.task_kwargs.get("model") == model]
        latest = latest_run(runs, lambda j: j.task_kwargs.get("owner"), viewer)
        return self._status(latest) if latest else RunStatus(model)

    def line(self) -> list[RunStatus]:
        active = [j for j in self._jobs() if _status(j) in ("todo", "doing")]
        return [self._status(j) for j in sorted(active, key=lambda j: (_status(j) != "doing", j.id))]

    def cancel(self, model: str, by: str | None, admin: bool = False) -> RunStatus:
        active = [j for j in self._jobs() if j.task_kwargs.get("model") == model and _status(j) in ("todo", "doing")]
        job = next((j for j in active if j.task_kwargs.get("owner") == by), None)
        if job is None and admin and active:
            job = active[0]
        if job is None:
            raise nothing_to_cancel(model, bool(active))
        self.app.job_manager.cancel_job_by_id(job.id, abort=True)
        out = self._status(next(j for j in self._jobs() if j.id == job.id))
        out.message = cancelled_by(by, job.task_kwargs.get("owner"))
        return out

    def _status(self, job: Any) -> RunStatus:
        kw = job.task_kwargs
        raw = _status(job)
        state = {"todo": "queued", "doing": "running", "succeeded": "succeeded", "aborting": "running"}.get(
            raw, "cancelled" if raw in ("cancelled", "aborted") else "failed"
        )
        out = RunStatus(kw.get("model", ""), state, job_id=job.id, owner=kw.get("owner"))
        run = self._run_of(job.id) if state != "queued" else None
        if run is not None:
            out.stage = run.stage or {"running": "training", "succeeded": "done"}.get(run.status, run.status)
            out.started = run.started_at.timestamp() if run.started_at else 0.0
            out.finished = run.finished_at.timestamp() if run.finished_at else 0.0
            if run.child_version_id and self.store is not None:
                child = self.store.get_version(run.child_version_id)
                out.child, out.metrics = (child.name if child else None), dict(run.metrics or {})
            out.progress = 1.0 if run.status == "succeeded" else float(run.progress or 0.0)
            out.message = run.error or (
                f"{out.stage} on a worker…" if run.status == "running" else f"new version {out.child}"
            )
        elif state == "running":
            out.stage, out.message = "starting", "starting on a worker…"
        elif state == "queued":
            jobs = self._jobs()
            ahead = [j for j in jobs if _status(j) == "todo" and j.id < job.id]
            running = sum(_status(j) == "doing" for j in jobs)
            out.position = len(ahead) + 1
            slots = max(1, self.settings.concurrency)
            out.wait_s = self.settings.typical_run_s * (len(ahead) // slots + (1 if running >= slots else 0))
            out.stage, out.message = "queued", in_line(out.position, out.wait_s)
        elif state == "failed":
            out.message = "the run failed on its worker"
        if state == "cancelled":  # the row's error is how its process ended ("process … is gone"): not the news
            out.message = cancelled_by(None, None)  # who cancelled is not kept in the job: the words without a who
        return out

    def _run_of(self, job_id: int) -> Any:
        if self.store is None:
            return None
        return next((r for r in self.store.list_runs() if (r.config or {}).get("job_id") == job_id), None)
