"""Roles with --auth: a visitor's fine-tune is theirs until an admin publishes it, a visitor fine-tunes on
their own ratings only, and a sample's latent is shown only to whoever it was shown to."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil

import httpx
import numpy as np
import pytest
from PIL import Image

from aigc.service.jobs import JobStatus
from aigc.service.queue import FinetuneQueue
from aigc.service.studio import Roles, Studio, StudioError
from aigc_ui.common import EXPLORE_SCALE
from aigc_ui.explore_guards import grant_for
from aigc_ui.explore_tab import Explorer, moved
from feedback_db import VersionInfo
from tests.app.helpers import api_client, running

LOGINS = [("ann", "a-pw"), ("bob", "b-pw"), ("root", "r-pw")]


def _version(owner: str | None, published: bool) -> VersionInfo:
    return VersionInfo(1, "v", "gan", None, "/v", "a" * 64, None, 4, None, owner=owner, published=published)


def test_the_rules_themselves():
    roles = Roles(enforced=True, admins=frozenset({"root"}))
    mine = _version("ann", False)
    assert roles.can_see(mine, "ann") and roles.can_see(mine, "root") and roles.can_see(mine, None)
    assert not roles.can_see(mine, "bob") and not roles.can_see(mine, "")
    assert roles.can_see(_version("ann", True), "bob")
    assert Roles().can_see(mine, "bob")  # no logins: no roles, every version is everyone's
    assert roles.can_read_sample("ann", "ann") and roles.can_read_sample("ann", "root")
    assert not roles.can_read_sample("ann", "bob") and not roles.can_read_sample(None, "bob")
    assert not Roles().can_read_sample("session-1", "session-2")  # latents stay per session without logins too
    assert roles.finetune_rater(None, "bob") == "bob" and roles.finetune_rater("bob", "bob") == "bob"
    with pytest.raises(StudioError, match="only on your own ratings"):
        roles.finetune_rater("ann", "bob")
    assert roles.finetune_rater(None, "root") is None and roles.finetune_rater("ann", "root") == "ann"
    assert Roles().finetune_rater(None, "bob") is None  # no logins: everyone's ratings, as before


class FakeJobs:
    def __init__(self):
        self.started: list[dict] = []

    def start(self, model, steps=None, rater=None, extra_args=None):
        self.started.append({"model": model, "rater": rater, "extra_args": extra_args or []})
        return JobStatus(model, "running")

    def status(self, model):
        return JobStatus(model)

    def stop(self, model):
        pass

    def stop_all(self):
        pass


@pytest.fixture(scope="module")
def shared(models_dir, tmp_path_factory):
    """Its own database with a private fine-tune of ann's registered (as `aigc finetune --owner ann --private` does)."""
    folder = tmp_path_factory.mktemp("roles")
    elsewhere = folder / "children"
    elsewhere.mkdir()
    child = elsewhere / "tiny-vae-ann.safetensors"
    shutil.copy(models_dir / "tiny-vae.safetensors", child)
    studio = Studio.open(f"sqlite:///{folder / 'feedback.sqlite'}", models_dir=models_dir, threads=1)
    studio.jobs = FakeJobs()
    studio.queue = FinetuneQueue(studio.jobs, studio.store)
    studio.roles = Roles(enforced=True, admins=frozenset({"root"}))
    parent = studio.version("tiny-vae")
    sha = hashlib.sha256(child.read_bytes()).hexdigest()
    studio.store.register_version(
        "tiny-vae-ann",
        "vae",
        str(child),
        sha,
        parent_id=parent.id,
        owner="ann",
        published=False,
        latent_dim=parent.latent_dim,
    )
    try:
        yield studio
    finally:
        studio.close()


def _names(studio: Studio, viewer) -> set[str]:
    return {m.name for m in studio.models(viewer)}


