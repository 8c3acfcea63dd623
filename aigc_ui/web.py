"""The explorer's hand-made view (a gr.HTML template) and inline images; the card grid is in aigc_ui.cards.

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


# ---------------------------------------------------------------- the explorer's view

VIEW_TEMPLATE = """
<div class="aigc-view" data-token="${token}"><span class="aigc-view-label">Explorer</span>${value ? `
<img src="${value}" alt="the image being explored" width="256" height="256" data-token="${token}"/>
<a class="aigc-view-save" href="${value}" download="${model || 'image'}-explored.png" title="Download this image">⬇</a>`
: `<p class="aigc-empty">No model yet: train one, or put a checkpoint in the models folder.</p>`}</div>
<div class="aigc-view-rate">
  <button type="button" id="ex-like" data-act="like" aria-label="Like" title="Like what you see (L)">👍 Like</button>
  <button type="button" id="ex-dislike" data-act="dislike" aria-label="Dislike" title="Dislike what you see (D)">👎 Dislike</button>
</div>
"""

VIEW_CSS = """
.aigc-view { position: relative; display: flex; justify-content: center; padding: 28px 8px 8px;
  border: 1px solid var(--border-color-primary); border-radius: var(--block-radius); background: var(--block-background-fill); }
.aigc-view img { width: 256px; height: 256px; image-rendering: pixelated; image-rendering: crisp-edges; border-radius: 4px; }
.aigc-view-label { position: absolute; top: 6px; left: 8px; font-size: 13px; font-weight: 600; padding: 1px 8px;
  border-radius: 6px; color: var(--block-label-text-color); background: var(--block-label-background-fill); }
.aigc-view-save { position: absolute; top: 4px; right: 10px; text-decoration: none; font-size: 16px; }
.aigc-empty { color: var(--body-text-color-subdued); }
.aigc-view-rate { display: flex; gap: 8px; margin-top: 8px; }
.aigc-view-rate button { flex: 1; min-height: 44px; font-size: 16px; cursor: pointer; border-radius: 8px;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill); }
.aigc-view-rate button:hover { filter: brightness(0.95); }
"""

# Sliders are Gradio sliders with ids ex-slider-J. Their input events (drag, keys, typing) are caught
# here; the latent is recomputed server-side from the state Python last set (props.z, props.token)
# plus the coordinates moved since then. `shown` is what the picture on screen was made from: a rating
# sends exactly that (never the sliders' values), so 👍/👎 rate the picture the person is looking at.
# The token is in the template, so a Python update always re-renders (a Reset to the same picture too).
# props.grant goes with each move: the server decodes a private version only for a grant it issued
# (aigc_ui.explore_tab.may_move); it changes with props.model, so it is read from props at each move.
VIEW_JS = """
let busy = false, pending = null, changed = {}, token = props.token;
let shown = { model: props.model, z: props.z, changed: {}, token: props.token };
watch(['token', 'value', 'model', 'z'], () => {
  token = props.token; changed = {};
  shown = { model: props.model, z: props.z, changed: {}, token: props.token };
});
const display = (src, request) => {
  const img = element.querySelector('.aigc-view img'), link = element.querySelector('.aigc-view-save');
  if (img) img.src = src;
  if (link) link.href = src;
  shown = request;
};
const moving = (on) => { element.dataset.moving = on ? '1' : '0'; };  // for tests and styles: a move in flight
moving(false);
const send = async () => {
  if (busy || !pending) return;
  const request = pending; pending = null; busy = true; moving(true);
  try {
    const src = await server.move(request);
    if (src && request.token === props.token) display(src, request);
  } catch (err) { console.warn('explorer:', err); }
  finally { busy = false; if (pending) send(); else moving(false); }
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
  pending = { model: props.model, z: props.z, changed: { ...changed }, token, grant: props.grant || '' };
  send();
};
// the technical figure of each slider (KL, variance share) on hover over its plain label
const hint = () => (props.hints || []).forEach((text, j) => {
  const box = document.getElementById('ex-slider-' + j);
  if (box) box.querySelectorAll('label, [data-testid="block-info"], span').forEach((el) => { el.title = text; });
  if (box) box.title = text;
});
const hintWhenReady = (tries) => {  // the sliders mount after this view on a page load
  if (document.getElementById('ex-slider-0')) hint(); else if (tries > 0) setTimeout(() => hintWhenReady(tries - 1), 100);
};
hintWhenReady(100);
watch(['hints', 'token'], hint);
if (window.__aigcExplorerInput) document.removeEventListener('input', window.__aigcExplorerInput, true);
window.__aigcExplorerInput = onInput;
document.addEventListener('input', onInput, true);
let clicks = 0;  // numbered: if two clicks reach the server out of order, the later one still wins
const rate = (score) => { if (shown.model) trigger('click', { score, ...shown, seq: ++clicks }); };
element.addEventListener('click', (event) => {
  const button = event.target.closest('.aigc-view-rate button[data-act]');
  if (button) rate(button.dataset.act === 'like' ? 1 : -1);
});
element.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || !event.target.closest('.aigc-view-rate')) return;
  const key = event.key.toLowerCase();
  if (key === 'l' || key === 'd') { event.preventDefault(); rate(key === 'l' ? 1 : -1); }
});
"""
