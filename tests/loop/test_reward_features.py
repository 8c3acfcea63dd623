"""The reward model's appearance features: each measurement means what its name says (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.feedback.appearance import APPEARANCE_BLOCKS, STAT_NAMES, appearance, layout, pixel_stats
from aigc.feedback.kinds import cluster_kinds, kmeans, largest_share, nearest


def canvas(n: int = 1, size: int = 28, bg: float = 0.0) -> torch.Tensor:
    """(n, 1, size, size) in [0, 1] filled with bg; callers draw on it and pass `to_model` of it."""
    return torch.full((n, 1, size, size), bg)


def to_model(g: torch.Tensor) -> torch.Tensor:
    return g * 2 - 1  # [0, 1] grey → the models' [-1, 1]


def stat(x: torch.Tensor, name: str) -> np.ndarray:
    return pixel_stats(to_model(x))[:, STAT_NAMES.index(name)].numpy()


def test_a_box_measures_its_area_extent_proportions_and_centre():
    g = canvas()
    g[0, 0, 4:24, 10:15] = 1.0  # 20 tall, 5 wide, left of centre
    assert stat(g, "ink_area")[0] == pytest.approx(100 / 784)
    assert stat(g, "bbox_height")[0] == pytest.approx(20 / 28)
    assert stat(g, "bbox_width")[0] == pytest.approx(5 / 28)
    assert stat(g, "log_aspect")[0] > 1.0  # tall and narrow
    assert stat(g, "centre_col")[0] < 0.5 - 0.05
    assert stat(g, "centre_row")[0] == pytest.approx(13.5 / 27, abs=1e-4)
    assert stat(g, "lr_asymmetry")[0] > 0.1  # off-centre: its mirror image differs
    assert stat(g, "tb_asymmetry")[0] < 0.05  # vertically centred


def test_brightness_contrast_symmetry_and_texture_order_images_as_a_person_would():
    dim, bright = canvas(2), canvas(2)
    dim[:, 0, 6:22, 6:22] = 0.4
    bright[:, 0, 6:22, 6:22] = 0.9
    assert (stat(bright, "brightness") > stat(dim, "brightness")).all()
    assert (stat(bright, "contrast") > stat(dim, "contrast")).all()
    assert (stat(bright, "ink_brightness") > stat(dim, "ink_brightness")).all()
    assert stat(bright, "lr_asymmetry")[0] == pytest.approx(0.0, abs=1e-6)  # a centred square is its mirror
    checker = canvas()
    checker[0, 0, 6:22, 6:22] = 0.9
    checker[0, 0, 6:22:2, 6:22] = 0.3  # stripes: the same area, busier texture
    assert stat(checker, "fine_texture")[0] > stat(bright, "fine_texture")[0]
    assert stat(checker, "edge_energy")[0] > stat(bright, "edge_energy")[0]
    assert stat(checker, "ink_texture")[0] > stat(bright, "ink_texture")[0]


def test_roughness_sees_the_item_s_surface_not_its_outline():
    """ink_roughness: the steps between neighbouring item pixels. A flat item has none however large its
    outline (edge_energy grows with the outline); stripes inside the same item have many."""
    small, large = canvas(), canvas()
    small[0, 0, 10:16, 10:16] = 0.9
    large[0, 0, 2:26, 2:26] = 0.9
    assert stat(small, "ink_roughness")[0] == pytest.approx(0.0, abs=1e-6)
    assert stat(large, "ink_roughness")[0] == pytest.approx(0.0, abs=1e-6)
    assert stat(large, "edge_energy")[0] > stat(small, "edge_energy")[0]
    striped = large.clone()
    striped[0, 0, 2:26:2, 2:26] = 0.5  # stripes of item grey: the same item, a busy surface
    assert stat(striped, "ink_roughness")[0] > 0.15
    assert stat(striped, "ink_area")[0] == pytest.approx(stat(large, "ink_area")[0])


def test_ink_is_judged_against_each_image_s_own_background():
    dark_on_white = canvas(bg=1.0)
    dark_on_white[0, 0, 4:24, 10:15] = 0.0
    light_on_black = canvas()
    light_on_black[0, 0, 4:24, 10:15] = 1.0
    for name in ("ink_area", "bbox_height", "bbox_width", "centre_col"):
        assert stat(dark_on_white, name)[0] == pytest.approx(stat(light_on_black, name)[0], abs=1e-5), name


def test_colour_and_other_sizes_give_the_same_columns():
    rgb = torch.rand(3, 3, 32, 32) * 2 - 1
    out = appearance(rgb)
    assert out.shape == (3, sum(d for _, d in APPEARANCE_BLOCKS))
    assert torch.isfinite(out).all()
    assert layout(rgb).shape == (3, 49)


def test_an_empty_frame_is_finite():
    out = appearance(to_model(canvas(2)))
    assert torch.isfinite(out).all()
    assert stat(canvas(), "ink_area")[0] == 0


def test_kmeans_finds_separated_groups_and_a_collapse_shows_as_one_large_share():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], float)
    x = np.concatenate([c + rng.standard_normal((100, 2)) for c in centres])
    found = kmeans(x, 3, seed=1)
    which = nearest(x, found)
    assert sorted(np.bincount(which).tolist()) == [100, 100, 100]
    kinds, mean, std = cluster_kinds(x, k=3)
    assert kinds.label == "cluster" and len(kinds.names) == 3
    collapsed = nearest((centres[[0]].repeat(50, 0) - mean) / std, kinds.centres)
    assert largest_share(np.bincount(collapsed, minlength=3).tolist()) == 1.0
    assert largest_share([10, 10, 10]) == pytest.approx(1 / 3)