def test_a_private_version_is_seen_by_its_owner_and_admins_until_published(shared):
    assert "tiny-vae-ann" in _names(shared, "ann") and "tiny-vae-ann" in _names(shared, "root")
    assert "tiny-vae-ann" not in _names(shared, "bob") and "tiny-vae-ann" not in _names(shared, "")
    with pytest.raises(StudioError, match="unknown model 'tiny-vae-ann'"):
        shared.sample("tiny-vae-ann", 2, 0, rater="bob")
    with pytest.raises(StudioError, match="only an admin can publish"):
        shared.publish("tiny-vae-ann", by="ann")
    shared.sample("tiny-vae-ann", 1, 0, rater="ann")  # loaded: among the studio's models
    with pytest.raises(StudioError) as unknown:  # the list of what exists leaves out the private version
        shared.sample("tiny-vae-ann9", 2, 0, rater="bob")
    assert "tiny-vae" in str(unknown.value) and "tiny-vae-ann" not in str(unknown.value).split(";")[1]
    with pytest.raises(StudioError, match="belongs to no visitor"):  # taking a shipped model back hid it from all
        shared.publish("tiny-vae", by="root", published=False)
    try:
        shared.publish("tiny-vae-ann", by="root")
        assert "tiny-vae-ann" in _names(shared, "bob")
        assert len(shared.sample("tiny-vae-ann", 2, 0, rater="bob").sample_ids) == 2
    finally:
        shared.publish("tiny-vae-ann", by="root", published=False)
    assert "tiny-vae-ann" not in _names(shared, "bob")


def test_a_visitor_fine_tunes_on_their_own_ratings_and_the_child_is_theirs(shared):
    for rater in ("bob", "ann"):
        batch = shared.sample("tiny-gan", 24, 3, rater=rater)
        for i, sample_id in enumerate(batch.sample_ids):
            shared.rate(sample_id, 1.0 if i % 2 else -1.0, rater)
    with pytest.raises(StudioError, match="only on your own ratings"):
        shared.start_finetune("tiny-gan", rater="ann", requester="bob")
    shared.start_finetune("tiny-gan", requester="bob")  # "all raters'" from a visitor: their own
    shared.jobs.on_done(JobStatus("tiny-gan", "succeeded"))  # bob's run is over: root's may start
    shared.start_finetune("tiny-gan", requester="root")  # an admin: everyone's
    bob, root = shared.jobs.started[-2:]
    assert bob["rater"] == "bob" and bob["extra_args"] == ["--owner", "bob", "--private"]
    assert root["rater"] is None and root["extra_args"] == ["--owner", "root", "--private"]


@pytest.mark.heavy  # an app server of its own
def test_over_http_sample_latents_and_private_versions_stay_with_their_people(shared):

    with running(shared, auth=LOGINS) as demo:
        ann, bob, root = (api_client(demo.local_url, auth=login) for login in LOGINS)
        _, info = ann.predict("tiny-gan", 2, 9, 0, api_name="/sample")
        mine = info["sample_ids"][0]
        assert ann.predict(mine, api_name="/sample_info")["latent"] == info["latents"][0]
        assert root.predict(mine, api_name="/sample_info")["model"] == "tiny-gan"
        with pytest.raises(Exception, match=f"sample {mine} is not one of yours"):
            bob.predict(mine, api_name="/sample_info")
        with pytest.raises(Exception, match="not one of yours"):  # nor through a point of /interpolate
            bob.predict("tiny-gan", {"sample_id": mine}, 3, 4, api_name="/interpolate")

        assert "tiny-vae-ann" in {m["name"] for m in ann.predict(api_name="/models")}
        assert "tiny-vae-ann" not in {m["name"] for m in bob.predict(api_name="/models")}
        assert "tiny-vae-ann" not in {s["version"] for s in bob.predict(api_name="/stats")}
        with pytest.raises(Exception, match="unknown model 'tiny-vae-ann'"):
            bob.predict("tiny-vae-ann", api_name="/axes")
        with pytest.raises(Exception, match="only an admin can publish"):
            bob.predict("tiny-vae-ann", True, api_name="/publish")
        with pytest.raises(Exception, match="only on your own ratings"):  # the advice reads only bob's, as his run
            bob.predict("tiny-gan", "ann", api_name="/ratings_advice")
        assert root.predict("tiny-gan", "ann", api_name="/ratings_advice")["level"]  # an admin may ask of anyone
        try:
            published = root.predict("tiny-vae-ann", True, api_name="/publish")
            assert published == {"model": "tiny-vae-ann", "owner": "ann", "published": True}
            assert "tiny-vae-ann" in {m["name"] for m in bob.predict(api_name="/models")}
        finally:
            root.predict("tiny-vae-ann", False, api_name="/publish")


