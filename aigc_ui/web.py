"""The two hand-made pieces of the page, as gr.HTML templates: the card grid and the explorer's view.

Why hand-made: Gradio's frontend refreshes the loading status of every component that has ever been
an event output, on every status change of every event (cost ∝ outputs × page size). Sixteen cards
built from Gradio columns, images and buttons are ~70 such outputs; one gr.HTML is one. And the
slider path skips the event queue altogether: the view calls a server function (one POST, no queue,
no status updates), keeping at most one request in flight and always sending the newest values
(the `always_last` rule, done here in a few lines of JS).
"""

from __future__ import annotations

import base64
import io

import numpy as np

from aigc.data.images import to_pil

# ---------------------------------------------------------------- images inline


def data_uri(image: np.ndarray, scale: int) -> str:
    """(H, W, C) uint8 → a PNG data: URI, upscaled with nearest neighbour (a 28 px image is ~1 KB)."""
    buffer = io.BytesIO()
    to_pil(image, scale).save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# ---------------------------------------------------------------- the card grid (Generate & rate)

CARDS_TEMPLATE = """
<div class="aigc-cards">${(value || []).length ? value.map((c, i) => {
  const s = (scores || [])[i] || 0;
  const cls = s > 0 ? 'liked' : (s < 0 ? 'disliked' : '');
  const mark = s > 0 ? '👍 liked' : (s < 0 ? '👎 disliked' : '');
  return `<figure class="aigc-card ${cls}" id="card-${i}">
    <img src="${c.src}" alt="sample #${c.id}" width="120" height="120"/>
    <figcaption><span>#${i + 1}</span><span class="aigc-mark">${mark}</span></figcaption>
    <div class="aigc-rate">
      <button type="button" id="like-${i}" class="like ${s > 0 ? 'on' : ''}" data-act="like" data-i="${i}" title="Like">👍</button>
      <button type="button" id="dislike-${i}" class="dislike ${s < 0 ? 'on' : ''}" data-act="dislike" data-i="${i}" title="Dislike">👎</button>
      <button type="button" id="explore-${i}" class="explore" data-act="explore" data-i="${i}" title="Open in the explorer">🧭</button>
    </div></figure>`; }).join('') : `<p class="aigc-empty">${empty || ''}</p>`}</div>
"""

CARDS_CSS = """
.aigc-cards { display: flex; flex-wrap: wrap; gap: 10px; padding: 4px 0; }
.aigc-card { margin: 0; width: 138px; padding: 7px; border-radius: 10px; box-sizing: border-box;
  border: 2px solid var(--border-color-primary); background: var(--block-background-fill); }
.aigc-card img { width: 120px; height: 120px; display: block; border-radius: 6px;
  image-rendering: pixelated; image-rendering: crisp-edges; }
.aigc-card.liked { border-color: #22c55e; }
.aigc-card.disliked { border-color: #ef4444; }
.aigc-card figcaption { display: flex; justify-content: space-between; font-size: 13px; margin: 5px 2px;
  color: var(--body-text-color); }
.aigc-mark { font-weight: 600; }
.aigc-rate { display: flex; gap: 4px; }
.aigc-rate button { flex: 1; padding: 3px 0; font-size: 16px; line-height: 1.3; cursor: pointer; border-radius: 6px;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill); }
.aigc-rate button:hover { filter: brightness(0.95); }
.aigc-rate button.like.on { background: #dcfce7; border-color: #22c55e; }
.aigc-rate button.dislike.on { background: #fee2e2; border-color: #ef4444; }
.aigc-empty { color: var(--body-text-color-subdued); }
"""

# A click rates at once (the card shows it before the server answers; the server's answer re-renders it).
CARDS_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-act]');
  if (!button) return;
  const index = Number(button.dataset.i);
  if (button.dataset.act === 'explore') { trigger('select', { index }); return; }
  const score = button.dataset.act === 'like' ? 1 : -1;
  const card = element.querySelector('#card-' + index);
  if (card) { card.classList.toggle('liked', score > 0); card.classList.toggle('disliked', score < 0); }
  trigger('click', { index, score });
});
"""

# ---------------------------------------------------------------- the explorer's view

VIEW_TEMPLATE = """
<div class="aigc-view"><span class="aigc-view-label">Explorer</span>${value ? `
<img src="${value}" alt="the image being explored" width="256" height="256"/>
<a class="aigc-view-save" href="${value}" download="${model || 'image'}-explored.png" title="Download this image">⬇</a>`
: `<p class="aigc-empty">No model yet: train one, or put a checkpoint in the models folder.</p>`}</div>
"""

VIEW_CSS = """
.aigc-view { position: relative; display: flex; justify-content: center; padding: 28px 8px 8px;
  border: 1px solid var(--border-color-primary); border-radius: var(--block-radius); background: var(--block-background-fill); }
.aigc-view img { width: 256px; height: 256px; image-rendering: pixelated; image-rendering: crisp-edges; border-radius: 4px; }
.aigc-view-label { position: absolute; top: 6px; left: 8px; font-size: 13px; font-weight: 600; padding: 1px 8px;
  border-radius: 6px; color: var(--block-label-text-color); background: var(--block-label-background-fill); }
.aigc-view-save { position: absolute; top: 4px; right: 10px; text-decoration: none; font-size: 16px; }
.aigc-empty { color: var(--body-text-color-subdued); }
"""

# Sliders are Gradio sliders with ids ex-slider-J. Their input events (drag, keys, typing) are caught
# here; the latent is recomputed server-side from the state Python last set (props.z, props.token)
# plus the coordinates moved since then.
VIEW_JS = """
let busy = false, pending = null, changed = {}, token = null;
const show = (src) => {
  const img = element.querySelector('.aigc-view img'), link = element.querySelector('.aigc-view-save');
  if (img) img.src = src;
  if (link) link.href = src;
};
const send = async () => {
  if (busy || !pending) return;
  const request = pending; pending = null; busy = true;
  try {
    const src = await server.move(request);
    if (src && request.token === props.token) show(src);
  } catch (err) { console.warn('explorer:', err); }
  finally { busy = false; if (pending) send(); }
};
const onInput = (event) => {
  const input = event.target;
  if (!input || (input.type !== 'range' && input.type !== 'number')) return;
  const box = input.closest('[id^="ex-slider-"]');
  if (!box || !props.model) return;
  if (props.token !== token) { token = props.token; changed = {}; }
  const value = parseFloat(input.value);
  if (!Number.isFinite(value)) return;
  changed[box.id.slice('ex-slider-'.length)] = value;
  pending = { model: props.model, z: props.z, changed: { ...changed }, token };
  send();
};
if (window.__aigcExplorerInput) document.removeEventListener('input', window.__aigcExplorerInput, true);
window.__aigcExplorerInput = onInput;
document.addEventListener('input', onInput, true);
"""
