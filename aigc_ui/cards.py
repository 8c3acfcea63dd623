"""The card grid: rated images everywhere on the page (Generate, children, interpolation frames, History).

Why one hand-made gr.HTML: see aigc_ui.web (one output instead of ~70). Why keyed by sample id: a card
carries the id of the sample it was rendered with, in the same item as its picture, and a click sends
that id. Whatever arrives late or out of order, a rating click rates the picture it sits under; the
server never maps a card's position back to a sample through separate state.

Accessibility: every button has an aria-label ("Like", "Dislike", "Open in explorer"), targets are at
least 44 px, and a focused card takes `L` (like) and `D` (dislike) from the keyboard.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import gradio as gr
import numpy as np

from aigc.service.studio import Studio

from .common import CARD_SCALE, DISLIKE, LIKE, PHONE_WIDTH, on_page, rater_of, user_message
from .web import data_uri

CARDS_TEMPLATE = """
<div class="aigc-cards" data-render="${nonce || ''}">${(value || []).length ? value.map((c, i) => {
  const s = c.score || 0;
  const cls = s > 0 ? 'liked' : (s < 0 ? 'disliked' : '');
  const mark = s > 0 ? '👍 liked' : (s < 0 ? '👎 disliked' : '');
  return `<figure class="aigc-card ${cls}" id="${prefix}card-${i}" data-id="${c.id}" tabindex="0"
      aria-label="${c.caption || ('sample ' + c.id)}: press L to like, D to dislike">
    <img src="${c.src}" alt="sample #${c.id}" data-id="${c.id}"/>
    <figcaption><span>${c.caption || ''}</span><span class="aigc-mark">${mark}</span></figcaption>
    <div class="aigc-rate">
      <button type="button" id="${prefix}like-${i}" class="like ${s > 0 ? 'on' : ''}" data-act="like" aria-label="Like" aria-pressed="${s > 0}" title="Like (L)">👍</button>
      <button type="button" id="${prefix}dislike-${i}" class="dislike ${s < 0 ? 'on' : ''}" data-act="dislike" aria-label="Dislike" aria-pressed="${s < 0}" title="Dislike (D)">👎</button>
      ${explore ? `<button type="button" id="${prefix}explore-${i}" class="explore" data-act="explore" aria-label="Open in explorer" title="Open in the explorer">🧭</button>` : ''}
    </div></figure>`; }).join('') : `<p class="aigc-empty">${empty || ''}</p>`}</div>
"""

CARDS_CSS = """
.aigc-cards { display: flex; flex-wrap: wrap; gap: 10px; padding: 4px 0; }
.aigc-card { margin: 0; width: ${size + 18}px; min-width: 156px; padding: 7px; border-radius: 10px; box-sizing: border-box;
  border: 2px solid var(--border-color-primary); background: var(--block-background-fill); }
.aigc-card:focus-visible { outline: 3px solid var(--color-accent); outline-offset: 2px; }
.aigc-card img { width: ${size}px; height: ${size}px; display: block; margin: 0 auto; border-radius: 6px;
  image-rendering: pixelated; image-rendering: crisp-edges; }
