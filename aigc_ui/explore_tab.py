"""The latent explorer: sliders over a model's latent space, the image following them as they move.

A per-session State holds the latent z the explorer was last pointed at (a seed, a sample, an
upload...). Each slider is the coordinate of z along one axis of the model (VAE dimensions by KL,
GAN principal directions: Studio.axes, orthonormal rows), so the sliders moved since then give
z ← z + Σⱼ (vⱼ − bⱼ·z)·bⱼ, exactly, whatever the number of dimensions.

The slider path is the one a person feels: it does not go through Gradio's event queue. The view
(aigc_ui.web) catches the sliders' input events and calls the `move` server function, one request
in flight, newest values always sent last; `move` decodes and returns the picture inline.

Gradio gives a server function no gr.Request, so `move` cannot ask who is moving. With --auth a
private version must not be decoded for whoever guesses its name: the identified event that puts a
model into the view checks `Studio.check_visible` and puts a grant (an HMAC of the name under a
per-process key) into the view's props; the view sends it with each move, and `move` decodes only
published versions or a name whose grant verifies (one hash, the slider stays as fast).
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass

import gradio as gr
import numpy as np

from aigc.service.studio import Studio, StudioError

from . import breed, taste
from .common import (
    DISLIKE,
    EXPLORE_SCALE,
    LIKE,
    PUBLIC,
    PageContext,
    encode_upload,
    on_page,
    plain,
    random_seed,
    rater_of,
    upscale,
)
from .explore_guards import ClickOrder, grant_for, is_published, may_move
from .gestures import once_per_gesture
from .web import VIEW_CSS, VIEW_JS, VIEW_TEMPLATE, data_uri

MAX_SLIDERS = 32  # beyond this, dimensions keep their values but get no slider
TOP_SLIDERS = 8  # shown open; the rest are folded away


def axis_labels(studio: Studio, name: str) -> list[tuple[str, str]]:
    """(plain label, technical figure) per slider: plain words first, the figure on hover.

    "z[6] · KL 2.51" told a newcomer nothing; "direction 1 (most used)" does, and the KL or variance
    share stays one hover away for those who want it.
    """
    axes = studio.axes(name)
    vae = studio.kind(name) == "vae"
    out = []
    for j in range(min(MAX_SLIDERS, axes.basis.shape[0])):
        most = " (most used)" if vae else " (most varied)"
        figure = (
            f"{axes.names[j]} · KL {axes.importance[j]:.2f}: how much the model uses this latent dimension"
            if vae
            else f"{axes.names[j]} · {axes.importance[j] * 100:.1f}% of the variance of the images' latent codes"
        )
        out.append((f"direction {j + 1}{most if j == 0 else ''}", figure))
    return out


def slider_props(studio: Studio, name: str | None, z: np.ndarray | None) -> list[dict]:
    """Slider settings (value, range, label, visibility) that show z along the model's axes."""
    if name is None or z is None:
        return [dict(visible=False, value=0)] * MAX_SLIDERS
    axes = studio.axes(name)
    basis = axes.basis[:MAX_SLIDERS]
    coords = basis @ np.asarray(z, np.float32)
    labels = axis_labels(studio, name)
    props: list[dict] = []
    for j in range(MAX_SLIDERS):
        if j >= basis.shape[0]:
            props.append(dict(visible=False, value=0))
            continue
        span = max(axes.slider_range, math.ceil(abs(float(coords[j])) * 10) / 10)
        props.append(
            dict(
                visible=True,
                value=round(float(coords[j]), 2),
                minimum=-span,
                maximum=span,
                label=labels[j][0],
            )
        )
    return props


def moved(basis: np.ndarray, z: np.ndarray, changed: dict[int, float]) -> np.ndarray:
    """z with the coordinates in `changed` (slider index → value) set along the orthonormal basis rows."""
    z = np.asarray(z, np.float32).copy()
    for j, value in changed.items():
        if 0 <= j < min(MAX_SLIDERS, basis.shape[0]):
            z += (float(value) - float(basis[j] @ z)) * basis[j]
    return z