def test_rating_someone_elses_sample_keeps_history_whole_and_a_private_versions_samples_stay_hidden(shared):
    anns = shared.sample("tiny-vae", 2, 8, rater="ann").sample_ids
    shared.rate(anns[0], 1.0, "bob")  # any sample by its id, as the README allows
    ((model, image),) = shared.sample_images([anns[0]], "bob")  # History's cards: it emptied the whole tab
    assert model == "someone else's picture" and image.std() == 0  # a grey card, not ann's picture
    assert shared.sample_images([anns[0]], "ann")[0][1].std() > 0  # ann sees hers
    private = shared.sample("tiny-vae-ann", 1, 8, rater="ann").sample_ids[0]
    with pytest.raises(StudioError, match=f"sample {private} does not exist"):  # ann's unpublished version
        shared.rate(private, 1.0, "bob")
    seen = [a.sample_id for a in shared.history("bob", 1000)]
    assert anns[0] in seen and private not in seen


def test_admin_flags_need_logins_and_known_users(capsys):
    from aigc_ui import server as app

    args = app.parse_args(["--auth", "ann:x", "--auth", "root:y", "--admin", "root"])
    assert app.read_roles(args, app.read_auth(args)) == Roles(enforced=True, admins=frozenset({"root"}))
    with pytest.raises(SystemExit) as exit_:
        args = app.parse_args(["--admin", "root"])
        app.read_roles(args, [])
    assert exit_.value.code == 2 and "aigc serve: error: --admin needs --auth" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        args = app.parse_args(["--auth", "ann:x", "--admin", "zed"])
        app.read_roles(args, app.read_auth(args))
    assert exit_.value.code == 2 and "aigc serve: error: --admin zed: no such login" in capsys.readouterr().err
    args = app.parse_args([])
    assert app.read_roles(args, []) == Roles()


def test_the_models_tab_tables_and_plots_leave_out_versions_the_viewer_may_not_see(shared):
    from aigc_ui.models_tab import like_rate_frame, ratings_frame, stats_frame

    batch = shared.sample("tiny-vae-ann", 2, 4, rater="ann")
    shared.rate(batch.sample_ids[0], 1.0, "ann")
    for viewer, sees in (("ann", True), ("root", True), ("bob", False)):
        models = shared.models(viewer)
        assert ("tiny-vae-ann" in set(stats_frame(shared, models)["version"])) is sees
        assert ("tiny-vae-ann (1 rating)" in set(like_rate_frame(shared, models)["version"])) is sees  # its count
        assert ("tiny-vae-ann" in set(ratings_frame(shared, models)["version"])) is sees


def _move(http: httpx.Client, url: str, view_id: int, name: str, z: list, grant: str | None = None):
    """The view's slider move, posted as its JS posts it (a server function: Gradio passes no gr.Request)."""
    data = {"model": name, "z": z, "changed": {"0": 1.25}, "token": "t"}
    if grant is not None:
        data["grant"] = grant
    body = {"data": data, "component_id": view_id, "fn_name": "move", "session_hash": "grant-test"}
    response = http.post(url + "gradio_api/component_server/", json=body, timeout=10)
    assert response.status_code == 200
    return response.json()


