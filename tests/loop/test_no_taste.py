"""Ratings that show no taste start no fine-tune: the run refuses them, and the page says so before it queues one."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.feedback.calibration import NO_TASTE_MIN_RATINGS
from aigc.feedback.config import FinetuneConfig
from aigc.feedback.finetune import finetune
from aigc.feedback.ratings import NoTasteFound
from aigc.service.errors import StudioError

from .conftest import rate_by_band


def rate_coin_flips(studio, model: str, n: int, rater: str = "coin", seed: int = 4) -> None:
    """n fresh samples rated by a coin: each thumb ignores the picture."""
    ids = [
        i
        for page in range(0, n, 60)
        for i in studio.sample(model, min(60, n - page), seed + page, rater=rater).sample_ids
    ]
    thumbs = np.where(np.random.default_rng(seed).random(n) < 0.5, 1.0, -1.0)
    for sample_id, thumb in zip(ids, thumbs):
        studio.rate(sample_id, float(thumb), rater)


def test_coin_flip_ratings_start_no_run_and_make_no_child(studio, models_dir):
    rate_coin_flips(studio, "syn-vae", 2 * NO_TASTE_MIN_RATINGS)
    with pytest.raises(NoTasteFound, match="No taste found in these 120 ratings"):
        finetune("syn-vae", studio.store, FinetuneConfig(progress=False), models_dir=models_dir)
    assert studio.store.list_runs() == []
    assert not [v for v in studio.store.list_versions() if v.parent_id is not None]


def test_the_cli_says_why_in_one_line(studio, models_dir, capsys):
    from aigc.cli import main

    rate_coin_flips(studio, "syn-vae", 2 * NO_TASTE_MIN_RATINGS)
    code = main(["finetune", "syn-vae", "--db", str(studio.store.url), "--models", models_dir])
    err = capsys.readouterr().err
    assert code == 3 and err.startswith("aigc finetune: No taste found") and "Traceback" not in err


def test_the_page_refuses_at_once_once_its_advice_found_no_taste(studio):
    rate_coin_flips(studio, "syn-vae", 2 * NO_TASTE_MIN_RATINGS, rater="coin")
    advice = studio.ratings_advice("syn-vae", "coin")
    assert advice.level == "low" and advice.text.startswith("No taste found") and advice.as_dict()["no_taste"]
    assert any("will not start" in w for w in advice.warnings)
    with pytest.raises(StudioError, match="No taste found"):
        studio.start_finetune("syn-vae", rater="coin")
    assert studio.finetune_status("syn-vae").state == "idle"  # nothing queued, nothing charged
    # a rater with a taste, rating the same model, is not held back by the coin's ratings
    rate_by_band(studio, "syn-vae", liked_band=1, n=NO_TASTE_MIN_RATINGS, rater="band")
    assert studio.ratings_advice("syn-vae", "band").level in ("high", "medium")
    assert not studio.ratings_advice("syn-vae", "band").as_dict()["no_taste"]


def test_an_api_call_that_never_asked_for_advice_is_refused_at_once_too(studio):
    rate_coin_flips(studio, "syn-vae", 2 * NO_TASTE_MIN_RATINGS, rater="coin")
    with pytest.raises(StudioError, match="No taste found"):  # no advice asked: the start fits it
        studio.start_finetune("syn-vae", rater="coin")
    assert studio.finetune_status("syn-vae").state == "idle"
