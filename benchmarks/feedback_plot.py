"""The feedback benchmark's figure: liked rate per round, or per rating count (one panel per model).

Its own file so the figure can be redrawn from saved JSON lines (`feedback_loop.py --replot`) without the
benchmark's long runs, and so `feedback_loop.py` stays one idea: rate, fine-tune, judge.
"""

from __future__ import annotations

from pathlib import Path


def plot(results: list[dict], path: Path) -> None:
    """Rounds on the x axis when there were several; else the ratings → liked-rate curves, one panel per model
    (🎯 runs, the images the page chose to rate, as stars on their taste's curve)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if max(r["rounds"] for r in results) > 1:
        fig, ax = plt.subplots(figsize=(7, 4))
        for res in results:
            xs = [h["round"] for h in res["history"]]
            ax.plot(xs, [h["liked_rate"] for h in res["history"]], marker="o", label=f"{res['model']}: {res['liked']}")
        ax.set_xlabel(f"round (rate {results[0]['ratings_used'] // max(1, results[0]['rounds'])}, fine-tune)")
        axes = [ax]
    else:
        models = sorted({r["model"] for r in results})
        fig, grid = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4), sharey=True, squeeze=False)
        axes = list(grid[0])
        for ax, model in zip(axes, models):
            _curves(ax, [r for r in results if r["model"] == model])
            ax.set_title(model, fontsize=9)
            ax.set_xlabel("ratings (one fine-tune at default settings)")
    axes[0].set_ylabel("liked rate (the rater's true taste)")
    for ax in axes:
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _curves(ax, results: list[dict]) -> None:
    curves: dict[str, set[tuple[int, float]]] = {}
    picked: dict[str, set[tuple[int, float]]] = {}
    for res in results:
        curves.setdefault(res["taste"], set()).add((0, res["liked_rate_before"]))
        point = (res["ratings_used"], res["liked_rate_after"])
        (picked.setdefault(res["taste"], set()) if res.get("to_rate") else curves[res["taste"]]).add(point)
    for taste, points in curves.items():
        xs, ys = zip(*sorted(points))
        (line,) = ax.plot(xs, ys, marker="o", label=taste)
        if taste in picked:
            px, py = zip(*picked[taste])
            ax.plot(px, py, marker="*", markersize=12, linestyle="none", color=line.get_color())
    if picked:
        ax.plot([], [], marker="*", markersize=12, linestyle="none", color="grey", label="images to rate next")
    ax.axhline(0.9, color="grey", linewidth=0.8, linestyle=":")
