"""Quotas for shared deployments: images, uploads and fine-tune runs per person and per deployment.

The meters' clock is a hand-moved counter: no test waits for a window to pass.
"""

from __future__ import annotations

import httpx
import pytest

from aigc.service.jobs import JobStatus
from aigc.service.quotas import DEPLOYMENT, QuotaExceeded
from aigc.service.studio import Quotas, QuotaSettings, Studio, StudioError
from tests.app.helpers import FakeClock, api_client, running


def test_per_person_and_deployment_limits_over_a_sliding_window():
    clock = FakeClock(500.0)
    settings = QuotaSettings(samples_per_minute=10, samples_per_minute_total=15, samples_reserve_per_minute=0)
    q = Quotas(settings, clock=clock)
    q.charge("samples", "ann", 6)
    clock.now += 20
    q.charge("samples", "ann", 4)
    with pytest.raises(QuotaExceeded, match=r"^Quota: at most 10 images per minute per person; try again in 40 s\.$"):
        q.charge("samples", "ann", 1)
    assert q.used("samples", "ann") == 10  # a refused request books nothing
    q.charge("samples", "bob", 5)
    with pytest.raises(QuotaExceeded, match="for this whole studio"):
        q.charge("samples", "cid", 1)
    q.charge("samples", "admin", 0)  # nothing asked, nothing booked
    q.charge("samples", None, 1000)  # not metered: the CLI, tests
    clock.now += 41  # ann's first 6 leave the window
    q.charge("samples", "ann", 6)
    with pytest.raises(QuotaExceeded, match="ask for fewer"):
        q.charge("samples", "dee", 11)


def test_once_heavy_users_spend_the_studios_total_a_light_visitor_is_still_served_from_the_reserve():
    settings = QuotaSettings(samples_per_minute=80, samples_per_minute_total=150, samples_reserve_per_minute=20)
    q = Quotas(settings, clock=FakeClock(500.0))
    for heavy in ("h1", "h2"):  # two scripts at their own limit spend the total between them
        q.charge("samples", heavy, 75)
    with pytest.raises(QuotaExceeded, match="for this whole studio"):
        q.charge("samples", "h1", 4)  # a heavy user never reaches the reserve
    with pytest.raises(QuotaExceeded, match="for this whole studio"):
        q.charge("samples", "root", 4, exempt=True)  # nor an admin: no meter of their own says their use is light
    q.charge("samples", "visitor", 8)  # before: refused for a minute, as everyone
    q.charge("samples", "visitor", 8)
    with pytest.raises(QuotaExceeded, match="for this whole studio"):
        q.charge("samples", "other", 8)  # the reserve (20) is spent: 16 of it taken
    q.charge("samples", "other", 4)
    big = Quotas(QuotaSettings(samples_per_minute_total=10, samples_reserve_per_minute=100), clock=FakeClock(500.0))
    big.charge("samples", "p", 60)  # within total + reserve while light: 60 of its 64
    with pytest.raises(QuotaExceeded, match="for this whole studio"):
        big.charge("samples", "p", 8)  # 68 would make p heavy: the total alone then holds


def test_exempt_skips_only_the_per_person_limit_and_refund_takes_back_the_newest():
    q = Quotas(QuotaSettings(finetunes_per_hour=1, finetunes_per_hour_total=2), clock=FakeClock(500.0))
    q.charge("finetunes", "ann")
    with pytest.raises(QuotaExceeded, match="fine-tuning runs per hour per person"):
        q.charge("finetunes", "ann")
    q.refund("finetunes", "ann")
    q.charge("finetunes", "ann")
    q.charge("finetunes", "root", exempt=True)
    with pytest.raises(QuotaExceeded, match="whole studio"):
        q.charge("finetunes", "root", exempt=True)
    assert q.used("finetunes", DEPLOYMENT) == 2


