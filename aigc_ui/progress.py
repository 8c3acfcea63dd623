"""The fine-tune progress bar: one hand-made HTML element, drawn from a run's `JobStatus`; and the start
button's words while the viewer's own run waits or trains.

Its own module: the Fine-tune tab draws it when a run starts, at every tick of its timer, and when a page
finds a run already under way (a reload, another model picked).
"""

from __future__ import annotations

import html

import gradio as gr

from aigc.service.studio import JobStatus

# The bar's fills: translucent tints over the theme's block colour, so the label (the theme's text colour) reads
# over any width of the fill in the light and the dark theme alike (a browser set to dark gets Gradio's dark theme).
BAR_FILLS = {
    "running": "rgba(99, 102, 241, 0.30)",
    "done": "rgba(34, 197, 94, 0.35)",
    "failed": "rgba(239, 68, 68, 0.35)",
    "cancelled": "rgba(107, 114, 128, 0.30)",
}


def progress_html(status: JobStatus | None = None) -> str:
    """The bar: a tinted fill under the theme's text colour, the label beside the percentage.

    The label is the run's honest stage with its elapsed time and estimate (`JobStatus.label`); a run
    whose child is registered says so, even while its process is still finishing.
    """
    status = status or JobStatus("", message="idle")
    done = status.child is not None and status.state not in ("failed", "cancelled")
    colour = BAR_FILLS["done"] if done else BAR_FILLS.get(status.state, BAR_FILLS["running"])
    pct = max(0.0, min(1.0, status.progress)) * 100
    text = html.escape(f"{pct:.0f}% · {status.label()}")
    return (
        f"<div id='ft-progress' data-state='{status.state}' data-stage='{html.escape(status.stage)}' "
        f"role='progressbar' aria-valuemin='0' aria-valuemax='100' aria-valuenow='{pct:.0f}' aria-valuetext='{text}' "
        "style='border:1px solid var(--border-color-primary);border-radius:6px;min-height:28px;overflow:hidden;"
        "position:relative;background:var(--block-background-fill)'>"
        f"<div style='width:{pct:.0f}%;position:absolute;inset:0 auto 0 0;background:{colour};"
        "transition:width .4s'></div><span id='ft-progress-label' style='position:relative;display:block;"
        f"padding:4px 10px;font-size:14px;line-height:20px;color:var(--body-text-color)'>{text}</span></div>"
    )


TRAINING = "⏳ Training… (the bar below; ✖ cancels it)"
WAITING = "⏳ Waiting in line… (the bar below; ✖ cancels it)"


def resting(state: str) -> gr.Button:
    """The start button while the viewer's own run waits or trains."""
    return gr.Button(value=WAITING if state == "queued" else TRAINING, interactive=False)
