"""The line on PostgreSQL (procrastinate): the server queues, `aigc worker` processes train; a killed worker's
run is failed through its stopped heartbeat and another worker takes the next job; owners cancel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from aigc.service.errors import StudioError
from aigc.service.queue import QueueSettings

pytestmark = [pytest.mark.postgres, pytest.mark.integration]  # real `aigc worker` processes


@pytest.fixture
def pg_studio(models_dir, home):
    from aigc.service.studio import Studio
    from feedback_db.testing import require_server_url, temporary_postgres_database

    with temporary_postgres_database(require_server_url("the PostgreSQL queue tests")) as url:
        studio = Studio.open(url, models_dir=models_dir)
        try:
            yield studio, url
        finally:
            studio.close()


def _worker(url: str, models_dir: str, home) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "aigc.cli", "worker", "--db", url, "--models", models_dir, "--stall", "3"]
    env = {**os.environ, "AIGC_HOME": str(home)}
    log = open(home.parent / f"worker-{time.monotonic_ns()}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for(check, seconds: float = 120.0, what: str = "") -> None:
    deadline = time.time() + seconds
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_workers_take_the_line_a_killed_one_is_reaped_and_owners_cancel(pg_studio, models_dir, home):
    from aigc.service.pgqueue import PgFinetuneQueue

    studio, url = pg_studio
    for model, rater in (("syn-vae", "ann"), ("syn-gan", "bob")):
        batch = studio.sample(model, 24, 5, rater=rater)
        for i, sample_id in enumerate(batch.sample_ids):
            studio.rate(sample_id, 1.0 if i % 2 else -1.0, rater)
    line = PgFinetuneQueue(url, studio.store, QueueSettings(concurrency=1, typical_run_s=180))
    studio.queue = line
    first = studio.start_finetune("syn-vae", steps=10000, requester="ann")
    second = studio.start_finetune("syn-gan", steps=10000, requester="bob")
    assert (first.state, first.position, second.position) == ("queued", 1, 2)  # no worker yet
    assert first.message == "1st in line, starts in under a minute"  # as soon as a worker is there
    assert second.message == "2nd in line, starts in about 3 min"  # after the first's typical run
    with pytest.raises(StudioError, match="already queued"):
        studio.start_finetune("syn-vae", steps=10000, requester="ann")

    workers = [_worker(url, models_dir, home)]
    try:
        # the stage turns "training" when the worker claims the job, a moment before the run's first report
        # lands in the run row: wait for that report, not for the stage (CI once read progress 0.0 in between)
        _wait_for(
            lambda: (s := studio.finetune_status("syn-vae", "ann")).stage == "training" and s.progress >= 0.1,
            what="a worker to train and report",
        )
        training = studio.finetune_status("syn-vae", "ann")  # the worker's reports, read from the run row
        assert training.progress >= 0.1 and training.message == "training on a worker…"
        assert studio.finetune_status("syn-gan", "bob").position == 1
        (run,) = studio.store.list_runs()
        assert run.config["job_id"] == first.job_id
        workers[0].send_signal(signal.SIGKILL)  # the worker dies; its run process dies with it
        workers[0].wait()
        _wait_for(lambda: not _alive(run.pid), seconds=10, what="the run's process to die with its worker")
        workers.append(_worker(url, models_dir, home))
        _wait_for(lambda: studio.finetune_status("syn-vae", "ann").state == "failed", what="the dead worker's job")
        assert studio.store.get_run(run.id).status == "failed"
        _wait_for(lambda: studio.finetune_status("syn-gan", "bob").state == "running", what="the next job")
        _wait_for(lambda: len(studio.store.list_runs()) == 2, what="syn-gan's run row")
        assert studio.cancel_finetune("syn-gan", "bob").message == "cancelled by its owner"
        _wait_for(lambda: studio.finetune_status("syn-gan", "bob").state == "cancelled", what="the abort")
        assert studio.finetune_status("syn-gan", "bob").message == "cancelled"  # before: "process … is gone; …"
        assert {r.status for r in studio.store.list_runs()} == {"failed"}
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
        line.close()
        for log in sorted(home.parent.glob("worker-*.log")):  # shown by pytest when the test fails
            print(f"== {log.name}\n{log.read_text()[-3000:]}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie (reaped by nobody yet) is dead too
        return f.read().split(")")[-1].split()[0] != "Z"