def test_zero_means_no_limit_and_flags_set_every_field(capsys):
    from aigc_ui import server as app

    q = Quotas(QuotaSettings(uploads_per_minute=0, uploads_per_minute_total=0), clock=FakeClock(500.0))
    for _ in range(1000):
        q.charge("uploads", "ann")
    args = app.parse_args(["--quota-samples-per-minute", "7", "--quota-finetunes-per-hour-total", "0"])
    settings = app.quota_settings(args)
    assert settings == QuotaSettings(samples_per_minute=7, finetunes_per_hour_total=0)
    assert app.quota_settings(app.parse_args([])) == QuotaSettings()
    with pytest.raises(SystemExit) as exit_:
        app.parse_args(["--quota-uploads-per-minute", "-1"])
    assert exit_.value.code == 2
    assert "argument --quota-uploads-per-minute: must be 0 (no limit) or more, got -1" in capsys.readouterr().err


@pytest.mark.heavy  # an app server of its own
def test_over_quota_is_one_line_in_the_api_and_other_people_still_generate(studio):

    clock, saved = FakeClock(500.0), studio.quotas
    studio.quotas = Quotas(QuotaSettings(samples_per_minute=5, uploads_per_minute=2), clock=clock)
    try:
        with running(studio) as demo:
            ann, bob = api_client(demo.local_url), api_client(demo.local_url)
            ann.predict("tiny-gan", 3, 1, 0, api_name="/sample")
            with pytest.raises(Exception, match=r"Quota: at most 5 images per minute per person; try again in \d+ s"):
                ann.predict("tiny-gan", 3, 2, 0, api_name="/sample")
            assert len(bob.predict("tiny-gan", 3, 1, 0, api_name="/sample")[1]["sample_ids"]) == 3
            clock.now += 61
            assert len(ann.predict("tiny-gan", 5, 3, 0, api_name="/sample")[1]["sample_ids"]) == 5

            codes = [
                httpx.post(demo.local_url + "gradio_api/upload", files={"files": ("a.png", b"x")}, timeout=30)
                for _ in range(3)
            ]
            assert [c.status_code for c in codes] == [200, 200, 429]
            assert codes[2].json()["detail"].startswith("Quota: at most 2 uploads per minute per person")
            # through a proxy on this machine: addresses of one IPv6 /64 are one uploader, the next /64 another
            codes = [
                httpx.post(
                    demo.local_url + "gradio_api/upload",
                    files={"files": ("a.png", b"x")},
                    headers={"X-Forwarded-For": forwarded},
                    timeout=30,
                ).status_code
                for forwarded in ("2001:db8:9:9::1", "2001:db8:9:9::2", "2001:db8:9:9:8::3", "2001:db8:9:a::1")
            ]
            assert codes == [200, 200, 429, 200]
    finally:
        studio.quotas = saved


class FakeJobs:
    """Stands in for the fine-tune runner: no process is started."""

    def __init__(self, conflict: bool = False):
        self.conflict, self.started = conflict, []

    def start(self, model, steps=None, rater=None, **_):
        if self.conflict:
            raise RuntimeError(f"a fine-tuning run of {model} is already running")
        self.started.append((model, rater))
        return JobStatus(model, "running")

    def stop(self, model):
        self.stopped = model

    def stop_all(self):
        pass


