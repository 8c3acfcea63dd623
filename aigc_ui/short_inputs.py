"""A REST call with too few values in its `data` list gets one line that says what is missing.

Gradio checks the count itself (`Blocks.validate_inputs`) but with a ValueError meant for a page's own
JavaScript: the caller read `{"error": null}` (its message is hidden unless every error's is) and the server's
log a traceback per call. gradio_client fills in defaults, so only hand-written HTTP calls meet it; they are the
callers who most need to hear which values an endpoint takes.
"""

from __future__ import annotations

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
            names = ", ".join(str(getattr(c, "label", None) or f"value {i + 1}") for i, c in enumerate(wanted))
            endpoint = f"/{block_fn.api_name}" if getattr(block_fn, "api_name", None) else "this call"
            raise gr.Error(
                f"{endpoint} takes {len(wanted)} values in its data list ({names}); got {len(inputs)}",
                print_exception=False,
            )
        check(block_fn, inputs)

    demo.validate_inputs = validate_inputs  # type: ignore[method-assign]