@pytest.mark.heavy  # an app server of its own
def test_the_slider_path_decodes_a_private_version_only_with_a_grant_issued_to_someone_who_may_see_it(shared):
    """`move` cannot ask who moves; a guessed name of a private version must not render without the grant
    that an identified event issued after check_visible."""
    explorer = Explorer(shared, None, None, [], None, None)
    z = shared.latent_of("tiny-vae-ann", 0)
    with running(shared, auth=LOGINS) as demo, httpx.Client() as bob:
        url = demo.local_url
        assert bob.post(url + "login", data={"username": "bob", "password": "b-pw"}, timeout=10).is_success
        config = bob.get(url + "config", timeout=10).json()
        view = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "ex-image")
        start, start_z = view["props"]["props"]["model"], view["props"]["props"]["z"]
        assert start != "tiny-vae-ann" and view["props"]["props"]["grant"] == ""
        assert _move(bob, url, view["id"], start, start_z) is not None  # a published version needs no grant

        assert _move(bob, url, view["id"], "tiny-vae-ann", z.tolist()) is None
        assert _move(bob, url, view["id"], "tiny-vae-ann", z.tolist(), grant="0" * 64) is None
        assert _move(bob, url, view["id"], "tiny-vae-ann", z.tolist(), grant=grant_for("tiny-vae", True)) is None
        with pytest.raises(StudioError, match="unknown model 'tiny-vae-ann'"):
            explorer.view_update("tiny-vae-ann", z, "bob")  # no grant for who may not see it

        grant = explorer.view_update("tiny-vae-ann", z, "ann").props["grant"]
        uri = _move(bob, url, view["id"], "tiny-vae-ann", z.tolist(), grant=grant)
        expected = shared.decode("tiny-vae-ann", moved(shared.axes("tiny-vae-ann").basis, z, {0: 1.25}))
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("L"))
        np.testing.assert_array_equal(pixels[::EXPLORE_SCALE, ::EXPLORE_SCALE], expected[:, :, 0])


def test_a_grant_issued_while_a_version_was_published_dies_when_it_is_unpublished(shared):
    from aigc_ui.explore_guards import may_move

    explorer = Explorer(shared, None, None, [], None, None)
    z = shared.latent_of("tiny-vae-ann", 0)
    owners = explorer.view_update("tiny-vae-ann", z, "ann").props["grant"]
    shared.publish("tiny-vae-ann", "root")
    try:
        visitors = explorer.view_update("tiny-vae-ann", z, "bob").props["grant"]  # bob may see it now
        assert may_move(shared, "tiny-vae-ann", visitors) and may_move(shared, "tiny-vae-ann", None)
    finally:
        shared.publish("tiny-vae-ann", "root", published=False)
    assert not may_move(shared, "tiny-vae-ann", visitors)  # before: bob's open explorer went on decoding it
    assert may_move(shared, "tiny-vae-ann", owners)  # the owner's grant, issued while private, still opens it


def test_a_published_childs_figures_speak_of_its_rater_to_everyone_else(shared):
    from aigc_ui.run_figures import FIGURES, figures_markdown

    metrics = {f"{key}_{when}": 0.5 for key, *_ in FIGURES for when in ("before", "after")}
    metrics["reward_heldout_accuracy"] = 0.9
    with pytest.raises(StudioError, match="unknown model 'tiny-vae-ann'"):
        shared.compare("tiny-vae-ann", 2, 0, viewer="bob")  # private: bob may not compare it
    shared.publish("tiny-vae-ann", "root")
    try:
        whose = {who: shared.compare("tiny-vae-ann", 2, 0, viewer=who)[2]["taste_of"] for who in ("ann", "bob")}
    finally:
        shared.publish("tiny-vae-ann", "root", published=False)
    words = {who: figures_markdown({**metrics, "taste_of": taste}) for who, taste in whose.items()}
    assert "estimated share you would like" in words["ann"] and "some of your ratings" in words["ann"]
    assert "estimated share its rater would like" in words["bob"] and "some of its rater's ratings" in words["bob"]
    assert " you " not in words["bob"].split("**What next")[0] and "your" not in words["bob"]


