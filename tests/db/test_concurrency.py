"""Many writers at once: no rating lost, none duplicated, no error surfaced.

16 threads × 200 ratings on one store (SQLite and PostgreSQL), 4 processes on
one SQLite file, racing upserts of one (sample, rater), and a database held
locked past the retry budget (a clear DatabaseBusy, nothing half-written).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from feedback_db import DatabaseBusy, FeedbackStore
from tests.db.helpers import count_rows, latents

THREADS, PER_THREAD = 16, 200


def _run_threads(target, n: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapped(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - the test counts them
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


@pytest.mark.heavy
def test_16_threads_x_200_ratings(store, version):
    ids = store.record_samples(version.id, latents(PER_THREAD), seed=0)

    def rater(t: int) -> None:
        for i, sid in enumerate(ids):
            store.rate(sid, (i % 5 - 2) / 2, f"thread-{t}")

    assert _run_threads(rater, THREADS) == []
    assert count_rows(store) == (PER_THREAD, THREADS * PER_THREAD)
    rated = store.ratings_for_lineage(version.id)
    assert len({(r.sample_id, r.rater_id) for r in rated}) == THREADS * PER_THREAD


def test_racing_upserts_of_one_pair_leave_one_row(store, version):
    sid = store.record_samples(version.id, latents(1), seed=0)[0]
    scores = [-1.0, -0.5, 0.5, 1.0]

    def rater(t: int) -> None:
        for _ in range(20):
            store.rate(sid, scores[t % 4], "same-person")

    assert _run_threads(rater, 8) == []
    (only,) = store.ratings_for_lineage(version.id)
    assert only.score in scores and count_rows(store) == (1, 1)


def test_tiny_busy_timeout_still_loses_nothing(tmp_path):
    """Four stores (as four processes would) on one file with SQLite's own wait
    nearly off: the store's retry loop carries the contention."""
    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    stores = [FeedbackStore(url, busy_timeout_s=0.001, durable=False) for _ in range(4)]
    try:
        v = stores[0].register_version("g", "gan", "/g", "a" * 64)
        ids = stores[0].record_samples(v.id, latents(50), seed=0)

        def rater(t: int) -> None:
            for sid in ids:
                stores[t % 4].rate(sid, 1, f"t{t}")

        assert _run_threads(rater, 8) == []
        assert count_rows(stores[0]) == (50, 400)
    finally:
        for s in stores:
            s.close()


@pytest.mark.integration
def test_4_processes_on_one_sqlite_file(tmp_path):
    """4 processes × 4 threads × 200 ratings = 3,200 on one file. Fresh file:
    the processes also race the migration and the registration."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    go = tmp_path / "go"
    worker = Path(__file__).with_name("rate_worker.py")
    procs = [
        subprocess.Popen(
            [sys.executable, str(worker), url, str(i), str(PER_THREAD), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["errors"] for r in results] == [[]] * 4
    assert sum(r["rated"] for r in results) == THREADS * PER_THREAD
    with FeedbackStore(url) as store:
        assert [v.name for v in store.list_versions()] == ["shared"]
        assert count_rows(store) == (4 * PER_THREAD, THREADS * PER_THREAD)


def test_locked_database_gives_database_busy_and_writes_nothing(tmp_path):
    path = tmp_path / "locked.sqlite3"
    with FeedbackStore(f"sqlite:///{path}", busy_timeout_s=0.05, retry_budget_s=0.3) as store:
        v = store.register_version("g", "gan", "/g", "a" * 64)
        sid = store.record_samples(v.id, latents(1), seed=0)[0]
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(DatabaseBusy, match="locked"):
                store.rate(sid, 1, "alice")
            with pytest.raises(DatabaseBusy):
                store.record_samples(v.id, latents(3), seed=1)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert count_rows(store) == (1, 0)
        assert store.rate(sid, 1, "alice").score == 1.0
        assert count_rows(store) == (1, 1)
