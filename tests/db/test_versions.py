"""Model versions: idempotent registration, lineage, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from feedback_db import Conflict, InvalidInput, NotFound
from tests.db.helpers import child_of, latents, sha


def test_register_is_idempotent_by_name_and_sha(store, version):
    again = store.register_version("gan-base", "gan", "/elsewhere", "A" * 64)
    assert again == version  # uppercase hex is the same digest
    with pytest.raises(Conflict, match="another checkpoint"):
        store.register_version("gan-base", "gan", "/ckpt/gan-base", sha(2))
    assert len(store.list_versions()) == 1


def test_get_version_by_name_or_id(store, version):
    assert store.get_version("gan-base") == version
    assert store.get_version(version.id) == version
    assert store.get_version("nope") is None
    assert store.get_version(9999) is None
    assert version.created_at.tzinfo is not None


def test_child_must_be_of_the_parents_kind(store, version):
    with pytest.raises(Conflict, match="cannot descend"):
        store.register_version("vae-child", "vae", "/c", sha(3), parent_id=version.id)


def test_lineage_is_self_then_ancestors(store, version):
    child = child_of(store, version, "gan-ft1", 1)
    grandchild = child_of(store, child, "gan-ft2", 2)
    other = store.register_version("gan-other", "gan", "/o", sha(9))
    assert [v.name for v in store.lineage(grandchild.id)] == ["gan-ft2", "gan-ft1", "gan-base"]
    assert [v.name for v in store.lineage(version.id)] == ["gan-base"]
    assert [v.name for v in store.lineage(other.id)] == ["gan-other"]
    assert [v.id for v in store.list_versions()] == [version.id, child.id, grandchild.id, other.id]


def test_update_metrics_merges_and_accepts_numpy(store, version):
    store.update_version_metrics(version.id, {"fid": np.float32(12.5), "liked": 0.3})
    updated = store.update_version_metrics(version.id, {"fid": 11.0, "curve": np.arange(3)})
    assert updated.metrics == {"fid": 11.0, "liked": 0.3, "curve": [0, 1, 2]}
    assert store.get_version(version.id).metrics == updated.metrics


def test_first_batch_fixes_the_latent_dim(store):
    v = store.register_version("vae-free", "vae", "/v", sha(4))
    assert v.latent_dim is None
    store.record_samples(v.id, latents(2, dim=5), seed=0)
    assert store.get_version(v.id).latent_dim == 5
    with pytest.raises(InvalidInput, match="expects 5"):
        store.record_samples(v.id, latents(2, dim=6), seed=0)


def test_latent_dim_from_config(store):
    v = store.register_version("vae-cfg", "vae", "/v", sha(5), config={"latent_dim": 3})
    with pytest.raises(InvalidInput, match="expects 3"):
        store.record_samples(v.id, latents(1, dim=4), seed=0)
    assert len(store.record_samples(v.id, latents(1, dim=3), seed=0)) == 1


def test_owner_and_publishing(store, version):
    """Roles (0003): a visitor's fine-tune is registered unpublished with its owner; an admin publishes it."""
    assert (version.owner, version.published) == (None, True)
    mine = store.register_version("gan-ann", "gan", "/a", sha(6), parent_id=version.id, owner="ann", published=False)
    assert (mine.owner, mine.published) == ("ann", False)
    again = store.register_version("gan-ann", "gan", "/a", sha(6))  # re-registering (a page's scan) keeps both
    assert (again.owner, again.published) == ("ann", False)
    assert store.publish_version("gan-ann").published is True
    assert store.get_version(mine.id).published is True
    assert store.publish_version(mine.id, published=False).published is False
    assert [v.published for v in store.list_versions()] == [True, False]
    with pytest.raises(NotFound, match="does not exist"):
        store.publish_version("nope")


def test_retire_keeps_the_row_and_frees_the_name(store, version):
    """Shipped weights replaced under the same name (issue 14): the old version keeps its id and everything that
    points at it, takes the name `gan-base@<sha[:8]>`, and the name is free for the new checkpoint."""
    child = child_of(store, version, "gan-ft1", 1)
    sample_id = store.record_samples(version.id, latents(1), seed=3)[0]
    store.rate(sample_id, 1.0, "u1")
    assert version.retired_at is None and not version.retired

    retired = store.retire_version("gan-base", version.checkpoint_sha256)
    assert (retired.id, retired.name, retired.checkpoint_sha256) == (version.id, "gan-base@aaaaaaaa", "a" * 64)
    assert retired.retired and retired.retired_at.tzinfo is not None
    assert store.get_version("gan-base") is None and store.get_version(version.id) == retired

    new = store.register_version("gan-base", "gan", "/ckpt/gan-base", sha(2), latent_dim=8)
    assert new.id != version.id and not new.retired and new.parent_id is None
    assert store.get_version(child.id).parent_id == version.id  # the child's lineage is the old weights
    assert [r.sample_id for r in store.ratings_for_lineage(child.id)] == [sample_id]
    assert store.ratings_for_lineage(new.id) == []  # the old ratings never feed the new version
    assert store.get_samples([sample_id])[0].version_id == version.id

    # idempotent: a second retire of the same sha (another process, the next start) changes nothing
    assert store.retire_version("gan-base", "A" * 64) == retired
    assert [v.name for v in store.list_versions()] == ["gan-base@aaaaaaaa", "gan-ft1", "gan-base"]
    assert store.retire_version("nope", sha(5)) is None


def test_retiring_the_same_checkpoint_again_takes_a_free_name(store, version):
    """The same weights retired twice (shipped, replaced, shipped again, replaced again): names stay unique."""
    store.retire_version("gan-base", version.checkpoint_sha256)
    again = store.register_version("gan-base", "gan", "/ckpt/gan-base", version.checkpoint_sha256)
    second = store.retire_version("gan-base", version.checkpoint_sha256)
    assert (second.id, second.name) == (again.id, "gan-base@aaaaaaaa-2")
    long = store.register_version("x" * 200, "gan", "/x", sha(7))
    assert len(store.retire_version(long.name, sha(7)).name) <= 200
