"""Ratings (upsert per sample and rater), lineage queries, activity, comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from feedback_db import InvalidInput, NotFound
from tests.db.helpers import child_of, count_rows, latents, sha


def test_rating_again_updates_the_same_row(store, version):
    sid = store.record_samples(version.id, latents(1), seed=0)[0]
    first = store.rate(sid, 1, "alice")
    second = store.rate(sid, -0.5, "alice")
    assert second.id == first.id and second.score == -0.5
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    assert isinstance(first.score, float)
    bob = store.rate(sid, 0.0, "bob")
    assert bob.id != first.id
    assert count_rows(store) == (1, 2)
    assert sorted((r.rater_id, r.score) for r in store.ratings_for_lineage(version.id)) == [
        ("alice", -0.5),
        ("bob", 0.0),
    ]


def test_rater_ids_are_trimmed(store, version):
    sid = store.record_samples(version.id, latents(1), seed=0)[0]
    store.rate(sid, 1, "  carol ")
    assert store.rate(sid, -1, "carol").rater_id == "carol"
    assert count_rows(store) == (1, 1)


def test_ratings_for_lineage_follow_ancestors_only(store, version):
    child = child_of(store, version, "gan-ft1")
    sibling = child_of(store, version, "gan-sibling", 2)
    z_parent, z_child = latents(2, seed=1), latents(2, seed=2)
    p_ids = store.record_samples(version.id, z_parent, seed=1)
    c_ids = store.record_samples(child.id, z_child, seed=2, start_index=5)
    s_ids = store.record_samples(sibling.id, latents(1, seed=3), seed=3)
    store.rate(p_ids[0], 1, "a")
    store.rate(c_ids[1], -1, "a")
    store.rate(s_ids[0], 1, "a")
    store.record_samples(child.id, latents(1), seed=9)  # unrated: not included

    rated = store.ratings_for_lineage(child.id)
    assert [(r.sample_id, r.version_id, r.score) for r in rated] == [
        (p_ids[0], version.id, 1.0),
        (c_ids[1], child.id, -1.0),
    ]
    np.testing.assert_array_equal(rated[1].latent, z_child[1])
    assert (rated[1].seed, rated[1].index, rated[1].rater_id) == (2, 6, "a")

    assert [r.sample_id for r in store.ratings_for_lineage(child.id, include_ancestors=False)] == [c_ids[1]]
    assert [r.sample_id for r in store.ratings_for_lineage(version.id)] == [p_ids[0]]
    with pytest.raises(NotFound):
        store.ratings_for_lineage(12345)


def test_recent_activity_is_mine_newest_first(store, version):
    mine = store.record_samples(version.id, latents(3), seed=0, rater_id="me")
    theirs = store.record_samples(version.id, latents(2), seed=1, rater_id="them")
    store.rate(mine[0], 1, "me")  # rated after the others were made: newest
    store.rate(theirs[1], -1, "me")  # someone else's sample I rated: included
    store.rate(theirs[0], 1, "them")  # not mine at all

    items = store.recent_activity("me")
    assert [i.sample_id for i in items] == [theirs[1], mine[0], mine[2], mine[1]]
    assert [i.score for i in items] == [-1.0, 1.0, None, None]
    assert [i.sample_id for i in store.recent_activity("me", limit=2)] == [theirs[1], mine[0]]
    assert store.recent_activity("nobody") == []


def test_rated_only_finds_ratings_behind_newer_unrated_samples(store, version):
    """History's "Rated only": every page load makes 8 unrated samples; the ratings must still be found."""
    older = store.record_samples(version.id, latents(3), seed=0, rater_id="me")
    for sample_id, score in zip(older, (1, -1, 1)):
        store.rate(sample_id, score, "me")
    store.record_samples(version.id, latents(40), seed=1, rater_id="me")  # newer, unrated
    assert all(i.score is None for i in store.recent_activity("me", limit=5))
    rated = store.recent_activity("me", limit=5, rated_only=True)
    assert [(i.sample_id, i.score) for i in rated] == [(older[2], 1.0), (older[1], -1.0), (older[0], 1.0)]


def test_comparison_stats_count_for_the_child(store, version):
    child = child_of(store, version, "gan-ft1")
    other = store.register_version("gan-x", "gan", "/x", sha(7), latent_dim=version.latent_dim)
    p = store.record_samples(version.id, latents(3), seed=0)
    c = store.record_samples(child.id, latents(3), seed=0)
    o = store.record_samples(other.id, latents(1), seed=0)
    store.record_comparison(p[0], c[0], c[0], "r1")  # child wins (right side)
    store.record_comparison(c[1], p[1], c[1], "r1")  # child wins (left side)
    store.record_comparison(p[2], c[2], p[2], "r2")  # parent wins
    tie = store.record_comparison(p[0], c[1], None, "r2")
    store.record_comparison(o[0], c[0], o[0], "r3")  # unrelated version: ignored
    store.record_comparison(p[0], p[1], p[0], "r3")  # parent vs parent: ignored

    stats = store.comparison_stats(version.id, child.id)
    assert (stats.wins, stats.losses, stats.ties, stats.n) == (2, 1, 1, 4)
    assert stats.win_rate == pytest.approx(2 / 3)
    assert tie.picked_sample_id is None
    flipped = store.comparison_stats(child.id, version.id)
    assert (flipped.wins, flipped.losses, flipped.ties) == (1, 2, 1)


def test_comparisons_read_back_newest_first(store, version):
    a, b, c = store.record_samples(version.id, latents(3), seed=0)
    first = store.record_comparison(a, b, b, "r1")
    tie = store.record_comparison(c, a, None, "r2")
    last = store.record_comparison(b, c, b, "r1")
    assert store.comparisons() == [last, tie, first]
    assert store.comparisons(" r1 ") == [last, first]
    assert store.comparisons(limit=1) == [last]
    assert store.comparisons("nobody") == []
    with pytest.raises(InvalidInput, match="limit"):
        store.comparisons(limit=-1)


def test_comparison_refuses_bad_picks(store, version):
    a, b, c = store.record_samples(version.id, latents(3), seed=0)
    with pytest.raises(InvalidInput, match="neither"):
        store.record_comparison(a, b, c, "r")
    with pytest.raises(InvalidInput, match="two different"):
        store.record_comparison(a, a, a, "r")
    with pytest.raises(NotFound):
        store.record_comparison(a, 999999, None, "r")
    with pytest.raises(InvalidInput, match="rater id"):
        store.record_comparison(a, b, None, "")