.aigc-card.liked { border-color: #22c55e; }
.aigc-card.disliked { border-color: #ef4444; }
.aigc-card figcaption { display: flex; justify-content: space-between; font-size: 13px; margin: 5px 2px;
  color: var(--body-text-color); }
.aigc-mark { font-weight: 600; }
.aigc-rate { display: flex; gap: 4px; }
.aigc-rate button { flex: 1; min-width: 44px; min-height: 44px; padding: 0; font-size: 18px; cursor: pointer;
  border-radius: 8px; border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill); }
.aigc-rate button:hover { filter: brightness(0.95); }
/* tints, not pastels: the same pale green and red on the light theme, and no bright block on the dark one */
.aigc-rate button.like.on { background: rgba(34, 197, 94, 0.18); border-color: #22c55e; }
.aigc-rate button.dislike.on { background: rgba(239, 68, 68, 0.16); border-color: #ef4444; }
.aigc-empty { color: var(--body-text-color-subdued); }
/* phones: one card per line, the picture beside its three buttons stacked (no empty half-screen beside a
   lone 156 px card; 8 cards take ~1,200 px of scrolling instead of ~1,800) */
@media (max-width: PHONE_WIDTHpx) {
  .aigc-card { width: 100%; display: grid; grid-template-columns: auto 1fr; grid-template-rows: auto 1fr;
    column-gap: 10px; align-items: start; }
  .aigc-card img { grid-column: 1; grid-row: 1; margin: 0; }
  .aigc-card figcaption { grid-column: 1; grid-row: 2; }
  .aigc-rate { grid-column: 2; grid-row: 1 / span 2; flex-direction: column; align-self: stretch; }
}
""".replace("PHONE_WIDTH", str(PHONE_WIDTH))

# A click marks the card at once and sends the card's own sample id; `marks` keeps this page's clicks
# across re-renders (a refresh of the same grid), and the server's `undo` prop takes one back if the
# rating could not be stored.
CARDS_JS = """
const marks = {};
const paint = (card, s) => {
  card.classList.toggle('liked', s > 0); card.classList.toggle('disliked', s < 0);
  const like = card.querySelector('button.like'), dislike = card.querySelector('button.dislike');
  if (like) { like.classList.toggle('on', s > 0); like.setAttribute('aria-pressed', String(s > 0)); }
  if (dislike) { dislike.classList.toggle('on', s < 0); dislike.setAttribute('aria-pressed', String(s < 0)); }
  const mark = card.querySelector('.aigc-mark');
  if (mark) mark.textContent = s > 0 ? '👍 liked' : (s < 0 ? '👎 disliked' : '');
};
const repaint = () => element.querySelectorAll('.aigc-card').forEach((card) => {
  if (marks[card.dataset.id] !== undefined) paint(card, marks[card.dataset.id]);
});
watch(['value', 'nonce'], repaint);
watch('undo', () => {
  const undo = props.undo || {};
  delete marks[undo.id];
  element.querySelectorAll(`.aigc-card[data-id="${undo.id}"]`).forEach((card) => {
    const item = (props.value || []).find((c) => String(c.id) === String(undo.id));
    paint(card, item ? (item.score || 0) : 0);
  });
});
const act = (card, what) => {
  if (!card) return;
  const id = Number(card.dataset.id);
  if (what === 'explore') { trigger('select', { id }); return; }
  const score = what === 'like' ? 1 : -1;
  marks[id] = score; paint(card, score);
  trigger('click', { id, score });
};
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-act]');
  if (button) act(button.closest('.aigc-card'), button.dataset.act);
});
element.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key !== 'l' && key !== 'd') return;
  event.preventDefault();
  act(event.target.closest('.aigc-card'), key === 'l' ? 'like' : 'dislike');
});
"""


def card_grid(
    elem_id: str, prefix: str = "", empty: str = "", size: int = 120, explore: bool = False, **kwargs
) -> gr.HTML:
    """An empty grid of rateable cards; fill it with `gr.HTML(cards(...))` from a handler."""
    return gr.HTML(
        [],
        html_template=CARDS_TEMPLATE,
        css_template=CARDS_CSS,
        js_on_load=CARDS_JS,
        apply_default_css=False,
        prefix=prefix,
        empty=empty,
        size=size,
        explore=explore,
        nonce="",
        undo={},
        elem_id=elem_id,
        **kwargs,
    )


def cards(
    images: Sequence[np.ndarray] | np.ndarray,  # a list of (H, W, C) images, or their (N, H, W, C) stack
    ids: Sequence[int],
    scores: Sequence[float | None] | None = None,
    captions: Sequence[str] | None = None,
    scale: int = CARD_SCALE,
) -> list[dict]:
    """The grid's value: one item per image, its picture and its sample id side by side."""
    scores = list(scores) if scores is not None else [None] * len(ids)
    captions = list(captions) if captions is not None else [f"#{i + 1}" for i in range(len(ids))]
    return [
        {"src": data_uri(img, scale), "id": int(sid), "score": float(score or 0), "caption": caption}
        for img, sid, score, caption in zip(images, ids, scores, captions)
    ]


def rendered(items: list[dict]) -> gr.HTML:
    """An update that always re-renders, even to the same pictures (so no picture a script set survives)."""
    return gr.HTML(items, nonce=uuid.uuid4().hex)


def wire_rating(
    studio: Studio, grid: gr.HTML, outputs: Sequence = (), after: Callable[[int, gr.Request], list] | None = None
) -> None:
    """Clicks on the grid's 👍/👎 rate the clicked card's own sample; no toast (the card shows it).

    `after(sample_id, request)` gives updates for `outputs` once a rating is stored (e.g. the rating count).
    """

    def rate(evt: gr.EventData, request: gr.Request):
        data = evt._data or {}
        try:
            sample_id, score = int(data["id"]), float(data["score"])
            if score not in (LIKE, DISLIKE):
                raise ValueError(score)
            studio.rate(sample_id, score, rater_of(request))
        except Exception as exc:  # noqa: BLE001 - one line, and the card takes the mark back
            gr.Warning(user_message(exc) or "That rating could not be stored; please try again.")
            return reply(gr.HTML(undo={"id": data.get("id"), "n": uuid.uuid4().hex}), [gr.skip()] * len(outputs))
        return reply(gr.skip(), after(sample_id, request) if after else [])

    def reply(grid_update, extra: list):
        return (grid_update, *extra) if outputs else grid_update  # one output: a bare value, not a list

    # multiple: a card rated while an earlier rating is in flight must not be dropped ("once", the default, did:
    # 1 click in 4 lost when rating cards quickly; benchmarks/ui_latency.py counts them as rating_timeouts)
    grid.click(
        rate,
        None,
        [grid, *outputs],
        api_visibility="private",
        show_progress="hidden",
        concurrency_limit=4,
        trigger_mode="multiple",
    )


def wire_explore(studio: Studio, grid: gr.HTML, explorer, tabs, note: Callable[[int], str]) -> None:
    """🧭 on a card opens that card's sample in the explorer (and switches to its tab).

    Only then does the grid show 🧭: a page built without the explorer has no dead button.
    """
    grid.props["explore"] = True  # read when the page's config is made (at launch), after every tab is built

    @on_page
    def open_card(evt: gr.EventData, request: gr.Request):
        sample_id = int((evt._data or {}).get("id", -1))
        name, z = studio.sample_info(sample_id, rater_of(request))
        return explorer.open(name, z, sample_id=sample_id, note=note(sample_id), viewer=rater_of(request)) + [
            gr.Tabs(selected="explore")
        ]

    grid.select(open_card, None, explorer.outputs() + [tabs], api_visibility="private")
