"""Fine-tune & compare: ratings → a new version in the background, then parent vs child, measured and blind.

The run itself is a separate process (Studio.start_finetune): this tab only starts it, polls its
status with a timer, and when it is done selects the new version and shows it beside its parent
on the same seeds, with the figures the run measured. The blind A/B section lets a person judge
for themselves; picks are stored and the child's win rate comes with its binomial p-value.
"""

from __future__ import annotations

import gradio as gr

from aigc.service.studio import SEED_RULE, Readiness, Studio  # the page's one door is the studio module

from . import ab
from .common import PageContext, model_choices, on_page, rater_of, upscale
from .progress import progress_html, resting
from .run_figures import advice_markdown, figures_markdown

START = "🎯 Fine-tune from ratings"
NO_TASTE = "🎯 Fine-tune: no taste found in these ratings yet"


LINEAGE = " (of this version and the ones it comes from)"


def ready_text(studio: Studio, name: str | None, rater: str | None, readiness: Readiness | None = None) -> str:
    """The readiness line; `readiness` is `studio.ratings_ready(name, rater)` when the caller already has it."""
    if not name:
        return ""
    r = readiness or studio.ratings_ready(name, rater)
    # a child reads its lineage's ratings: "32 of your ratings" under a child no one rated read as a mistake
    whose = ("your" if rater else "all raters'") + (" ratings" + LINEAGE if studio.parent_of(name) else " ratings")
    if r.ready:
        return f"✅ **{r.ratings}** of {whose} are ready ({r.likes} 👍, {r.dislikes} 👎)."
    return (
        f"⏳ {r.ratings} of {whose} so far ({r.likes} 👍, {r.dislikes} 👎): "
        f"give {r.rule.requirement} in the Generate tab."
    )


