"""Resolution ladders shared by the generator/decoder and discriminator/encoder stacks."""

from __future__ import annotations

from torch import nn

SUPPORTED_SIZES = (28, 32, 64)


def ladder(image_size: int) -> tuple[int, int]:
    """(base resolution, number of ×2 steps): 28 = 7·2², 32 = 4·2³, 64 = 4·2⁴."""
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {image_size}")
    base = 7 if image_size == 28 else 4
    steps = {28: 2, 32: 3, 64: 4}[image_size]
    return base, steps


def widths(width: int, steps: int) -> list[int]:
    """Channels from the lowest resolution up: width·2^(steps-1), …, width."""
    return [width * 2 ** (steps - 1 - i) for i in range(steps)]


def refinements(channels: int, count: int, bias: bool = True) -> list[nn.Module]:
    """`count` × (3×3 convolution, BatchNorm, ReLU) at one resolution: room to draw straps, seams and openings
    after an upsampling (the GAN's `g_extra_convs`, the VAE's `d_extra_convs`)."""
    layers: list[nn.Module] = []
    for _ in range(count):
        layers += [nn.Conv2d(channels, channels, 3, 1, 1, bias=bias), nn.BatchNorm2d(channels), nn.ReLU(True)]
    return layers
