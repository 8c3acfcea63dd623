"""The studio encodes an upload the way its model's pictures look: negated when its background is the opposite."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_a_light_background_upload_is_encoded_as_its_negative(studio, tmp_path):
    background = studio.latents.background("syn-vae")  # the border of its own samples
    studio.latents._backgrounds["syn-vae"] = 0.0  # the tiny model's, pinned: dark, as Fashion-MNIST's
    try:
        picture = np.full((28, 28), 250, np.uint8)
        picture[4:10] = 20  # a dark band on a light page
        Image.fromarray(picture).save(tmp_path / "light.png")
        Image.fromarray(255 - picture).save(tmp_path / "dark.png")
        light, dark = studio.encode("syn-vae", tmp_path / "light.png"), studio.encode("syn-vae", tmp_path / "dark.png")
        assert light.negated and not dark.negated
        np.testing.assert_allclose(light.latent, dark.latent, atol=1e-6)
    finally:
        studio.latents._backgrounds["syn-vae"] = background
    assert 0.0 <= background <= 255.0
