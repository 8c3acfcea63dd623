"""Simulated raters beyond class labels (issue 13): properties, thresholds, mixtures and careless thumbs."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.evaluation.raters import (
    COIN_RATERS,
    FRESH_TASTES,
    LIKED_RATE_TARGET,
    PROPERTIES,
    TASTES,
    TasteRater,
    grey,
    named_tastes,
)


def pictures(n: int = 400, seed: int = 0) -> np.ndarray:
    """(n, 28, 28, 1) uint8: one box each, of random size, proportions and brightness, some striped."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28, 1), np.uint8)
    for img in out:
        h, w = rng.integers(4, 27, size=2)
        top, left = rng.integers(0, 28 - h + 1), rng.integers(0, 28 - w + 1)
        img[top : top + h, left : left + w] = rng.integers(60, 256)
        if rng.random() < 0.5:
            img[top : top + h : 2, left : left + w] //= 3
    return out


def box(h: int, w: int, level: int = 200, top: int = 2) -> np.ndarray:
    img = np.zeros((1, 28, 28, 1), np.uint8)
    img[0, top : top + h, 14 - w // 2 : 14 - w // 2 + w] = level
    return img


def value(name: str, img: np.ndarray) -> float:
    return float(PROPERTIES[name](grey(img))[0])


def test_each_property_means_what_its_name_says():
    assert value("fill", box(20, 20)) > value("fill", box(6, 6))
    assert value("item_brightness", box(10, 10, 250)) > value("item_brightness", box(10, 10, 90))
    assert value("width_over_height", box(4, 20)) > 3 > value("width_over_height", box(20, 4))
    assert value("top_heaviness", box(8, 8, top=1)) > 0.99 and value("top_heaviness", box(8, 8, top=18)) < 0.01
    striped = box(12, 12)
    striped[0, 2:14:2] //= 3
    assert value("texture", striped) == pytest.approx(0.0)  # stripes run along rows: no horizontal steps
    assert value("item_contrast", striped) > value("item_contrast", box(12, 12)) + 0.1
    assert value("mirror_difference", box(12, 12)) == pytest.approx(0.0)  # centred: its own mirror image
    lopsided = box(12, 12)
    lopsided[0, 2:14, 8:14] = 60  # its left half darker than its right
    assert value("mirror_difference", lopsided) > 0.2


def test_a_calibrated_attribute_likes_its_share_of_real_images_and_the_opposite_direction_the_rest():
    real = pictures()
    above = TasteRater("big", "attribute", prop="fill", liked_share=0.3).calibrate(real)
    below = TasteRater("small", "attribute", prop="fill", liked_share=0.3, above=False).calibrate(real)
    assert above.liked_rate(real) == pytest.approx(0.3, abs=0.02)
    assert below.liked_rate(real) == pytest.approx(0.3, abs=0.02)
    assert not (above.likes(real) & below.likes(real)).any()
    with pytest.raises(ValueError, match="calibrate"):
        TasteRater("raw", "attribute", prop="fill").likes(real)


def test_a_mixed_taste_needs_the_class_and_the_attribute():
    real = pictures()
    classes = np.arange(len(real)) % 10  # stand-in judge classes
    mix = TasteRater("mix", "mixed", classes=(1, 2), prop="fill", liked_share=0.5).calibrate(real, classes)
    liked = mix.likes(real, classes)
    assert np.isin(classes[liked], (1, 2)).all()
    assert liked[np.isin(classes, (1, 2))].mean() == pytest.approx(0.5, abs=0.08)  # half of the class set


def test_a_careless_rater_flips_a_fixed_share_always_the_same_pictures_and_is_judged_by_its_true_taste():
    real = pictures(2000)
    careful = TasteRater("bright", "attribute", prop="item_brightness").calibrate(real)
    careless = TasteRater("bright-careless", "careless", prop="item_brightness", flip=0.15).calibrate(real)
    wrong = careless.rate(real) != careful.rate(real)
    assert wrong.mean() == pytest.approx(0.15, abs=0.025)
    assert (careless.rate(real) == careless.rate(real.copy())).all()  # the same picture, the same thumb
    assert careless.liked_rate(real) == careful.liked_rate(real)  # what they meant


def test_the_registry_has_held_out_tastes_of_every_kind_and_a_target_for_each():
    kinds_held_out = {r.kind for r in TASTES.values() if r.held_out}
    assert {"attribute", "mixed", "careless"} <= kinds_held_out
    assert {r.kind for r in TASTES.values() if not r.held_out} >= {"class", "attribute", "mixed", "careless"}
    assert all(r.kind in LIKED_RATE_TARGET for r in TASTES.values())
    assert all(0.1 <= r.flip <= 0.2 for r in TASTES.values() if r.kind == "careless")


def test_the_fresh_group_is_apart_from_the_table_and_new_in_what_it_likes():
    """Written after the defaults were settled: none of its names or (property, direction) pairs is in TASTES,
    and every kind a rater can be but a class set (the benchmark's --prefs gives those) is there."""
    assert not set(FRESH_TASTES) & set(TASTES)
    assert all(r.held_out and r.kind in LIKED_RATE_TARGET for r in FRESH_TASTES.values())
    assert {r.kind for r in FRESH_TASTES.values()} == {"attribute", "mixed", "careless"}
    tuned = {(r.prop, r.above) for r in TASTES.values() if r.prop}
    assert all((r.prop, r.above) not in tuned for r in FRESH_TASTES.values())
    real = pictures(1000, 5)
    for rater in FRESH_TASTES.values():
        if not rater.classes:
            assert rater.calibrate(real).liked_rate(real) == pytest.approx(rater.liked_share, abs=0.03)


def test_a_blind_pick_prefers_the_liked_picture_ties_a_same_sided_pair_and_a_careless_rater_errs_as_often():
    real = pictures(2000, 3)
    rater = TasteRater("big", "attribute", prop="fill", liked_share=0.5).calibrate(real)
    left, right = real[0::2], real[1::2]
    a, b = rater.likes(left), rater.likes(right)
    picks = rater.pick(left, right)
    assert (picks[a & ~b] == 1).all() and (picks[~a & b] == -1).all() and (picks[a == b] == 0).all()
    careless = TasteRater("big-careless", "careless", prop="fill", liked_share=0.5, flip=0.15).calibrate(real)
    decided = a != b
    wrong = (careless.pick(left, right)[decided] != picks[decided]).mean()
    assert wrong == pytest.approx(0.15, abs=0.05)
    assert (careless.pick(left, right)[~decided] == 0).all()  # a tie stays a tie, flipped or not


def test_the_benchmark_runs_the_fresh_group_only_when_asked():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import feedback_loop

    def names(spec: str) -> list[str]:
        return [r.name for r in feedback_loop.tastes(spec, "0,3,9")]

    assert names("all") == ["classes-039", *TASTES]  # the table's tastes: unchanged by the fresh group
    assert names("fresh") == ["classes-039", *FRESH_TASTES]
    assert names("symmetric,bright") == ["classes-039", "symmetric", "bright"]
    with pytest.raises(ValueError, match="unknown taste 'brigth'; known: all, tuning"):
        names("brigth")


def test_a_coin_raters_thumbs_say_nothing_of_its_classes():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4000, 28, 28), dtype=np.uint8)
    classes = np.repeat(np.arange(10), 400)
    for rater in named_tastes(list(COIN_RATERS)):
        up = rater.likes(images, classes) ^ rater.flipped(images)
        inside = np.isin(classes, rater.classes)
        assert abs(up[inside].mean() - 0.5) < 0.05 and abs(up[~inside].mean() - 0.5) < 0.05
