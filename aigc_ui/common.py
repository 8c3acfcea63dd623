"""What every tab shares: the page context, who is rating, how images are shown, how errors reach people.

No torch here and nothing from `aigc` but the studio facade and the torch-free image helpers.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import math
import random
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from aigc.data.images import to_pil
from aigc.service.studio import Encoded, ModelSummary, Requester, Studio, StudioError, holds_bool
from feedback_db import FeedbackError

from .identity import rater_from_cookie

log = logging.getLogger("aigc_ui")

CARD_SCALE = 4  # 28 px → 112 px, nearest neighbour; CSS keeps it crisp when the browser scales further
PHONE_WIDTH = 520  # px: at most this wide, the page lays itself out for a phone (cards, the who line)
EXPLORE_SCALE = 8  # 28 px → 224 px
GIF_SCALE = 8
LIKE, DISLIKE = 1.0, -1.0


@dataclass
class PageContext:
    """Handed to every tab's `build`: the studio, the tab bar, and hooks wired once all tabs exist."""

    studio: Studio
    tabs: gr.Tabs | None = None  # set by app.build_demo before the tabs are built
    explorer: Any = None  # explore_tab.Explorer, set when that tab is built
    model_pickers: list[tuple[gr.Dropdown, str | None]] = field(default_factory=list)  # refreshed on page load
    every_picker: list[tuple[gr.Dropdown, str | None]] = field(default_factory=list)  # refreshed when versions change
    deferred: list[Callable[[], None]] = field(default_factory=list)
    loads: list[tuple[Callable, list, tuple | None, list | None]] = field(default_factory=list)
    files: Path = field(default_factory=lambda: _scratch_folder())  # downloads (grids, GIFs) before Gradio caches them

    def later(self, wire: Callable[[], None]) -> None:
        """Run `wire` after every tab is built (cross-tab events need the other tab's components)."""
        self.deferred.append(wire)

    def with_explorer(self, wire: Callable[[Any], None]) -> None:
        """Run `wire(explorer)` after every tab is built, if the page has an explorer at all.

        Why: a page may be built from any subset of tabs in any order (`build_demo(studio, tabs=[...])`);
        a tab's "open in the explorer" link is then simply absent instead of an AttributeError.
        """
        self.later(lambda: wire(self.explorer) if self.explorer is not None else None)

    def on_load(self, fn: Callable, outputs: list, then: tuple | None = None, inputs: list | None = None) -> None:
        """Run `fn(*inputs)` when a page opens (then `then` = (fn, inputs, outputs)); build_demo registers them."""
        self.loads.append((fn, outputs, then, inputs))

    def model_picker(
        self, label: str = "Model version", kind: str | None = None, refresh_on_load: bool = True, **kwargs
    ) -> gr.Dropdown:
        """A model dropdown; its choices are refreshed when a page opens (fine-tunes appear without a restart)."""
        choices = model_choices(self.studio, kind)
        kwargs.setdefault("value", choices[0][1] if choices else None)
        kwargs.setdefault("min_width", 240)  # a name like "fashion-vae-ft12 (VAE)" whole; on a phone it takes a line
        dropdown = gr.Dropdown(choices=choices, label=label, **kwargs)
        if refresh_on_load:
            self.model_pickers.append((dropdown, kind))
        self.every_picker.append((dropdown, kind))
        return dropdown


