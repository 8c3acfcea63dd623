"""The Feedback & models tab names checkpoints that are not served: which, what is wrong, what to do."""

from __future__ import annotations

from pathlib import Path

from aigc.service.model_health import BadCheckpoint
from aigc_ui.models_tab import health_markdown


def test_problems_are_listed_with_what_to_do_and_what_is_served_instead():
    shadowed = BadCheckpoint("fashion-gan", Path("/h/models/fashion-gan.safetensors"), "truncated", "Copy it again")
    shadowed = BadCheckpoint(**{**shadowed.__dict__, "replaced_by": Path("/ship/fashion-gan.safetensors")})
    gone = BadCheckpoint("mine-ft1", Path("/h/models/mine-ft1.safetensors"), "no such checkpoint file", "Restore it")
    text = health_markdown([shadowed, gone])
    assert "**fashion-gan** — `/h/models/fashion-gan.safetensors`: truncated. Copy it again." in text
    assert "Serving `/ship/fashion-gan.safetensors` instead." in text
    assert "**mine-ft1**" in text and "This version is unavailable." in text
    assert health_markdown([]) == ""
