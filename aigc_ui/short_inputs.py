"""A REST call with too few values in its `data` list gets one line that says what is missing.

Gradio checks the count itself (`Blocks.validate_inputs`) but with a ValueError meant for a page's own
JavaScript: the caller read `{"error": null}` (its message is hidden unless every error's is) and the server's
log a traceback per call. gradio_client fills in defaults, so only hand-written HTTP calls meet it; they are the
callers who most need to hear which values an endpoint takes.
"""

from __future__ import annotations

import inspect
from typing import Any

import gradio as gr


def explain_missing_inputs(demo: gr.Blocks) -> None:
    """Replace `demo`'s input count check with one whose refusal names the endpoint and the values it takes."""
    check = getattr(demo, "validate_inputs", None)
    if check is None:  # a Gradio without this check: nothing to explain (tests/app/test_short_inputs.py fails)
        return

    def validate_inputs(block_fn: Any, inputs: list[Any]) -> None:
        wanted = list(getattr(block_fn, "inputs", []) or [])
        if len(inputs) < len(wanted):
            names = ", ".join(input_names(block_fn, wanted))
            endpoint = f"/{block_fn.api_name}" if getattr(block_fn, "api_name", None) else "this call"
            raise gr.Error(
                f"{endpoint} takes {len(wanted)} values in its data list ({names}); got {len(inputs)}",
                print_exception=False,
            )
        check(block_fn, inputs)

    demo.validate_inputs = validate_inputs  # type: ignore[method-assign]


def input_names(block_fn: Any, wanted: list[Any]) -> list[str]:
    """What a caller should send, in order: a component's label, or, for a `gr.api` function (whose inputs Gradio
    labels "1st", "2nd", ...), the function's own parameter names, its gr.Request left out."""
    labels = [str(getattr(c, "label", None) or f"value {i + 1}") for i, c in enumerate(wanted)]
    if not all(type(c).__name__ == "Api" for c in wanted):
        return labels
    try:
        params = inspect.signature(block_fn.fn).parameters.values()
    except (TypeError, ValueError, AttributeError):
        return labels
    names = [p.name for p in params if p.annotation not in (gr.Request, "gr.Request") and p.name != "request"]
    return names if len(names) == len(wanted) else labels
