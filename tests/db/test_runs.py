"""Fine-tune runs: one running per parent, finished or failed, stale ones cleaned up."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

import pytest

from feedback_db import Conflict, InvalidInput, NotFound
from tests.db.helpers import child_of


def test_run_lifecycle(store, version):
    run_id = store.start_run(version.id, {"lr": 1e-4, "steps": 300}, n_ratings=42)
    run = store.get_run(run_id)
    assert (run.status, run.n_ratings, run.config["steps"]) == ("running", 42, 300)
    assert (run.pid, run.host) == (os.getpid(), socket.gethostname())
    with pytest.raises(Conflict, match="still running"):
        store.start_run(version.id, {}, 1)

    child = child_of(store, version, "gan-ft1")
    done = store.finish_run(run_id, child.id, {"liked_rate": 0.6})
    assert (done.status, done.child_version_id, done.metrics) == ("succeeded", child.id, {"liked_rate": 0.6})
    assert done.finished_at >= done.started_at
    with pytest.raises(Conflict, match="succeeded"):
        store.fail_run(run_id, "late")

    second = store.start_run(version.id, None, 0)  # allowed again once finished
    failed = store.fail_run(second, "out of memory")
    assert (failed.status, failed.error) == ("failed", "out of memory")
    with pytest.raises(Conflict, match="failed"):
        store.finish_run(second, child.id, {})
    assert [r.id for r in store.list_runs(version.id)] == [run_id, second]
    assert [r.id for r in store.list_runs(child.id)] == [run_id]
    assert [r.id for r in store.list_runs()] == [run_id, second]


def test_finish_needs_a_child_of_the_runs_parent(store, version):
    run_id = store.start_run(version.id, {}, 1)
    stranger = store.register_version("gan-2", "gan", "/g", "b" * 64)
    with pytest.raises(Conflict, match="descends"):
        store.finish_run(run_id, stranger.id, {})
    with pytest.raises(NotFound):
        store.finish_run(run_id, 9999, {})
    with pytest.raises(NotFound):
        store.get_run(9999)
    assert store.get_run(run_id).status == "running"


def test_racing_starts_let_exactly_one_win(store, version):
    results, errors = [], []
    barrier = threading.Barrier(6)

    def start() -> None:
        barrier.wait()
        try:
            results.append(store.start_run(version.id, {}, 1))
        except Conflict as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 5
    assert [r.status for r in store.list_runs()] == ["running"]


def test_fail_stale_runs_by_pid_and_by_age(store, version):
    other = store.register_version("gan-2", "gan", "/g", "b" * 64)
    dead = store.start_run(version.id, {}, 1)
    alive = store.start_run(other.id, {}, 1)

    # Both runs carry this pid; tell them apart by their start time.
    dead_started = store.get_run(dead).started_at
    assert store.fail_stale_runs(is_alive=lambda pid, started: started != dead_started) == [dead]
    assert store.get_run(dead).status == "failed" and "gone" in store.get_run(dead).error
    assert store.get_run(alive).status == "running"

    # Runs of other hosts are judged only by age.
    assert store.fail_stale_runs(host="elsewhere", is_alive=lambda *a: False) == []
    assert store.fail_stale_runs(timedelta(hours=1), host="elsewhere") == []
    assert store.fail_stale_runs(timedelta(seconds=-1), host="elsewhere") == [alive]
    assert "presumed abandoned" in store.get_run(alive).error


def test_fail_stale_runs_keeps_this_processes_live_run(store, version):
    run_id = store.start_run(version.id, {}, 1)
    assert store.fail_stale_runs() == []  # the real check: our pid, started before the run
    assert store.get_run(run_id).status == "running"


def test_a_workers_progress_reports_reach_the_run_row_until_it_finishes(store, version):
    run_id = store.start_run(version.id, {"job_id": 7}, n_ratings=30)
    assert (store.get_run(run_id).stage, store.get_run(run_id).progress) == (None, None)
    store.report_run_progress(run_id, "training", 0.42)
    assert (store.get_run(run_id).stage, store.get_run(run_id).progress) == ("training", 0.42)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(InvalidInput, match="progress must be from 0 to 1"):
            store.report_run_progress(run_id, "training", bad)
    with pytest.raises(NotFound):
        store.report_run_progress(run_id + 99, "training", 0.5)
    store.fail_run(run_id, "stopped")
    store.report_run_progress(run_id, "evaluating", 0.9)  # late: a finished run is never rewritten
    assert (store.get_run(run_id).stage, store.get_run(run_id).progress) == ("training", 0.42)
