"""Samples: bulk insert in one transaction, exact latent round trip."""

from __future__ import annotations

import numpy as np
import pytest

import feedback_db.samples
from feedback_db import InvalidInput, NotFound
from tests.db.helpers import count_rows, latents, sha


def test_record_samples_returns_ids_in_order_with_exact_latents(store, version):
    z = latents(5, seed=3)
    ids = store.record_samples(
        version.id,
        z,
        seed=42,
        source="explore",
        rater_id="s1",
        image_sha256s=[sha(i) for i in range(5)],
        start_index=10,
    )
    assert ids == sorted(ids) and len(set(ids)) == 5
    got = store.get_samples(ids)
    for i, (sid, s) in enumerate(zip(ids, got)):
        assert s.id == sid and s.version_id == version.id and s.seed == 42
        assert s.index == 10 + i and s.source == "explore" and s.rater_id == "s1"
        assert s.image_sha256 == sha(i)
        assert s.latent.dtype == np.float32 and s.latent_dim == z.shape[1]
        np.testing.assert_array_equal(s.latent, z[i])  # bit-exact


def test_lists_and_float64_are_accepted(store, version):
    z = np.random.default_rng(0).standard_normal((2, version.latent_dim))
    ids = store.record_samples(version.id, z.tolist(), seed=2**63 - 1)
    s = store.get_sample(ids[1])
    np.testing.assert_array_equal(s.latent, z[1].astype(np.float32))
    assert s.seed == 2**63 - 1


def test_get_samples_keeps_order_and_refuses_missing(store, version):
    ids = store.record_samples(version.id, latents(3), seed=0)
    assert [s.id for s in store.get_samples([ids[2], ids[0], ids[2]])] == [ids[2], ids[0], ids[2]]
    assert store.get_samples([]) == []
    with pytest.raises(NotFound, match="^sample 999999 does not exist$"):  # the words of every lookup
        store.get_samples([ids[0], 999999])
    with pytest.raises(NotFound, match="^samples 999998, 999999 do not exist$"):
        store.get_samples([999999, ids[0], 999998])
    with pytest.raises(NotFound, match="^sample 999999 does not exist$"):
        store.get_sample(999999)


def test_bad_row_in_a_batch_writes_nothing(store, version):
    z = latents(50)
    z[37, 2] = np.nan
    with pytest.raises(InvalidInput, match="latent 37"):
        store.record_samples(version.id, z, seed=0)
    assert count_rows(store) == (0, 0)


def test_failure_after_the_insert_rolls_everything_back(store, monkeypatch):
    """The write is one transaction: an error after the INSERT (and after the
    version's latent_dim was fixed) leaves no trace of either."""
    v = store.register_version("free", "vae", "/v", sha(8))
    real = feedback_db.samples.record

    def record_then_crash(session, **kw):
        ids = real(session, **kw)
        assert ids  # the rows exist inside the transaction
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(feedback_db.samples, "record", record_then_crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.record_samples(v.id, latents(4, dim=6), seed=0)
    monkeypatch.undo()
    assert count_rows(store) == (0, 0)
    assert store.get_version(v.id).latent_dim is None
    assert store.record_samples(v.id, latents(1, dim=3), seed=0)  # a new first batch decides


def test_large_batch_in_one_call(store, version):
    ids = store.record_samples(version.id, latents(2000), seed=0)
    assert len(ids) == 2000 and ids == list(range(ids[0], ids[0] + 2000))
    assert count_rows(store) == (2000, 0)