def explorer_state(name: str, z, sample_id: int | None = None, note: str = "", original=None) -> dict:
    """What the explorer holds per session: the latent it was pointed at, that point's sample, its rating, and
    the uploaded picture it came from (as the model read it), which Reset shows again."""
    z = np.asarray(z, np.float32).tolist()
    return {
        "model": name,
        "z": z,
        "sample_id": sample_id,
        "note": note,
        "rated": {"model": name, "z": z, "sample_id": sample_id} if sample_id else {},
        "original": None if original is None else np.asarray(original, np.uint8).tolist(),
    }


@dataclass
class Explorer:
    """The explorer's components, and how to point them at a latent (every tab that opens images uses it)."""

    studio: Studio
    model: gr.Dropdown
    state: gr.State
    sliders: list[gr.Slider]
    view: gr.HTML
    status: gr.Markdown
    original: gr.Image | None = None  # an upload as the model read it, beside what the model made of it

    def outputs(self) -> list:
        extra = [] if self.original is None else [self.original]
        return [self.model, self.state, *self.sliders, self.view, self.status, *extra]

    def inputs(self) -> list:
        """What `current` needs: the state and the sliders (handlers take them as state, *values)."""
        return [self.state, *self.sliders]

    def view_update(self, name: str, z: np.ndarray, viewer: str) -> gr.HTML:
        """The view showing z of `name` to `viewer`, with the grant its slider moves need (StudioError if
        `viewer` may not see `name`: no grant, no picture)."""
        self.studio.check_visible(name, viewer)
        return gr.HTML(
            data_uri(self.studio.decode(name, z), EXPLORE_SCALE),
            model=name,
            z=np.asarray(z, np.float32).tolist(),
            token=uuid.uuid4().hex,
            grant=grant_for(name, is_published(self.studio, name)),
            hints=[figure for _, figure in axis_labels(self.studio, name)],
        )

    def open(self, name: str, z, sample_id: int | None = None, note: str = "", *, viewer: str, original=None) -> list:
        """Updates, in `outputs()` order, that load z into the explorer for `viewer` (rater_of the event's
        request: the view's grant is theirs); Reset comes back here. `original`: the uploaded picture z
        encodes, shown beside the view (hidden for any other point)."""
        z = np.asarray(z, np.float32)
        text = f"Exploring `{name}`" + (f" · {note}" if note else "")
        shown = None if original is None else upscale(np.asarray(original, np.uint8), EXPLORE_SCALE // 2)
        return [
            gr.Dropdown(value=name),
            explorer_state(name, z, sample_id, note, original),
            *[gr.update(**p) for p in slider_props(self.studio, name, z)],
            self.view_update(name, z, viewer),
            text,
            *([] if self.original is None else [gr.Image(value=shown, visible=shown is not None)]),
        ]

    def current(self, state: dict | None, values) -> tuple[str, np.ndarray]:
        """(model, z) as the person sees it: the state's point plus the sliders moved since."""
        if not state or not state.get("model"):
            raise StudioError("Pick a model first.")
        name, z = state["model"], np.asarray(state["z"], np.float32)
        basis = self.studio.axes(name).basis
        shown = np.round(basis[:MAX_SLIDERS] @ z, 2)
        changed = {
            j: float(v)
            for j, v in enumerate(values[: len(shown)])
            if v is not None and abs(float(v) - float(shown[j])) > 1e-6
        }
        return name, moved(basis, z, changed)


def _slider_rows(sliders: list[gr.Slider], props: list[dict], start: int, stop: int) -> None:
    for j in range(start, stop, 2):
        with gr.Row():
            for k in (j, j + 1):
                sliders.append(
                    gr.Slider(
                        step=0.01,
                        elem_id=f"ex-slider-{k}",
                        min_width=200,
                        buttons=[],
                        **{"minimum": -3, "maximum": 3, "label": f"axis {k}", **props[k]},
                    )
                )


def build(ctx: PageContext) -> None:
    studio = ctx.studio
    names = [m.name for m in studio.models(PUBLIC)]  # the first render: published versions only
    start_name = next((n for n in names if studio.kind(n) == "vae"), names[0] if names else None)
    start_z = studio.latent_of(start_name, 0) if start_name else None

    def move(request: dict) -> str | None:
        """The slider path (a server function of the view): the state's z plus the moved coordinates → PNG."""
        try:
            name, z = str(request["model"]), np.asarray(request["z"], np.float32)
            if not may_move(studio, name, request.get("grant")):
                return None  # a private version without its grant: as for any bad request, the last picture stays
            changed = {int(j): float(v) for j, v in dict(request.get("changed") or {}).items()}
            return data_uri(studio.decode(name, moved(studio.axes(name).basis, z, changed)), EXPLORE_SCALE)
        except Exception:  # noqa: BLE001 - a bad request keeps the last picture; nothing to show a person
            return None

    with gr.Tab("🧭 Explore", id="explore") as tab:
        gr.Markdown(
            "Move a slider and the image follows. VAE sliders are latent dimensions, the ones the model "
            "uses most first; GAN sliders are the main directions of its latent space. "
            "Upload an image to start from it (VAE), rate what you find, breed it below."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                model = ctx.model_picker(value=start_name, elem_id="ex-model")
                view = gr.HTML(
                    data_uri(studio.decode(start_name, start_z), EXPLORE_SCALE) if start_name else "",
                    html_template=VIEW_TEMPLATE,
                    css_template=VIEW_CSS,
                    js_on_load=VIEW_JS,
                    apply_default_css=False,
                    server_functions=[move],
                    model=start_name,
                    z=start_z.tolist() if start_name else [],
                    token="start",
                    grant="",  # the first render shows a published version: its moves need no grant
                    hints=[figure for _, figure in axis_labels(studio, start_name)] if start_name else [],
                    elem_id="ex-image",
                )
                status = gr.Markdown(f"Exploring `{start_name}` · seed 0" if start_name else "", elem_id="ex-status")
                with gr.Row():
                    reset = gr.Button("↺ Reset", size="sm", elem_id="ex-reset", min_width=0)
                    randomise = gr.Button("🎲 Randomise", size="sm", elem_id="ex-random", min_width=0)
                upload = gr.UploadButton(
                    "📤 Start from your own image (VAE)",
                    file_types=["image"],
                    type="filepath",
                    size="sm",
                    elem_id="ex-upload",
                )
                original = gr.Image(
                    label="Your image, as the model reads it",
                    visible=False,
                    interactive=False,
                    type="pil",
                    format="png",  # pixels stay crisp (a lossy WebP blurs a 28 px picture)
                    height=160,
                    elem_id="ex-original",
                )
            with gr.Column(scale=2, elem_classes=["slider-grid"]):
                sliders: list[gr.Slider] = []
                props = slider_props(studio, start_name, start_z)
                _slider_rows(sliders, props, 0, TOP_SLIDERS)
                with gr.Accordion("More dimensions (less important)", open=False, elem_id="ex-more"):
                    _slider_rows(sliders, props, TOP_SLIDERS, MAX_SLIDERS)
        state = gr.State(explorer_state(start_name, start_z, note="seed 0") if start_name else {})
        explorer = Explorer(studio, model, state, sliders, view, status, original)
        ctx.explorer = explorer
        taste.build(ctx, explorer)
        refresh_partners_on = breed.build(ctx, explorer)

    # ------------------------------------------------------------ where the explorer starts
    outputs = explorer.outputs()

    @on_page
    def pick_model(name, request: gr.Request):
        return explorer.open(name, studio.latent_of(name, 0), note="seed 0", viewer=rater_of(request))

    model.input(once_per_gesture(pick_model, [gr.skip()] * len(outputs)), model, outputs, api_visibility="private")

    @on_page
    def go_random(current, request: gr.Request):
        if not current or not current.get("model"):
            raise StudioError("Pick a model first.")
        seed = random_seed()
        return explorer.open(
            current["model"],
            studio.latent_of(current["model"], seed),
            note=f"random point (seed {seed})",
            viewer=rater_of(request),
        )

    randomise.click(go_random, state, outputs, api_visibility="private")

    @on_page
    def go_back(current, request: gr.Request):
        if not current or not current.get("model"):
            raise StudioError("Nothing to reset to yet.")
        return explorer.open(
            current["model"],
            current["z"],
            current.get("sample_id"),
            current.get("note", ""),
            viewer=rater_of(request),
            original=current.get("original"),
        )

    reset.click(go_back, state, outputs, api_visibility="private")

    @on_page
    def from_upload(path, name, request: gr.Request):
        if not path:
            return gr.skip()
        if os.path.getsize(path) > (most := studio.limits.max_upload_bytes):
            raise StudioError(f"That file is over {most // 2**20} MB; upload a smaller image.")
        rater = rater_of(request)
        models = studio.models(rater)  # the versions this person may see
        if not any(m.name == name and m.kind == "vae" for m in models):
            vae = next((m.name for m in models if m.kind == "vae"), None)
            if vae is None:
                raise StudioError("Uploading needs a VAE (it has an encoder); this studio has none.")
            gr.Info(f"GANs have no encoder: encoding with {vae}.", duration=3)
            name = vae
        encoded, shown = encode_upload(studio, name, path), plain(os.path.basename(path))
        negated = ", negated: its background is light and this model's are dark" if encoded.negated else ""
        note = f"your image ({shown}){negated}"
        return explorer.open(name, encoded.latent, note=note, viewer=rater, original=encoded.pixels)

    upload.upload(from_upload, [upload, model], outputs, api_visibility="private")

    # ------------------------------------------------------------ rating what is explored
    latest = ClickOrder()

    @on_page
    def rate_shown(current, evt: gr.EventData, request: gr.Request):
        """👍/👎 under the view: the view sends what its picture was made from, and that is what is rated."""
        data = evt._data or {}
        score = float(data.get("score", 0))
        if score not in (LIKE, DISLIKE) or not data.get("model"):
            raise StudioError("Pick a model first.")
        if not latest.newest(getattr(request, "session_hash", None), data.get("seq")):
            return gr.skip(), gr.skip()  # a later click of this page was already stored: it has the last word
        name = str(data["model"])
        changed = {int(j): float(v) for j, v in dict(data.get("changed") or {}).items()}
        z = moved(studio.axes(name).basis, np.asarray(data["z"], np.float32), changed)
        last = (current or {}).get("rated") or {}
        rater = rater_of(request)
        if last.get("sample_id") and last.get("model", name) == name and np.allclose(last["z"], z, atol=1e-6):
            sample_id = last["sample_id"]
        else:  # rated before, in another page load? then that rating is the one to change
            earlier = studio.rated_by(name, z[None], rater)[0]
            sample_id = earlier[0] if earlier else None
        if sample_id:
            studio.rate(sample_id, score, rater)  # the same image: changing one's mind updates the rating
        else:
            sample_id = studio.rate_latent(name, z, score, rater)
        word = "👍 liked" if score > 0 else "👎 disliked"
        return (
            {**(current or {}), "rated": {"model": name, "z": z.tolist(), "sample_id": sample_id}},
            f"Exploring `{name}` · {word} (sample #{sample_id})",
        )

    view.click(
        rate_shown,
        state,
        [state, status],
        api_visibility="private",
        show_progress="hidden",
        # 👍 then 👎 in quick succession: "once" (the default) dropped the second click, and "always_last" lost
        # its data; "multiple" keeps every click, one at a time; each finds the sample an earlier click
        # stored (Studio.rated_by reads the database, not the possibly stale state), and ClickOrder lets the
        # person's last click win if the two arrive out of order
        trigger_mode="multiple",
        concurrency_limit=1,
    )

    refresh_partners_on(tab.select)
