"""The fine-tuning line: concurrency, positions and waits, one run per person and model, cancellation,
and a run whose process is killed failing at once while the next one starts."""

from __future__ import annotations

import os
import signal
import time

import pytest

from aigc.service.errors import StudioError
from aigc.service.jobs import JobStatus
from aigc.service.queue import FinetuneQueue, QueueSettings, about, ordinal


class Runner:
    """Stands in for FinetuneJobs: records starts and stops; the test ends runs with `finish`."""

    def __init__(self, fail_start: str | None = None):
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.fail_start = fail_start
        self.on_done = None

    def start(self, model, steps=None, rater=None, extra_args=None):
        if self.fail_start:
            raise RuntimeError(self.fail_start)
        self.started.append(model)
        return JobStatus(model, "running", "training", 0.5, "training… loss 0.1")

    def stop(self, model):
        self.stopped.append(model)

    def finish(self, model, state="succeeded"):
        self.on_done(JobStatus(model, state, child=f"{model}-ft1" if state == "succeeded" else None))


def test_words():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
    ]  # fmt: skip
    assert (about(10), about(60), about(179), about(181)) == (
        "under a minute",
        "about 1 min",
        "about 3 min",
        "about 4 min",
    )


def test_one_slot_runs_in_order_with_positions_and_waits():
    runner = Runner()
    line = FinetuneQueue(runner, settings=QueueSettings(concurrency=1, typical_run_s=180))
    assert line.submit("m1", owner="ann").state == "running"
    second = line.submit("m2", owner="bob")
    third = line.submit("m3", owner="cid")
    assert (second.state, second.position, third.position) == ("queued", 1, 2)
    assert second.message == "1st in line, starts in about 3 min"
    assert third.message == "2nd in line, starts in about 6 min"
    assert second.active and line.status("m1").message == "training… loss 0.1"
    assert [s.model for s in line.line()] == ["m1", "m2", "m3"]
    runner.finish("m1")
    assert runner.started == ["m1", "m2"] and line.status("m1").child == "m1-ft1"
    assert line.status("m3").message.startswith("1st in line")
    runner.finish("m2", "failed")
    assert line.status("m2").state == "failed" and runner.started[-1] == "m3"


def test_two_slots_but_one_model_trains_once_at_a_time():
    runner = Runner()
    line = FinetuneQueue(runner, settings=QueueSettings(concurrency=2))
    line.submit("m1", owner="ann")
    waiting = line.submit("m1", owner="bob")  # same model: waits although a slot is free
    line.submit("m2", owner="cid")
    assert runner.started == ["m1", "m2"] and waiting.state == "queued"
    runner.finish("m1")
    assert runner.started == ["m1", "m2", "m1"] and line.status("m1", viewer="bob").state == "running"


def test_one_waiting_or_running_run_per_person_and_model_and_a_bounded_line():
    runner = Runner()
    line = FinetuneQueue(runner, settings=QueueSettings(concurrency=1, max_queued=2))
    line.submit("m1", owner="ann")
    with pytest.raises(StudioError, match="already running"):
        line.submit("m1", owner="ann")
    line.submit("m2", owner="ann")
    with pytest.raises(StudioError, match=r"already queued \(1st in line\)"):
        line.submit("m2", owner="ann")
    line.submit("m3", owner="bob")
    with pytest.raises(StudioError, match="line is full"):
        line.submit("m4", owner="cid")


def test_owner_or_admin_cancels_queued_and_running_runs():
    runner = Runner()
    line = FinetuneQueue(runner, settings=QueueSettings(concurrency=1))
    line.submit("m1", owner="ann")
    line.submit("m2", owner="bob")
    line.submit("m3", owner="cid")
    with pytest.raises(StudioError, match="m2 is someone else's"):
        line.cancel("m2", by="cid")  # not cid's
    with pytest.raises(StudioError, match="no waiting or running"):
        line.cancel("m9", by="cid")
    assert line.cancel("m2", by="bob").message == "cancelled by its owner"
    assert line.status("m3").position == 1 and runner.stopped == []
    assert line.cancel("m1", by="root", admin=True).message == "cancelled by an admin"  # never an id
    assert runner.stopped == ["m1"]  # its process is stopped; the line moves when it has exited
    runner.finish("m1", "failed")
    assert line.status("m1").state == "cancelled" and runner.started == ["m1", "m3"]


