"""Feedback & models: per-version counts and like rates, ratings over time, the lineage and model cards."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from aigc.service.studio import ModelSummary, Studio, StudioError

from .common import PageContext, model_label, on_page, privacy_words, rater_of
from .gestures import once_per_gesture

STATS_COLUMNS = ["version", "kind", "parent", "samples", "ratings", "👍", "👎", "like rate"]


def stats_frame(studio: Studio, models: list[ModelSummary]) -> pd.DataFrame:
    info = {m.version_id: m for m in models}
    rows = []
    for s in studio.stats():
        m = info.get(s.version_id)
        if m is None and studio.roles.enforced:  # someone else's unpublished version: not this viewer's to see
            continue
        rows.append(
            [
                s.name if m else studio.retired_label(s.version_id) or s.name,  # a retired version says so
                m.kind.upper() if m else "?",
                (m.parent if m else None) or "—",
                s.n_samples,
                s.n_ratings,
                s.n_likes,
                s.n_dislikes,
                "—" if s.like_rate is None else f"{s.like_rate:.0%}",
            ]
        )
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


NO_RATINGS = (
    "_No ratings yet: rate images in 🎨 Generate & rate, and each version's like rate and its ratings over time "
    "appear here._"
)


def like_rate_frame(studio: Studio, models: list[ModelSummary] | None = None) -> pd.DataFrame:
    seen = {m.version_id for m in models} if models is not None and studio.roles.enforced else None
    # the count is in the bar's name: one rating's 100% must not look as sure as 45 ratings' 36%
    rows = [
        {
            "version": f"{s.name} ({s.n_ratings} rating{'s' if s.n_ratings != 1 else ''})",
            "like rate": s.like_rate,
            "ratings": s.n_ratings,
        }
        for s in studio.stats()
        if s.n_ratings and (seen is None or s.version_id in seen)
    ]
    return pd.DataFrame(rows, columns=["version", "like rate", "ratings"])


def ratings_frame(studio: Studio, models: list[ModelSummary]) -> pd.DataFrame:
    """Cumulative ratings per version over time (one point per rating)."""
    names = {m.version_id: m.name for m in models}
    points = studio.ratings_over_time()
    if studio.roles.enforced:  # only the versions this viewer may see
        points = [p for p in points if p.version_id in names]
    if not points:
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns]"), "ratings": [], "version": []})
    frame = pd.DataFrame(
        {"time": [p.at for p in points], "version": [names.get(p.version_id, str(p.version_id)) for p in points]}
    )
    frame["ratings"] = frame.groupby("version").cumcount() + 1
    return frame


def lineage_markdown(models: list[ModelSummary]) -> str:
    """The version tree: shipped models at the root, fine-tunes under their parents."""
    children: dict[str | None, list[ModelSummary]] = {}
    known = {m.name for m in models}
    for m in models:
        children.setdefault(m.parent if m.parent in known else None, []).append(m)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for m in children.get(parent, []):
            origin = (f" · fine-tuned from `{m.parent}`" if m.parent else "") + privacy_words(m).replace(",", " ·")
            lines.append(
                f"{'  ' * depth}- **{m.name}** ({m.kind.upper()}, {m.latent_dim}-d latent, "
                f"{m.image_shape[0]}×{m.image_shape[1]}){origin}"
            )
            walk(m.name, depth + 1)

    walk(None, 0)
    return "\n".join(lines) or "_No models yet._"


def health_markdown(problems) -> str:
    """Checkpoint files the studio does not serve: which, what is wrong, what to do (empty when all is well)."""
    if not problems:
        return ""
    lines = ["### ⚠️ Checkpoints not served"]
    for bad in problems:
        instead = f" Serving `{bad.replaced_by}` instead." if bad.replaced_by else " This version is unavailable."
        lines.append(f"- **{bad.name}** — `{bad.path}`: {bad.problem}. {bad.advice}.{instead}")
    return "\n".join(lines)


def build(ctx: PageContext) -> None:
    studio = ctx.studio
    with gr.Tab("📊 Feedback & models", id="models") as tab:
        gr.Markdown(
            "How each version is received, and where it came from. Fine-tuned versions appear here with their parent."
        )
        refresh = gr.Button("↻ Refresh", size="sm", elem_id="models-refresh")
        health = gr.Markdown(elem_id="models-health")
        table = gr.Dataframe(headers=STATS_COLUMNS, interactive=False, label="Per version", elem_id="models-stats")
        no_ratings = gr.Markdown(NO_RATINGS, visible=False, elem_id="models-no-ratings")
        with gr.Row():
            likes = gr.BarPlot(
                x="version",
                y="like rate",
                title="Like rate per version",
                y_lim=[0, 1],
                y_axis_format=".0%",
                tooltip=["version", "like rate", "ratings"],
                elem_id="models-likes",
            )
            over_time = gr.LinePlot(
                x="time", y="ratings", color="version", title="Ratings over time (cumulative)", elem_id="models-time"
            )
        with gr.Row():
            with gr.Column(scale=1):
                gr.Markdown("### Versions and lineage")
                tree = gr.Markdown(elem_id="models-tree")
            with gr.Column(scale=2):
                card_of = gr.Dropdown(label="Model card", choices=[], elem_id="models-card-pick")
                publish = gr.Button(visible=False, size="sm", elem_id="models-publish")  # admins, a visitor's version
                card = gr.Markdown(elem_id="models-card")

    @on_page
    def load(selected, request: gr.Request):
        models = studio.models(rater_of(request))
        names = [m.name for m in models]
        chosen = selected if selected in names else (names[0] if names else None)
        rates, over = like_rate_frame(studio, models), ratings_frame(studio, models)
        rated = not rates.empty  # empty plots drew an empty frame and a legend of "-Infinity" over "Infinity"
        return (
            stats_frame(studio, models),
            gr.BarPlot(value=rates, visible=rated),
            gr.LinePlot(value=over, visible=rated),
            gr.Markdown(visible=not rated),
            lineage_markdown(models),
            gr.Dropdown(choices=[(model_label(m), m.name) for m in models], value=chosen),
            card_text(models, chosen),
            health_markdown(studio.checkpoint_problems()),
            publish_button(models, chosen, rater_of(request)),
        )

    def publish_button(models: list[ModelSummary], name: str | None, viewer: str) -> gr.Button:
        """An admin's publish (or take back) button for a visitor's fine-tune; hidden for everyone else."""
        m = next((m for m in models if m.name == name), None)
        if m is None or m.owner is None or not (studio.roles.enforced and studio.roles.is_admin(viewer)):
            return gr.Button(visible=False)
        label = "🔒 Take back to its owner and admins" if m.published else "🌐 Publish to every visitor"
        return gr.Button(label, visible=True)

    @on_page
    def toggle_published(name, request: gr.Request):
        viewer = rater_of(request)
        m = next((m for m in studio.models(viewer) if m.name == name), None)
        if m is None:
            raise StudioError("Pick a model first.")
        version = studio.publish(name, viewer, not m.published)
        gr.Info(f"{name} is {'now shown to every visitor' if version.published else 'back to its owner and admins'}.")
        return load(name, request)

    def card_text(models: list[ModelSummary], name: str | None) -> str:
        m = next((m for m in models if m.name == name), None)
        if m is None:
            return ""
        return m.card or f"_`{name}` has no model card._"

    @on_page
    def show_card(name, request: gr.Request):
        models = studio.models(rater_of(request))
        return card_text(models, name), publish_button(models, name, rater_of(request))

    outputs = [table, likes, over_time, no_ratings, tree, card_of, card, health, publish]
    gr.on([tab.select, refresh.click], load, card_of, outputs, api_visibility="private", trigger_mode="always_last")
    card_of.input(once_per_gesture(show_card, [gr.skip()] * 2), card_of, [card, publish], api_visibility="private")
    publish.click(toggle_published, card_of, outputs, api_visibility="private")
