"""FID and k-NN precision/recall on feature sets whose answers are known."""

from __future__ import annotations

import pytest
import torch

from aigc.evaluation.metrics import fid, precision_recall, resample


@pytest.fixture
def feats():
    return torch.randn(500, 8, generator=torch.Generator().manual_seed(0))


def test_precision_recall_identical_sets(feats):
    p, r = precision_recall(feats, feats.clone())
    assert p == pytest.approx(1.0) and r == pytest.approx(1.0)


def test_precision_recall_disjoint_clusters(feats):
    p, r = precision_recall(feats, feats + 100.0)
    assert p == pytest.approx(0.0) and r == pytest.approx(0.0)


def test_precision_recall_half_overlap(feats):
    """Fakes = half the reals + half far away: precision ≈ 0.5, recall stays high (the reals' half is covered)."""
    fake = torch.cat([feats[:250], feats[250:] + 100.0])
    p, _ = precision_recall(feats, fake)
    assert 0.45 < p < 0.55


def test_fid_of_a_set_with_itself_is_zero(feats):
    assert abs(fid(feats, feats.clone())) < 1e-6


def test_fid_grows_with_a_shift(feats):
    """Same covariance, mean shifted by s in every one of 8 dims: FID = ‖Δμ‖² = 8 s²."""
    values = [fid(feats, feats + s) for s in (0.5, 1.0, 2.0)]
    assert values == sorted(values)
    for s, v in zip((0.5, 1.0, 2.0), values):
        assert v == pytest.approx(8 * s * s, rel=1e-3)
    assert fid(feats, feats * 2.0) > 1.0  # a wider spread counts too


def test_resample_follows_the_weights(feats):
    weights = torch.zeros(500)
    weights[:10] = 1.0
    drawn = resample(feats, weights, n=200, seed=3)
    assert drawn.shape == (200, 8)
    assert all(any(torch.equal(row, f) for f in feats[:10]) for row in drawn)


def test_precision_with_the_real_radius_computed_once_is_the_same_figure(feats):
    """A report grading parent and child computes the real set's k-NN radii once; the figure must not change."""
    from aigc.evaluation.metrics import neighbour_radius, precision

    fake = torch.cat([feats[:250] + 0.05, feats[250:] + 3.0])
    radius = neighbour_radius(feats)
    assert precision(feats, fake, real_radius=radius) == precision_recall(feats, fake)[0]
    assert 0.4 < precision(feats, fake, real_radius=radius) < 0.6
    assert precision(feats, fake, real_radius=radius * 100) == 1.0  # the radii given are the ones used
    with pytest.raises(ValueError, match="one radius per real point"):
        precision(feats, fake, real_radius=radius[:10])
