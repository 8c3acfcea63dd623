"""Per-version stats, ratings over time, and export files that round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from feedback_db import InvalidInput
from feedback_db.export import read
from tests.db.helpers import child_of, latents


@pytest.fixture
def rated(store, version):
    """Parent with 4 samples (2 liked, 1 disliked, 1 neutral), child with 1 unrated."""
    child = child_of(store, version, "gan-ft1")
    ids = store.record_samples(version.id, latents(4, seed=5), seed=7, rater_id="s")
    store.record_samples(child.id, latents(1), seed=8)
    store.rate(ids[0], 1, "a")
    store.rate(ids[1], store.stars_to_score(4), "a")
    store.rate(ids[2], -1, "b")
    store.rate(ids[3], 0, "b")
    return version, child, ids


def test_stats_per_version(store, rated):
    version, child, _ = rated
    empty = store.register_version("vae-empty", "vae", "/v", "c" * 64)
    stats = {s.version_id: s for s in store.stats_per_version()}
    p = stats[version.id]
    assert (p.n_samples, p.n_ratings, p.n_likes, p.n_dislikes) == (4, 4, 2, 1)
    assert p.like_rate == 0.5 and p.mean_score == pytest.approx(0.125)
    c = stats[child.id]
    assert (c.n_samples, c.n_ratings, c.like_rate, c.mean_score) == (1, 0, None, None)
    assert stats[empty.id].n_samples == 0


def test_ratings_over_time(store, rated):
    version, child, ids = rated
    points = store.ratings_over_time()
    assert [p.sample_id for p in points] == ids
    assert all(a.at <= b.at for a, b in zip(points, points[1:]))
    assert store.ratings_over_time(child.id) == []
    store.rate(ids[0], -1, "a")  # re-rating moves the point to now
    assert store.ratings_over_time(version.id)[-1].sample_id == ids[0]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_round_trip(store, rated, tmp_path, fmt):
    out = tmp_path / f"ratings.{fmt}"
    assert store.export(fmt, out) == 4
    rows = list(read(out))
    expected = store.ratings_for_lineage(rated[0].id)
    assert [(r["sample_id"], r["rater_id"], r["score"]) for r in rows] == [
        (e.sample_id, e.rater_id, e.score) for e in expected
    ]
    for row, e in zip(rows, expected):
        assert row["version_name"] == "gan-base" and row["seed"] == 7 and row["index"] == e.index
        assert row["latent_dim"] == len(row["latent"]) == 8
        np.testing.assert_array_equal(np.asarray(row["latent"], dtype=np.float32), e.latent)
        assert row["session_id"] == "s" and row["image_sha256"] is None
    if fmt == "jsonl":
        assert all(json.loads(line) for line in out.read_text().splitlines())


def test_a_persons_export_holds_their_ratings_and_only_their_own_latents(store, rated, tmp_path):
    version, _, ids = rated
    mine = store.record_samples(version.id, latents(1, seed=9), seed=9, rater_id="b")  # shown to b
    store.rate(mine[0], 1, "b")
    assert store.export("csv", tmp_path / "b.csv", rater_id="b") == 3
    rows = {r["sample_id"]: r for r in read(tmp_path / "b.csv")}
    assert set(rows) == {ids[2], ids[3], mine[0]} and {r["rater_id"] for r in rows.values()} == {"b"}
    assert len(rows[mine[0]]["latent"]) == 8 and rows[mine[0]]["session_id"] == "b"
    for shown_to_someone_else in (ids[2], ids[3]):  # session "s"'s pictures, rated by b through their ids
        assert rows[shown_to_someone_else]["latent"] == [] and rows[shown_to_someone_else]["session_id"] is None
    assert store.export("csv", tmp_path / "nobody.csv", rater_id="nobody") == 0
    assert store.export("csv", tmp_path / "b2.csv", rater_id="b", newest=2) == 2  # the most recent two, oldest first
    assert [r["sample_id"] for r in read(tmp_path / "b2.csv")] == [ids[3], mine[0]]
    assert store.export("csv", tmp_path / "all2.csv", newest=2) == 2
    with pytest.raises(InvalidInput, match="newest"):
        store.export("csv", tmp_path / "x.csv", newest=-1)
    with pytest.raises(InvalidInput, match="rater id"):
        store.export("csv", tmp_path / "x.csv", rater_id="x" * 10_000)


def test_export_refuses_unknown_format_and_leaves_no_file(store, rated, tmp_path):
    out = tmp_path / "exports"
    with pytest.raises(InvalidInput, match="format"):
        store.export("xml", out / "r.xml")
    assert not out.exists() or list(out.iterdir()) == []


def test_export_of_an_empty_database(store, tmp_path):
    assert store.export("csv", tmp_path / "e.csv") == 0
    assert list(read(tmp_path / "e.csv")) == []
