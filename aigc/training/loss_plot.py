"""The loss-curve PNG a training run writes at its end, from its JSONL log.

Apart from the loop: drawing is not training, and matplotlib is imported only when a run plots.
"""

from __future__ import annotations

import json
from pathlib import Path


def plot_losses(log_path: Path, out_png: Path) -> None:
    """Loss curves from the JSONL log; matplotlib's Agg backend, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    if not rows:
        return
    keys = [k for k in rows[-1] if k.startswith("loss")]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in keys:
        ax.plot([r["step"] for r in rows if key in r], [r[key] for r in rows if key in r], label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
