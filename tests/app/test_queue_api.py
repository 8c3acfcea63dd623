"""The fine-tuning line through the HTTP API: /finetune queues, /finetune_status says where, /finetune_cancel.

The runs themselves are stood in for (no process): what is tested is the line as a client sees it.
"""

from __future__ import annotations

import pytest

from aigc.service.jobs import JobStatus
from aigc.service.queue import FinetuneQueue, QueueSettings
from aigc.service.studio import Studio
from tests.app.helpers import api_client, running


class Runner:
    def __init__(self):
        self.started, self.stopped, self.on_done = [], [], None

    def start(self, model, steps=None, rater=None, extra_args=None):
        self.started.append(model)
        return JobStatus(model, "running", "training", 0.4, "training… loss 0.2")

    def stop(self, model):
        self.stopped.append(model)

    def stop_all(self):
        pass


@pytest.fixture(scope="module")
def line_studio(models_dir, tmp_path_factory):
    studio = Studio.open(f"sqlite:///{tmp_path_factory.mktemp('line') / 'db.sqlite'}", models_dir=models_dir)
    studio.jobs = Runner()
    studio.queue = FinetuneQueue(studio.jobs, studio.store, QueueSettings(concurrency=1, typical_run_s=180))
    for model in ("tiny-gan", "tiny-vae"):
        batch = studio.sample(model, 24, 1, rater="someone")
        for i, sample_id in enumerate(batch.sample_ids):
            studio.rate(sample_id, 1.0 if i % 2 else -1.0, "someone")
    try:
        yield studio
    finally:
        studio.close()


@pytest.mark.heavy  # an app server of its own
def test_a_second_run_waits_in_line_and_its_owner_sees_where_and_cancels_it(line_studio):

    with running(line_studio) as demo:
        ann, bob = api_client(demo.local_url), api_client(demo.local_url)
        assert ann.predict("tiny-gan", 20, "", api_name="/finetune")["state"] == "running"
        assert bob.predict("tiny-vae", 20, "", api_name="/finetune")["state"] == "queued"
        status = bob.predict("tiny-vae", api_name="/finetune_status")
        assert (status["state"], status["position"]) == ("queued", 1)
        assert status["message"] == "1st in line, starts in about 3 min" and 0 < status["wait_s"] <= 180
        assert ann.predict("tiny-gan", api_name="/finetune_status")["message"] == "training… loss 0.2"
        with pytest.raises(Exception, match="tiny-vae is someone else's"):
            ann.predict("tiny-vae", api_name="/finetune_cancel")  # not ann's run
        cancelled = bob.predict("tiny-vae", api_name="/finetune_cancel")
        assert (cancelled["state"], cancelled["message"]) == ("cancelled", "cancelled by its owner")
        # everyone may read the line's status; it must not carry bob's id (the cookie that makes a browser bob)
        seen_by_ann = ann.predict("tiny-vae", api_name="/finetune_status")
        assert seen_by_ann["state"] == "cancelled" and seen_by_ann["message"] == "cancelled by its owner"
        assert line_studio.jobs.started == ["tiny-gan"]  # the cancelled run never started
