"""Bad input is refused with a domain error that names the problem, before SQL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from feedback_db import FeedbackError, FeedbackStore, InvalidInput, NotFound, stars_to_score
from tests.db.helpers import LATENT_DIM, count_rows, latents, sha


@pytest.fixture
def sample_id(store, version) -> int:
    return store.record_samples(version.id, latents(1), seed=1)[0]


BAD_SCORES = [1.0001, -1.5, 2, math.nan, math.inf, -math.inf, True, "1", None]
BAD_RATERS = ["", "   ", None, 7, "x" * 129]


def test_rate_refuses_bad_scores_and_raters(store, sample_id):
    for score in BAD_SCORES:
        with pytest.raises(InvalidInput, match="score"):
            store.rate(sample_id, score, "alice")
    for rater in BAD_RATERS:
        with pytest.raises(InvalidInput, match="rater id"):
            store.rate(sample_id, 1, rater)
    assert count_rows(store) == (1, 0)


def test_rate_unknown_sample_is_not_found(store, version):
    with pytest.raises(NotFound, match="sample 424242"):
        store.rate(424242, 1.0, "alice")


def test_bad_ids_are_invalid_not_driver_errors(store):
    for sample in [0, -3, 1.5, "1", True, None]:
        with pytest.raises(InvalidInput):
            store.rate(sample, 1.0, "alice")


BAD_LATENTS = [
    (latents(2, LATENT_DIM + 1), "dimension"),
    (np.full((1, LATENT_DIM), np.nan), "NaN or inf"),
    (np.concatenate([latents(2), np.full((1, LATENT_DIM), np.inf)]), "latent 2"),
    (np.ones(LATENT_DIM), "2D"),
    (np.ones((0, LATENT_DIM)), "at least one"),
    ([[1.0, 2.0], [1.0]], "2D array"),
    ([["a"] * LATENT_DIM], "2D array"),
    (np.full((1, LATENT_DIM), 1e39), "float32"),
]


def test_record_samples_refuses_bad_latents(store, version):
    for bad, match in BAD_LATENTS:
        with pytest.raises(InvalidInput, match=match):
            store.record_samples(version.id, bad, seed=1)
    assert count_rows(store) == (0, 0)


def test_record_samples_refuses_bad_arguments(store, version):
    with pytest.raises(NotFound, match="version 999"):
        store.record_samples(999, latents(1), seed=1)
    with pytest.raises(InvalidInput, match="source"):
        store.record_samples(version.id, latents(1), seed=1, source="dream")
    with pytest.raises(InvalidInput, match="seed"):
        store.record_samples(version.id, latents(1), seed=-1)
    with pytest.raises(InvalidInput, match="image hashes"):
        store.record_samples(version.id, latents(2), seed=1, image_sha256s=[sha(1)])
    with pytest.raises(InvalidInput, match="image sha256"):
        store.record_samples(version.id, latents(1), seed=1, image_sha256s=["not-a-hash"])
    with pytest.raises(InvalidInput, match="rater id"):
        store.record_samples(version.id, latents(1), seed=1, rater_id="")


def test_register_version_refuses_bad_input(store, version):
    with pytest.raises(InvalidInput, match="kind"):
        store.register_version("x", "diffusion", "/c", sha(1))
    with pytest.raises(InvalidInput, match="sha256"):
        store.register_version("x", "gan", "/c", "abc")
    with pytest.raises(InvalidInput, match="version name"):
        store.register_version(" ", "gan", "/c", sha(1))
    with pytest.raises(NotFound, match="version 77"):
        store.register_version("x", "gan", "/c", sha(1), parent_id=77)
    with pytest.raises(InvalidInput, match="metrics"):
        store.register_version("x", "gan", "/c", sha(1), metrics={"fid": float("nan")})
    with pytest.raises(InvalidInput, match="config"):
        store.register_version("x", "gan", "/c", sha(1), config={"f": object()})
    assert [v.name for v in store.list_versions()] == ["gan-base"]


def test_stars_map_linearly_onto_scores():
    assert [stars_to_score(s) for s in (1, 2, 3, 4, 5)] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert FeedbackStore.stars_to_score(4.5) == 0.75
    for bad in (0, 6, math.nan, "3", True):
        with pytest.raises(InvalidInput, match="stars"):
            stars_to_score(bad)


def test_unusable_urls_are_refused():
    with pytest.raises(InvalidInput, match="in-memory"):
        FeedbackStore("sqlite://")
    with pytest.raises(InvalidInput, match="in-memory"):
        FeedbackStore("sqlite:///:memory:")
    with pytest.raises(InvalidInput, match="only sqlite and postgresql"):
        FeedbackStore("mysql://u@h/db")
    with pytest.raises(InvalidInput, match="bad database URL"):
        FeedbackStore("not a url")


def test_every_domain_error_is_a_feedback_error():
    from feedback_db import Conflict, DatabaseBusy, SchemaError

    for cls in (InvalidInput, NotFound, Conflict, DatabaseBusy, SchemaError):
        assert issubclass(cls, FeedbackError)
