"""Who is rating, without a browser: the anonymous id cookie (set only with the page, kept when present,
never with --auth), person-supplied text kept out of Markdown, and the sliders' plain labels."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from aigc_ui.common import plain, rater_of
from aigc_ui.explore_tab import axis_labels, slider_props
from aigc_ui.identity import COOKIE, RaterCookie, rater_from_cookie
from tests.app.helpers import run_async


def call(headers: list[tuple[bytes, bytes]], method: str = "GET") -> tuple[list, list]:
    """Run the middleware around an app that records the Cookie header it saw; (response headers, seen)."""
    seen: list = []
    sent: list = []

    async def app(scope, receive, send):
        seen.append(dict(scope["headers"]).get(b"cookie", b"").decode())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/", "headers": headers}
    run_async(RaterCookie(app)(scope, receive, send))
    return dict(sent[0]["headers"]).get(b"set-cookie"), seen[0]


def test_the_page_hands_out_one_anonymous_id_and_keeps_an_existing_one():
    set_cookie, seen = call([(b"accept", b"text/html,application/xhtml+xml")])
    assert set_cookie and set_cookie.startswith(f"{COOKIE}=anon-".encode()) and b"HttpOnly" in set_cookie
    rater = set_cookie.split(b";")[0].split(b"=", 1)[1].decode()
    assert rater_from_cookie(seen) == rater  # the first request already counts as that person
    again, seen_again = call([(b"accept", b"text/html"), (b"cookie", f"x=1; {COOKIE}={rater}".encode())])
    assert again is None and rater_from_cookie(seen_again) == rater


@pytest.mark.parametrize(
    "headers,method",
    [([(b"accept", b"application/json")], "GET"), ([(b"accept", b"text/html")], "POST"), ([], "GET")],
)
def test_assets_and_api_calls_never_get_an_id(headers, method):
    set_cookie, _ = call(headers, method)
    assert set_cookie is None  # parallel asset fetches must not race the page with other ids


@pytest.mark.parametrize("value", ["anon-xyz", "ann", "anon-" + "0" * 31, ""])
def test_a_forged_or_malformed_cookie_is_ignored(value):
    assert rater_from_cookie(f"{COOKIE}={value}") is None


def test_the_login_wins_over_the_cookie_and_the_cookie_over_the_session():
    cookie = f"{COOKIE}=anon-{'a' * 32}"
    with_login = SimpleNamespace(username="ann", headers=httpx.Headers({"cookie": cookie}), session_hash="s1")
    anonymous = SimpleNamespace(username=None, headers=httpx.Headers({"cookie": cookie}), session_hash="s1")
    bare = SimpleNamespace(username=None, headers=httpx.Headers({}), session_hash="s1")
    assert rater_of(with_login) == "ann"
    assert rater_of(anonymous) == f"anon-{'a' * 32}"
    assert rater_of(bare) == "s1"


@pytest.mark.parametrize(
    "text", ["**bold**", "[link](http://e.org)", "<b>x</b>", "# title", "a_b_c.png", "`code`", "www.e.org"]
)
def test_person_supplied_text_has_no_markdown_left(text):
    escaped = plain(text)
    unescaped = escaped.replace("\\", "")
    assert unescaped == text  # shown as typed
    specials = set("*[]()<>#_`.:")
    assert all(escaped[i - 1] == "\\" for i, ch in enumerate(escaped) if ch in specials and i > 0)


def test_sliders_have_plain_labels_and_the_figure_apart(studio):
    labels = axis_labels(studio, "tiny-vae")
    assert labels[0][0] == "direction 1 (most used)" and "KL" in labels[0][1]
    assert all("KL" not in plain_label and "z[" not in plain_label for plain_label, _ in labels)
    props = slider_props(studio, "tiny-vae", studio.latent_of("tiny-vae", 1))
    assert props[1]["label"] == "direction 2"
    assert "% of the variance" in axis_labels(studio, "tiny-gan")[0][1]


def test_the_last_click_of_a_page_wins_whatever_the_arrival_order():
    from aigc_ui.explore_guards import ClickOrder

    order = ClickOrder(size=2)
    assert order.newest("page-a", 2) and not order.newest("page-a", 1)  # click 1 arrived late: ignored
    assert order.newest("page-a", 3) and order.newest("page-b", 1)  # pages are independent
    assert order.newest(None, 1) and order.newest("page-a", None)  # unnumbered clicks (API) always count
    order.newest("page-c", 5)  # a third page: the oldest is forgotten, the bound holds
    assert len(order.seen) == 2 and "page-a" not in order.seen


def test_each_figure_of_a_fine_tune_says_what_it_means():
    from aigc_ui.run_figures import FIGURES, figures_markdown

    metrics = {f"{key}_{when}": 0.5 for key, *_ in FIGURES for when in ("before", "after")}
    metrics["reward_heldout_accuracy"] = 0.9  # a run graded by held-out fold models (issue 13)
    rows = [line for line in figures_markdown(metrics).splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0].startswith("| figure | what it means |")
    for (_, label, _, meaning), row in zip(FIGURES, rows[1:]):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == label and cells[1] == meaning and len(meaning.split()) >= 5
