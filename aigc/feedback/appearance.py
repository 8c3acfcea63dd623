"""What an image looks like, as numbers a reward model can read: the part of φ that sees appearance.

The shipped classifier's embedding was trained to tell classes apart, so a taste for "bright",
"fills the frame", "tall and narrow", "busy texture" or "symmetric" is nearly invisible in it
(issue 13: an appearance taste reached 0.65 liked where class tastes reach 0.9). These measurements
are cheap (a few ms per thousand 28×28 images), need no training, and work for any image folder, so
they are also the reward model's view of a user's own data where no classifier exists.

Two blocks, each one column per measurement:
- `stats`: global properties a person can name (brightness, contrast, ink area, bounding box,
  proportions, edge energy, texture, symmetry, centre of mass, spread, and the roughness of the item's
  own surface: the steps between neighbouring ink pixels, which an outline does not add to, so a
  busy pattern and a large plain item are told apart);
- `layout`: the image average-pooled to 7×7, a coarse picture of where the mass is (a multi-scale
  view between the pixel statistics and the classifier's learned features).

"Ink" is what differs from the background, judged per image from its border (Fashion-MNIST is light
on black, a scanned folder may be dark on white): |g − median(border)| > 0.2, with g in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

STAT_NAMES: tuple[str, ...] = (
    "brightness",
    "contrast",
    "ink_area",
    "ink_brightness",
    "ink_texture",
    "bbox_height",
    "bbox_width",
    "log_aspect",
    "edge_energy",
    "fine_texture",
    "lr_asymmetry",
    "tb_asymmetry",
    "centre_row",
    "centre_col",
    "spread_row",
    "spread_col",
    "bright_share",
    "ink_roughness",
)
LAYOUT_SIZE = 7
INK_THRESHOLD = 0.2


def grey(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] → (N, H, W) luminance in [0, 1] (channel mean: the same for any C)."""
    return (x.float().mean(dim=1) + 1) / 2


def background(g: torch.Tensor) -> torch.Tensor:
    """(N,) per-image background level: the median of the one-pixel border."""
    border = torch.cat([g[:, 0, :], g[:, -1, :], g[:, 1:-1, 0], g[:, 1:-1, -1]], dim=1)
    return border.median(dim=1).values


def _extent(mask: torch.Tensor) -> torch.Tensor:
    """(N, L) bool → (N,) share of the axis between the first and last True (0 when none)."""
    n, length = mask.shape
    idx = torch.arange(length, device=mask.device).expand(n, length)
    first = torch.where(mask, idx, length).min(dim=1).values
    last = torch.where(mask, idx, -1).max(dim=1).values
    return ((last - first + 1).clamp(min=0)).float() / length


def pixel_stats(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] → (N, len(STAT_NAMES)) measurements, in STAT_NAMES order."""
    g = grey(x)
    n, h, w = g.shape
    flat = g.reshape(n, -1)
    contrast_map = (g - background(g)[:, None, None]).abs()
    ink = contrast_map > INK_THRESHOLD
    ink_f = ink.float()
    ink_n = ink_f.sum(dim=(1, 2)).clamp(min=1)
    ink_mean = (g * ink_f).sum(dim=(1, 2)) / ink_n
    ink_var = (((g - ink_mean[:, None, None]) ** 2) * ink_f).sum(dim=(1, 2)) / ink_n
    height, width = _extent(ink.any(dim=2)), _extent(ink.any(dim=1))
    dy, dx = (g[:, 1:, :] - g[:, :-1, :]).abs(), (g[:, :, 1:] - g[:, :, :-1]).abs()
    inside_x, inside_y = (ink[:, :, 1:] & ink[:, :, :-1]).float(), (ink[:, 1:, :] & ink[:, :-1, :]).float()
    steps_inside = (dx * inside_x).sum(dim=(1, 2)) + (dy * inside_y).sum(dim=(1, 2))
    blur = F.avg_pool2d(g[:, None], 3, stride=1, padding=1, count_include_pad=False)[:, 0]
    mass = contrast_map / contrast_map.sum(dim=(1, 2), keepdim=True).clamp(min=1e-6)
    rows = torch.linspace(0, 1, h, device=g.device)[None, :, None]
    cols = torch.linspace(0, 1, w, device=g.device)[None, None, :]
    centre_row, centre_col = (mass * rows).sum(dim=(1, 2)), (mass * cols).sum(dim=(1, 2))
    spread_row = ((mass * (rows - centre_row[:, None, None]) ** 2).sum(dim=(1, 2))).sqrt()
    spread_col = ((mass * (cols - centre_col[:, None, None]) ** 2).sum(dim=(1, 2))).sqrt()
    columns = [
        flat.mean(dim=1),
        flat.std(dim=1),
        ink_f.mean(dim=(1, 2)),
        ink_mean,
        ink_var.sqrt(),
        height,
        width,
        torch.log((height + 1 / h) / (width + 1 / w)),
        dy.mean(dim=(1, 2)) + dx.mean(dim=(1, 2)),
        (g - blur).abs().mean(dim=(1, 2)),
        (g - g.flip(2)).abs().mean(dim=(1, 2)),
        (g - g.flip(1)).abs().mean(dim=(1, 2)),
        centre_row,
        centre_col,
        spread_row,
        spread_col,
        (flat > 0.75).float().mean(dim=1),
        steps_inside / (inside_x.sum(dim=(1, 2)) + inside_y.sum(dim=(1, 2))).clamp(min=1),
    ]
    return torch.stack(columns, dim=1)


def layout(x: torch.Tensor, size: int = LAYOUT_SIZE) -> torch.Tensor:
    """(N, C, H, W) → (N, size²): the grey image average-pooled to size × size."""
    return F.adaptive_avg_pool2d(grey(x)[:, None], size).flatten(1)


def appearance(x: torch.Tensor) -> torch.Tensor:
    """The `stats` and `layout` blocks side by side: (N, len(STAT_NAMES) + LAYOUT_SIZE²)."""
    return torch.cat([pixel_stats(x), layout(x)], dim=1)


APPEARANCE_BLOCKS: tuple[tuple[str, int], ...] = (("stats", len(STAT_NAMES)), ("layout", LAYOUT_SIZE**2))