@pytest.mark.browser
def test_in_a_browser_the_owner_moves_the_sliders_of_their_private_version(shared, page):
    """The view's JS sends the grant its props got: without it the owner's own sliders would do nothing."""
    from tests.app.helpers import TIMEOUT, drag_first_slider_until_the_picture_changes, wait_for_text

    with running(shared, auth=LOGINS) as demo:
        login = page.request.post(demo.local_url + "login", form={"username": "ann", "password": "a-pw"})
        assert login.ok
        page.goto(demo.local_url)
        page.get_by_role("tab", name="Explore").click()
        page.locator("#ex-model input").click()
        page.get_by_role("option", name=re.compile("tiny-vae-ann")).click()
        wait_for_text(page, "#ex-status", r"tiny-vae-ann")
        drag_first_slider_until_the_picture_changes(page)
        assert not page.errors, page.errors
        # her permalink to her own private version opens it (it said "which this studio does not have")
        page.goto(demo.local_url + "?model=tiny-vae-ann&seed=3")
        page.locator("#gen-model input").wait_for(timeout=TIMEOUT)
        page.wait_for_function(
            "() => document.querySelector('#gen-model input').value.startsWith('tiny-vae-ann')", timeout=TIMEOUT
        )
        assert not page.get_by_text("which this studio does not have").count()


def test_pickers_mark_a_private_version_with_its_owner():
    from aigc.service.studio import ModelSummary
    from aigc_ui.common import model_label

    mine = ModelSummary("v-ann", "vae", 2, "v", 4, (28, 28, 1), "", owner="ann", published=False)
    assert model_label(mine) == "v-ann (VAE, from v, 🔒 private: ann's)"
    assert model_label(ModelSummary("v", "vae", 1, None, 4, (28, 28, 1), "")) == "v (VAE)"  # shipped: as before


@pytest.mark.browser
def test_in_a_browser_an_admin_publishes_a_visitors_version_and_takes_it_back(shared, page):
    from tests.app.helpers import TIMEOUT

    with running(shared, auth=LOGINS) as demo:
        assert page.request.post(demo.local_url + "login", form={"username": "root", "password": "r-pw"}).ok
        page.goto(demo.local_url)
        page.get_by_role("tab", name="Feedback & models").click()
        page.locator("#models-card-pick input").click()
        page.get_by_role("option", name=re.compile(r"tiny-vae-ann .*private: ann's")).click()
        button = page.locator("#models-publish")
        button.get_by_text("Publish to every visitor").wait_for(timeout=TIMEOUT)
        button.click()
        button.get_by_text("Take back to its owner and admins").wait_for(timeout=TIMEOUT)
        assert shared.version("tiny-vae-ann").published
        button.click()
        button.get_by_text("Publish to every visitor").wait_for(timeout=TIMEOUT)
        assert not shared.version("tiny-vae-ann").published
        page.locator("#models-card-pick input").click()
        page.get_by_role("option", name=re.compile(r"^tiny-vae \(VAE\)")).click()
        button.wait_for(state="hidden", timeout=TIMEOUT)  # a shipped model: nothing to publish
        assert not page.errors, page.errors


def test_a_childs_readiness_says_its_ratings_include_its_lineages(shared):
    from aigc_ui.finetune_tab import ready_text

    assert "of your ratings (of this version and the ones it comes from)" in ready_text(shared, "tiny-vae-ann", "ann")
    assert "the ones it comes from" not in ready_text(shared, "tiny-vae", "ann")  # a shipped model: its own only


@pytest.mark.browser
def test_in_a_browser_a_visitor_exploring_a_version_taken_back_is_told_so(shared, page):
    from tests.app.helpers import wait_for_text

    shared.publish("tiny-vae-ann", "root")
    try:
        with running(shared, auth=LOGINS) as demo:
            assert page.request.post(demo.local_url + "login", form={"username": "bob", "password": "b-pw"}).ok
            page.goto(demo.local_url)
            page.get_by_role("tab", name="Explore").click()
            page.locator("#ex-model input").click()
            page.get_by_role("option", name=re.compile("tiny-vae-ann")).click()
            wait_for_text(page, "#ex-status", r"Exploring `?tiny-vae-ann")
            shared.publish("tiny-vae-ann", "root", published=False)  # an admin takes it back
            wait_for_text(page, "#ex-status", "no longer shown to you")
            assert not page.errors, page.errors
    finally:
        shared.publish("tiny-vae-ann", "root", published=False)
