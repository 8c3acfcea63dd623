"""An upload meets the model's conventions before it is encoded: a light background negated for a model of dark
ones (Fashion-MNIST's product photos were negated), a transparent cut-out put on white, as a product photo is."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aigc.data.datasets import load_upload
from aigc.data.images import border_level, match_background


def garment(background: int, item: int) -> np.ndarray:
    """A 28 × 28 grey picture: an item block in the middle on a plain background."""
    image = np.full((28, 28, 1), background, np.uint8)
    image[6:22, 8:20] = item
    return image


def test_the_border_is_the_background():
    assert border_level(garment(0, 255)) == 0.0 and border_level(garment(255, 0)) == 255.0
    assert border_level(np.stack([garment(0, 255), garment(200, 0)])) == pytest.approx(100.0)


@pytest.mark.parametrize(
    "background,model_background,negated",
    [
        (250, 5.0, True),  # a photo on a white table, for a model of dark backgrounds (Fashion-MNIST's)
        (10, 5.0, False),  # already dark
        (250, 240.0, False),  # a model trained on light backgrounds (a user's own folder) keeps it
        (5, 240.0, True),
        (128, 5.0, False),  # grey: neither side; left as it is
    ],
)
def test_a_background_opposite_to_the_models_is_negated(background, model_background, negated):
    picture = garment(background, 90)
    out, did = match_background(picture, model_background)
    assert did is negated
    np.testing.assert_array_equal(out, 255 - picture if negated else picture)
    assert out.dtype == np.uint8


def test_a_transparent_cut_out_is_put_on_white(tmp_path):
    rgba = np.zeros((56, 56, 4), np.uint8)  # transparent, with black hidden under the alpha
    rgba[12:44, 16:40] = (100, 100, 100, 255)  # the item, opaque grey
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut-out.png")
    loaded = load_upload(tmp_path / "cut-out.png", 28, 1)
    assert border_level(loaded) == pytest.approx(255.0, abs=1)
    assert abs(int(loaded[14, 14, 0]) - 100) <= 2