def _scratch_folder() -> Path:
    path = Path(tempfile.mkdtemp(prefix="aigc-ui-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# ---------------------------------------------------------------- people and models


PUBLIC = ""  # a viewer who is nobody: sees only published versions (a page's first, pre-login render)


def rater_of(request: gr.Request | None) -> str:
    """The logged-in user with --auth, else this browser's anonymous id (aigc_ui.identity), else the session.
    An anonymous id carries the client's address (a `Requester`), which the quotas meter as well: a script can
    be a new anonymous person on every request, not a new address."""
    if request is None:
        return "anonymous"
    user = getattr(request, "username", None)
    if user:
        return user
    headers = getattr(request, "headers", None) or {}
    cookie = headers.get("cookie") if hasattr(headers, "get") else None
    person = rater_from_cookie(cookie) or getattr(request, "session_hash", None) or "anonymous"
    client = getattr(request, "client", None)
    return Requester(person, getattr(client, "host", None))


def privacy_words(m: ModelSummary) -> str:
    """', 🔒 private: ann's' for a fine-tune only its owner and admins see (with --auth), '' otherwise: the owner
    could not tell their private versions from published ones, nor an admin whose they were."""
    if m.published:
        return ""
    return f", 🔒 private: {m.owner}'s" if m.owner else ", 🔒 private"


def model_label(m: ModelSummary) -> str:
    lineage = f", from {m.parent}" if m.parent else ""
    return f"{m.name} ({m.kind.upper()}{lineage}{privacy_words(m)})"


def model_choices(
    studio: Studio, kind: str | None = None, models: list[ModelSummary] | None = None
) -> list[tuple[str, str]]:
    """Dropdown choices; pass `models` when filling several pickers so the studio is asked once."""
    return [
        (model_label(m), m.name)
        for m in (studio.models(viewer=PUBLIC) if models is None else models)
        if kind is None or m.kind == kind
    ]


def readiness_line(studio: Studio, name: str | None, rater: str) -> str:
    """How many ratings of this model are yours, and how many more a fine-tune needs (the studio's one rule)."""
    if not name:
        return ""
    r = studio.ratings_ready(name, rater)
    # a fine-tune learns from its lineage's ratings: a child's count includes those of the versions it comes from
    lineage = " and the versions it comes from" if studio.parent_of(name) else ""
    mine = f"You have rated **{r.ratings}** images of `{name}`{lineage} ({r.likes} 👍, {r.dislikes} 👎)"
    if r.ready:
        return f"{mine}: enough to fine-tune it (🎯 tab)."
    more = [f"{n} more {what}" for n, what in zip(r.shortfall, ("ratings", "👍", "👎")) if n]
    return f"{mine}; a fine-tune from your ratings needs {', '.join(more)}."


def random_seed() -> int:
    return random.randint(0, 99_999)


# ---------------------------------------------------------------- images and files


def upscale(image: np.ndarray, scale: int = CARD_SCALE):
    """(H, W, C) uint8 → an upscaled PIL image for the page (28 px is too small to judge)."""
    return to_pil(image, scale)


def save_file(ctx: PageContext, data: bytes, name: str) -> str:
    """Write a download into the page's folder, named by content so repeats cost nothing."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = ctx.files / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        path.write_bytes(data)
    return str(path)


def encode_upload(studio: Studio, name: str, path: str) -> Encoded:
    """Studio.encode for an uploaded file; messages name the file as the person called it, not our temp path."""
    try:
        return studio.encode(name, path)
    except StudioError as exc:
        raise StudioError(str(exc).replace(str(path), Path(path).name)) from None


def parse_latent(value: Any) -> np.ndarray:
    """A latent from the API: a JSON list of numbers (text or already parsed) or comma-separated numbers."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text if text.startswith("[") else f"[{text}]")
        except json.JSONDecodeError as exc:
            raise StudioError(f"a latent must be a JSON list of numbers ({exc.msg})") from None
        except RecursionError:  # thousands of nested brackets: the parser's own depth, not the server's problem
            raise StudioError("a latent must be a flat JSON list of numbers, not lists nested in lists") from None
    if isinstance(value, dict) and "latent" in value:
        value = value["latent"]
    if holds_bool(value):
        raise StudioError("a latent must be a list of numbers (true and false are not numbers)")
    try:
        z = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise StudioError("a latent must be a list of numbers") from None
    if z.ndim > 1:  # [[0, ...]] is a caller's mistake (a batch? a matrix?): said, not silently flattened
        raise StudioError(f"a latent must be a flat list of numbers, not lists nested in lists (shape {z.shape})")
    z = z.reshape(-1)
    if z.size == 0 or not np.isfinite(z).all():
        raise StudioError("a latent must be a non-empty list of finite numbers")
    return z


def point(studio: Studio, name: str, spec: Any, viewer: str | None = None) -> np.ndarray:
    """A latent from a seed, a sample id, or a list of numbers; the studio's limits check each quantity."""
    if isinstance(spec, str) and WHOLE_NUMBER.fullmatch(spec.strip()):
        return studio.latent_of(name, studio.limits.seed(spec))  # the rule reads the text: 5,000 digits, no crash
    if isinstance(spec, bool) or spec is None:
        raise StudioError(POINT_RULE)
    if isinstance(spec, (int, float)):
        return studio.latent_of(name, spec)
    if isinstance(spec, dict) and not any(set(spec) <= keys for keys in POINT_KEYS):  # which one was meant?
        raise StudioError(f"{POINT_RULE}; got the keys {', '.join(sorted(map(str, spec))[:8])}")
    if isinstance(spec, dict) and "seed" in spec:
        return studio.latent_of(name, spec["seed"], spec.get("index", 0))
    if isinstance(spec, dict) and "sample_id" in spec:
        return studio.sample_info(spec["sample_id"], viewer)[1]
    if isinstance(spec, dict) and "latent" not in spec:
        raise StudioError(POINT_RULE)
    return parse_latent(spec)


WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # ASCII digits only: "³".isdigit() is True and int("³") raises
POINT_KEYS = ({"seed", "index"}, {"sample_id"}, {"latent"})  # a point's dict holds one of these, nothing else
POINT_RULE = 'a point is a seed (3 or {"seed": 3, "index": 0}), {"sample_id": N} or a latent list'


def as_list(z: np.ndarray, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(z).reshape(-1)]


# every Markdown punctuation, plus ":", "." and "@" so that no autolink (http://, www., mail) forms
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~:.@&=$%^\"'-])")


def plain(text: str) -> str:
    """Text from a person (a file name, a display name) made safe to put in Markdown: shown as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def score_mark(score: float | None) -> str:
    if score is None:
        return ""
    return "👍" if score > 0 else "👎" if score < 0 else "·"


def ago(when) -> str:
    """'just now', '5 min ago', '3 h ago', or a date."""
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    s = max(0.0, (now - when).total_seconds())
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{math.floor(s / 60)} min ago"
    if s < 86400:
        return f"{math.floor(s / 3600)} h ago"
    return when.strftime("%Y-%m-%d")


# ---------------------------------------------------------------- errors


def user_message(exc: Exception) -> str | None:
    """The one-line text a person should see for a known problem; None for a bug."""
    if isinstance(exc, StudioError):
        return str(exc)
    if isinstance(exc, FeedbackError):
        return f"database: {exc}"
    return None


def guarded(fn: Callable) -> Callable:
    """API endpoints: known problems become gr.Error with their text (clients get AppError), bugs a generic line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:  # never a traceback to a client
            text = user_message(exc)
            if text is None:
                log.exception("error in %s", getattr(fn, "__name__", fn))
            raise gr.Error(text or BUG, print_exception=False) from None

    return wrapper


def on_page(fn: Callable) -> Callable:
    """Page handlers: a problem is a warning toast and the page keeps what it shows (no red error badges)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            gr.Warning(exc.message, title=exc.title)
        except Exception as exc:  # never a traceback on the page
            text = user_message(exc)
            if text is None:
                log.exception("error in %s", getattr(fn, "__name__", fn))
            gr.Warning(text or BUG, title="Error" if text is None else "Warning")
        return gr.skip()

    return wrapper


BUG = "Something went wrong on the server; the details are in its log."


CSS = """
/* the parent-vs-child figures: numbers and "parent", "better" never break inside a word; the prose column wraps */
#ft-figures th, #ft-figures td { word-break: normal; overflow-wrap: normal; }
#ft-figures th:nth-child(n+3), #ft-figures td:nth-child(n+3) { white-space: nowrap; }
.pixelated img, img.pixelated { image-rendering: pixelated; image-rendering: crisp-edges; }
#intro p { margin: 0; opacity: 0.85; }
#gen-status, #ex-status { min-height: 1.5em; }
/* phones: the "who is rating" line and the display-name box take a line each, not two thin columns */
@media (max-width: PHONE_WIDTHpx) {
  #who-row { flex-wrap: wrap; }
  #who-row > *, #who-name { min-width: 100% !important; flex-grow: 1 !important; }
}
""".replace("PHONE_WIDTH", str(PHONE_WIDTH))