def test_the_owner_reads_each_run_start_and_end_in_the_server_output(capsys):
    """Runs train in a background process: the terminal the studio runs in says when each starts and ends."""
    runner = Runner()
    line = FinetuneQueue(runner, settings=QueueSettings(concurrency=1))
    line.submit("m1", steps=50, owner="anon-0123456789abcdef0123456789abcdef")
    line.submit("m2", owner="bob")
    runner.finish("m1")  # m2 starts
    line.cancel("m2", by="bob")
    runner.finish("m2", "failed")
    lines = capsys.readouterr().err.splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [
        "aigc: fine-tune 1 of m1 started",
        "aigc: fine-tune 1 of m1 succeeded after 0 s: m1-ft1",
        "aigc: fine-tune 2 of m2 started",
        "aigc: fine-tune 2 of m2 cancelled after 0 s",
    ]
    assert lines[0].endswith("(50 steps)") and lines[-1].endswith("(cancelled by its owner)")
    assert "anon-" not in "".join(lines)


def test_a_run_that_cannot_start_is_refused_and_leaves_nothing_in_line():
    line = FinetuneQueue(Runner(fail_start="a fine-tuning run of m1 is already running"))
    with pytest.raises(StudioError, match="already running"):
        line.submit("m1", owner="ann")
    assert line.line() == [] and line.status("m1").state == "idle"


def _wait_for(check, seconds: float = 180.0, what: str = "") -> None:
    deadline = time.time() + seconds
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.integration  # two real `aigc finetune` processes
def test_a_killed_run_fails_at_once_and_the_next_in_line_starts(studio):
    """Real `aigc finetune` processes: SIGKILL the first; its database row is failed without any restart."""
    studio.queue.settings = QueueSettings(concurrency=1)
    for model, rater in (("syn-vae", "ann"), ("syn-gan", "bob")):
        batch = studio.sample(model, 24, 5, rater=rater)
        for i, sample_id in enumerate(batch.sample_ids):
            studio.rate(sample_id, 1.0 if i % 2 else -1.0, rater)
    first = studio.start_finetune("syn-vae", steps=10000, requester="ann")
    second = studio.start_finetune("syn-gan", steps=10000, requester="bob")
    assert (first.state, second.state, second.position) == ("running", "queued", 1)
    _wait_for(lambda: len(studio.store.list_runs()) == 1, what="syn-vae's run row")  # it has begun for real
    (run,) = studio.store.list_runs()
    assert run.status == "running" and run.pid
    os.kill(run.pid, signal.SIGKILL)
    _wait_for(lambda: not studio.finetune_status("syn-vae").active, what="the killed run to be noticed")
    assert studio.finetune_status("syn-vae").state == "failed"
    assert studio.store.get_run(run.id).status == "failed"  # at once: nobody restarted anything
    assert studio.finetune_status("syn-gan", "bob").state == "running"  # the next in line took the slot
    cancelled = studio.cancel_finetune("syn-gan", "bob")
    assert cancelled.state == "cancelled"
    _wait_for(lambda: studio.finetune_status("syn-gan").finished > 0, what="the cancelled run to exit")
    assert studio.finetune_status("syn-gan").state == "cancelled"
    assert {r.status for r in studio.store.list_runs()} == {"failed"}
    assert not [v for v in studio.store.list_versions() if v.parent_id is not None]


def test_the_worker_line_needs_postgresql(studio):
    with pytest.raises(StudioError, match="needs --db postgresql"):
        studio.use_worker_line()
    assert isinstance(studio.queue, FinetuneQueue)  # the in-process line stays


def test_aigc_worker_refuses_sqlite_in_one_line(capsys, tmp_path):
    from aigc.cli import main

    assert main(["worker", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["aigc worker: error: aigc worker needs the studio's PostgreSQL database (--db postgresql://...)"]


def test_finished_runs_are_forgotten_beyond_a_bound_but_never_waiting_ones():
    runner = Runner()
    line = FinetuneQueue(runner, settings=QueueSettings(concurrency=1, max_queued=1000))
    for i in range(250):
        line.submit(f"m{i}", owner="ann")
        runner.finish(f"m{i}")
    line.submit("last", owner="ann")
    line.submit("waiting", owner="bob")
    assert len(line._jobs) <= 203 and line.status("m249").state == "succeeded"
    assert line.status("m0").state == "idle"  # long forgotten
    assert [s.model for s in line.line()] == ["last", "waiting"]


def test_aigc_worker_with_an_unreachable_database_is_one_line_and_exit_2(capsys):
    from aigc.cli import main

    assert main(["worker", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/studio"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("aigc worker: error: open database:") and "refused" in err[0]