def build(ctx: PageContext) -> None:
    studio = ctx.studio
    with gr.Tab("🎯 Fine-tune & compare", id="finetune") as tab:
        gr.Markdown(
            "Turn ratings into a new model version: a reward model learns what was liked, the training data "
            "is reweighted by it, and the model is fine-tuned from where it is. The run trains in the "
            "background; the page stays live."
        )
        with gr.Row():
            model = ctx.model_picker("Model to fine-tune", elem_id="ft-model")
            steps = gr.Slider(
                0,
                5000,
                value=0,
                step=50,
                label="Training steps",
                elem_id="ft-steps",
                info=f"0 = the model kind's default ({studio.default_steps_text()})",
            )
            only_mine = gr.Checkbox(value=False, label="Only my ratings", elem_id="ft-mine")
        ready = gr.Markdown(elem_id="ft-ready")
        advice = gr.Markdown(elem_id="ft-advice")
        with gr.Row():
            start = gr.Button(START, variant="primary", elem_id="ft-start", scale=3)
            cancel = gr.Button("✖ Cancel my run", elem_id="ft-cancel", scale=1)
        progress = gr.HTML(progress_html(), elem_id="ft-progress-box")
        timer = gr.Timer(1.0, active=False)
        shown = gr.State(None)  # the child this page has already selected and shown (once per run)
        # The model whose run this page follows: the picker moves to the child once it is shown, and the bar must
        # keep following the parent's run to its end, not the child's (which has none).
        following = gr.State(None)

        gr.Markdown("### Parent vs child, same seeds")
        with gr.Row():
            child = ctx.model_picker("Fine-tuned version", elem_id="ft-child")
            seed = gr.Number(value=0, label="Seed", info=SEED_RULE, elem_id="ft-seed")
            show_btn = gr.Button("Show", elem_id="ft-show")
        with gr.Row():
            parent_gallery = gr.Gallery(label="Parent", columns=4, height=290, allow_preview=False, elem_id="ft-parent")
            child_gallery = gr.Gallery(label="Child", columns=4, height=290, allow_preview=False, elem_id="ft-childgal")
        figures = gr.Markdown(elem_id="ft-figures")

        ab.build(ctx, child)

    # ---------------------------------------------------------------- handlers

    @on_page
    def refresh_ready(name, rater, viewer):
        """The readiness line, the button enabled only when ready (saying why when it is not), and whether it is;
        while `viewer`'s own run of the model waits or trains, the button says so and rests."""
        if not name:
            return "", gr.Button(value=START, interactive=False), False
        r = studio.ratings_ready(name, rater)
        label = START if r.ready else f"🎯 Fine-tune: needs {', '.join(r.missing)}"
        run = studio.finetune_status(name, viewer)  # the viewer's latest run, else anyone's
        if run.active and getattr(run, "owner", None) == viewer:
            return ready_text(studio, name, rater, r), resting(run.state), r.ready
        # someone else's run (the viewer's own latest may be an old one): the bar follows only one's own, and read
        # "idle" while this model trained
        run = run if run.active else studio.finetune_status(name, None)
        doing = "training" if run.state == "running" else "waiting in line"
        busy = f"\n\n⏳ Someone else's run of `{name}` is {doing} now; yours would wait in line." if run.active else ""
        return ready_text(studio, name, rater, r) + busy, gr.Button(value=label, interactive=r.ready), r.ready

    @on_page
    def refresh_advice(name, rater):
        """How sure a run from these ratings would be (a reward fit: seconds, cached until the ratings change), and
        the button resting while they show no taste: a run would refuse them (the advice says why)."""
        advice = studio.ratings_advice(name, rater)
        button = gr.Button(value=NO_TASTE, interactive=False) if advice.no_taste else gr.skip()
        return advice_markdown(advice.as_dict()), button

    @on_page
    def begin(name, n_steps, mine, request: gr.Request):
        who = rater_of(request)
        status = studio.start_finetune(name, steps=n_steps, rater=who if mine else None, requester=who)
        gr.Info(f"Fine-tuning {name} in the background…")
        return progress_html(status), gr.Timer(active=True), name, resting(status.state)

    @on_page
    def stop(name, request: gr.Request):
        status = studio.cancel_finetune(name, rater_of(request))
        gr.Info(f"Cancelled the fine-tuning run of {name}.")
        return progress_html(status), gr.Timer(active=True), name

    def poll(name, already_shown, picked, mine, request: gr.Request):
        """Follow the run; the moment its child is registered (not when the process exits), select and show it.

        The child is shown once (`already_shown`); the timer keeps ticking until the run is no longer active, so
        the bar ends on the run's real last state ("succeeded") rather than stopping at "published".
        """
        if not name:  # nothing followed yet (a tick before any run started)
            return progress_html(), gr.Timer(active=False), *(gr.skip(),) * 7
        status = studio.finetune_status(name, rater_of(request))
        bar = progress_html(status)
        # the run is over: the button says again what the picked model's ratings allow (a new pick refreshes it too)
        whose = studio.roles.finetune_rater(rater_of(request) if mine else None, rater_of(request))
        after = None if status.active else refresh_ready(picked, whose, rater_of(request))
        button = after[1] if isinstance(after, tuple) else gr.skip()
        skip = (*(gr.skip(),) * 6, button)
        child_ready = bool(status.child) and status.state in ("running", "succeeded")
        if not child_ready or status.child == already_shown:  # no child yet, or someone else's (not theirs to see)
            if status.state == "failed":
                gr.Warning(f"Fine-tuning failed: {status.message}")
            return bar, gr.Timer(active=status.active), *skip
        assert status.child is not None  # child_ready says it is set
        parents, children, metrics = studio.compare(status.child, n=8, seed=0, viewer=rater_of(request))
        gr.Info(f"New version {status.child} is ready.")
        choices = model_choices(studio, None, studio.models(rater_of(request)))  # labelled as every picker
        return (
            bar,
            gr.Timer(active=status.active),
            gr.Dropdown(choices=choices, value=status.child),
            [upscale(i) for i in parents],
            [upscale(i) for i in children],
            figures_markdown(metrics),
            gr.Dropdown(choices=choices, value=status.child),
            status.child,
            button,
        )

    @on_page
    def compare(name, seed_value, request: gr.Request):
        seed = studio.limits.seed(seed_value)
        parents, children, metrics = studio.compare(name, n=8, seed=seed, viewer=rater_of(request))
        return [upscale(i) for i in parents], [upscale(i) for i in children], figures_markdown(metrics)

    # ---------------------------------------------------------------- wiring

    def refresh(name, mine, request: gr.Request):
        """The readiness line at once, then the advice (a reward fit: seconds), from one generator, so that a later
        trigger waits for both: a slow advice for all raters could otherwise land after the one for "only mine"."""
        # with logins a visitor's run reads only their own ratings: the line and the advice count just those
        rater = studio.roles.finetune_rater(rater_of(request) if mine else None, rater_of(request))
        answer = refresh_ready(name, rater, rater_of(request))
        if not isinstance(answer, tuple):  # the problem is already a warning toast; the page keeps what it shows
            yield gr.skip(), gr.skip(), gr.skip()
            return
        line, button, is_ready = answer
        yield line, button, gr.skip()
        advised = refresh_advice(name, rater) if is_ready else ("", gr.skip())
        text, rest = advised if isinstance(advised, tuple) else (gr.skip(), gr.skip())  # a warning toast said why
        yield gr.skip(), rest, text

    # One listener for the three triggers, "always_last": separate listeners run side by side (the queue's default
    # concurrency is 4), so a tab switch answered after the "Only my ratings" tick would overwrite its line.
    gr.on(
        [model.change, only_mine.change, tab.select],
        refresh,
        [model, only_mine],
        [ready, start, advice],
        api_visibility="private",
        show_progress="hidden",
        trigger_mode="always_last",
    )
    start.click(begin, [model, steps, only_mine], [progress, timer, following, start], api_visibility="private")
    cancel.click(stop, model, [progress, timer, following], api_visibility="private")
    timer.tick(
        poll,
        [following, shown, model, only_mine],
        [progress, timer, child, parent_gallery, child_gallery, figures, model, shown, start],
        api_visibility="private",
        show_progress="hidden",
    )
    show_btn.click(compare, [child, seed], [parent_gallery, child_gallery, figures], api_visibility="private")

    # A page opened mid-run (a reload, a new tab, another browser with the same login) finds the person's own run:
    # before, it showed "idle" on the default model, and the run's child was never shown on that page.
    def resume(request: gr.Request):
        """On load: this person's waiting or running run is selected and followed; and "Fine-tuned version" picks
        the newest fine-tune they may see (a reload after a run found it on a shipped model: "no parent")."""
        viewer = rater_of(request)
        try:
            runs, models = studio.runs_of(viewer), studio.models(viewer)
        except Exception:  # noqa: BLE001 - the page opens as it would without a run; never a toast on load
            return (gr.skip(),) * 5
        children = [m for m in models if m.parent]
        choices = model_choices(studio, None, models)  # a fine-tune made since start-up is not in the built ones
        newest = (
            gr.Dropdown(choices=choices, value=max(children, key=lambda m: m.version_id).name)
            if children
            else gr.skip()
        )
        if not runs:
            return (*(gr.skip(),) * 4, newest)
        status = runs[0]
        return (
            gr.Dropdown(choices=choices, value=status.model),
            progress_html(status),
            gr.Timer(active=True),
            status.model,
            newest,
        )

    def attach(name, request: gr.Request):
        """A model picked while this person's own run of it waits or trains: the bar follows that run."""
        viewer = rater_of(request)
        try:
            status = studio.finetune_status(name, viewer) if name else None
        except Exception:  # noqa: BLE001 - an unknown or hidden model: the readiness line says so
            status = None
        if status is None or not status.active or getattr(status, "owner", None) != viewer:
            return (gr.skip(),) * 3  # never detach: the bar keeps following a run to its end (poll, above)
        return progress_html(status), gr.Timer(active=True), name

    ctx.on_load(resume, [model, progress, timer, following, child])
    model.change(attach, model, [progress, timer, following], api_visibility="private", show_progress="hidden")