def test_finetune_runs_are_metered_per_requester_and_a_refused_start_costs_nothing(studio):
    clock = FakeClock(500.0)
    batch = studio.sample("tiny-vae", 24, 11, rater="quota-rater")
    for i, sample_id in enumerate(batch.sample_ids):
        studio.rate(sample_id, 1.0 if i % 2 else -1.0, "quota-rater")
    busy = Studio(studio.store, studio.models_dir, jobs=FakeJobs(conflict=True))
    busy.quotas = Quotas(QuotaSettings(finetunes_per_hour=1), clock=clock)
    for _ in range(3):
        with pytest.raises(StudioError, match="already running"):
            busy.start_finetune("tiny-vae", rater="quota-rater", requester="ann")
    assert busy.quotas.used("finetunes", "ann") == 0
    free = Studio(studio.store, studio.models_dir, jobs=FakeJobs())
    free.quotas = busy.quotas
    free.start_finetune("tiny-vae", rater="quota-rater", requester="ann")
    with pytest.raises(StudioError, match="tiny-vae is already running; cancel it or wait"):  # said "Quota: …"
        free.start_finetune("tiny-vae", rater="quota-rater", requester="ann")
    assert free.quotas.used("finetunes", "ann") == 1
    queued = free.start_finetune("tiny-vae", rater="quota-rater")  # the CLI: not metered; waits for ann's run
    assert (queued.state, queued.position) == ("queued", 1) and len(free.jobs.started) == 1
    free.jobs.on_done(JobStatus("tiny-vae", "succeeded", child="tiny-vae-ft9"))  # ann's run ends; the next starts
    with pytest.raises(StudioError, match="at most 1 fine-tuning runs per hour per person"):
        free.start_finetune("tiny-vae", rater="quota-rater", requester="ann")


def test_a_waiting_run_its_owner_cancels_is_refunded_a_started_one_is_not(studio):
    batch = studio.sample("tiny-vae", 24, 11, rater="refund-rater")
    for i, sample_id in enumerate(batch.sample_ids):
        studio.rate(sample_id, 1.0 if i % 2 else -1.0, "refund-rater")
    line = Studio(studio.store, studio.models_dir, jobs=FakeJobs())
    line.quotas = Quotas(QuotaSettings(finetunes_per_hour=1), clock=FakeClock(500.0))
    line.start_finetune("tiny-vae", rater="refund-rater", requester="bob")  # bob's run takes the one slot
    waiting = line.start_finetune("tiny-vae", rater="refund-rater", requester="ann")
    assert (waiting.state, waiting.position) == ("queued", 1)
    assert line.cancel_finetune("tiny-vae", "ann").state == "cancelled"
    assert line.quotas.used("finetunes", "ann") == 0  # it never ran: before, ann could not queue for an hour
    line.start_finetune("tiny-vae", rater="refund-rater", requester="ann")
    assert line.cancel_finetune("tiny-vae", "bob").state == "cancelled"  # bob's ran: its charge stays
    assert line.quotas.used("finetunes", "bob") == 1


def test_serve_with_the_worker_line_on_sqlite_is_one_line_and_exit_2(capsys, models_dir, db_url):
    from aigc_ui import server as app
    from tests.app.helpers import free_port

    args = app.parse_args(
        ["--finetune-queue", "postgres", "--port", str(free_port()), "--db", db_url, "--models", str(models_dir)]
    )
    with pytest.raises(SystemExit) as done:
        app.serve(args, block=False)
    assert done.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "aigc serve: error: --finetune-queue postgres: needs --db postgresql://… (the workers share that database)"
    )


def test_ratings_are_metered_and_a_refused_rating_costs_nothing(studio):
    batch = studio.sample("tiny-vae", 5, 21, rater="fast-rater")
    before = studio.quotas
    studio.quotas = Quotas(QuotaSettings(ratings_per_minute=3), clock=FakeClock(500.0))
    try:
        for sample_id in batch.sample_ids[:3]:
            studio.rate(sample_id, 1.0, "fast-rater")
        with pytest.raises(StudioError, match=r"at most 3 ratings per minute per person; try again in 60 s"):
            studio.rate(batch.sample_ids[3], 1.0, "fast-rater")  # before: no meter (1,200 in 49 s from one address)
        with pytest.raises(StudioError, match="does not exist"):
            studio.rate(2**40, 1.0, "slow-rater")  # refused by the database: not charged
        assert studio.quotas.used("ratings", "slow-rater") == 0
        studio.rate(batch.sample_ids[3], -1.0, "slow-rater")  # another person still rates
    finally:
        studio.quotas = before
