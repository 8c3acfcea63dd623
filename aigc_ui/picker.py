"""Pick one of your samples by its picture (breeding partners, interpolation ends), not from text.

Why not a dropdown: its choices change with the model and the person's history, and a Gradio dropdown
whose value left its choices fails every later event ("Value: 317 is not in the list of choices: []").
Here the choice is a sample id held in server-side state; the grid only shows thumbnails and reports a
click, and a refresh that no longer lists the chosen sample clears the choice.
"""

from __future__ import annotations

import gradio as gr

from aigc.service.studio import Studio

from .common import score_mark
from .history_tab import thumbnails
from .web import data_uri

MAX_ITEMS = 40

PICKER_TEMPLATE = """
<div class="aigc-pick">${(value || []).length ? value.map((c) => {
  const on = String(c.id) === String(selected);
  return `<button type="button" class="aigc-pick-item ${on ? 'on' : ''}" data-id="${c.id}" aria-pressed="${on}"
     aria-label="sample #${c.id} ${c.mark || ''}" title="#${c.id} ${c.mark || ''}"><img src="${c.src}" alt="sample #${c.id}"/>
     <span>${c.mark || ''}</span></button>`; }).join('') : `<p class="aigc-empty">${empty || ''}</p>`}</div>
"""

PICKER_CSS = """
/* margin-top: the block's label floats over its top left, and covered the first row of pictures */
.aigc-pick { display: flex; flex-wrap: wrap; gap: 6px; max-height: 190px; overflow-y: auto; padding: 2px;
  margin-top: 30px; }
.aigc-pick-item { position: relative; padding: 2px; min-width: 44px; min-height: 44px; cursor: pointer; border-radius: 8px;
  border: 2px solid var(--border-color-primary); background: var(--block-background-fill); }
.aigc-pick-item.on { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent); }
.aigc-pick-item img { width: 56px; height: 56px; display: block; image-rendering: pixelated; image-rendering: crisp-edges; }
.aigc-pick-item span { position: absolute; right: 2px; bottom: 0; font-size: 12px; }
.aigc-empty { color: var(--body-text-color-subdued); }
"""

PICKER_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-id]');
  if (!button) return;
  element.querySelectorAll('button[data-id]').forEach((b) => {
    b.classList.toggle('on', b === button); b.setAttribute('aria-pressed', String(b === button));
  });
  trigger('select', { id: Number(button.dataset.id) });
});
"""


def picker(elem_id: str, label: str, empty: str = "Nothing of yours yet: generate and rate some images.") -> gr.HTML:
    return gr.HTML(
        [],
        label=label,
        show_label=True,
        container=True,  # the label needs the block around it
        html_template=PICKER_TEMPLATE,
        css_template=PICKER_CSS,
        js_on_load=PICKER_JS,
        apply_default_css=False,
        selected=None,
        empty=empty,
        elem_id=elem_id,
    )


def my_samples(studio: Studio, rater: str, name: str | None) -> list[dict]:
    """This person's samples of this model as thumbnails, liked first, newest first within a rating."""
    if not name:
        return []
    names = {m.version_id: m.name for m in studio.models(rater)}
    items = [a for a in studio.history(rater, 200) if names.get(a.version_id) == name]
    items.sort(key=lambda a: -(a.score or 0))  # stable: keeps newest first among equals
    items = items[:MAX_ITEMS]
    images = thumbnails(studio, [a.sample_id for a in items], rater)
    return [
        {"src": data_uri(image, 2), "id": a.sample_id, "mark": score_mark(a.score)}
        for a, (_, image) in zip(items, images)
    ]


def refreshed(items: list[dict], chosen: int | None) -> tuple[gr.HTML, int | None]:
    """The picker's update and the choice that survives it (cleared if the list no longer has it)."""
    keep = chosen if chosen is not None and any(c["id"] == chosen for c in items) else None
    return gr.HTML(items, selected=keep), keep


def wire_choice(grid: gr.HTML, state: gr.State) -> None:
    """A click on a thumbnail becomes the state's sample id."""

    def choose(evt: gr.EventData):
        data = evt._data or {}
        try:
            return int(data["id"])
        except (KeyError, TypeError, ValueError):
            return gr.skip()

    grid.select(choose, None, state, api_visibility="private", show_progress="hidden", trigger_mode="multiple")
