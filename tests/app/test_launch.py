"""Launching the page: flags, logins, --share without internet, the folders never served, the layering."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from aigc_ui import server as app
from tests.app.helpers import api_client, free_port, running

ROOT = Path(__file__).resolve().parents[2]


def test_warm_up_flag_follows_its_environment_variable(monkeypatch):
    monkeypatch.delenv(app.WARM_UP_ENV, raising=False)
    assert app.parse_args([]).warm_up is True and app.parse_args(["--no-warm-up"]).warm_up is False
    monkeypatch.setenv(app.WARM_UP_ENV, "0")
    assert app.parse_args([]).warm_up is False and app.parse_args(["--warm-up"]).warm_up is True


def test_flags_and_defaults():
    args = app.parse_args([])
    assert (args.host, args.port, args.share, args.threads, args.db, args.models) == (
        "127.0.0.1",
        None,
        False,
        1,
        None,
        None,
    )
    args = app.parse_args(
        [
            "--host",
            "0.0.0.0",
            "--port",
            "8080",
            "--share",
            "--auth",
            "a:b",
            "--db",
            "sqlite:///x.db",
            "--models",
            "m",
            "--device",
            "cpu",
            "--threads",
            "2",
        ]
    )
    assert (args.host, args.port, args.share, args.auth, args.device, args.threads) == (
        "0.0.0.0",
        8080,
        True,
        ["a:b"],
        "cpu",
        2,
    )


def test_logins_from_flag_file_and_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(app.AUTH_ENV, raising=False)
    assert app.read_auth(app.parse_args(["--auth", "ann:pw:with:colons", "--auth", "bob:x"])) == [
        ("ann", "pw:with:colons"),
        ("bob", "x"),
    ]
    logins = tmp_path / "logins"
    logins.write_text("# people\ncid:secret\n\n")
    assert app.read_auth(app.parse_args(["--auth-file", str(logins)])) == [("cid", "secret")]
    monkeypatch.setenv(app.AUTH_ENV, "dee:1,eve:2")
    assert app.read_auth(app.parse_args([])) == [("dee", "1"), ("eve", "2")]
    with pytest.raises(SystemExit) as exit_:
        app.read_auth(app.parse_args(["--auth", "nopassword"]))
    assert exit_.value.code == 2 and "error: --auth: expected USER:PASSWORD" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        app.read_auth(app.parse_args(["--auth-file", str(tmp_path / "missing")]))
    assert exit_.value.code == 2 and "error: --auth-file: No such file or directory" in capsys.readouterr().err


def test_app_main_and_aigc_serve_take_the_same_flags(capsys):
    from aigc.cli import main as aigc_main

    with pytest.raises(SystemExit) as done:
        app.main(["--help"])
    assert done.value.code == 0 and "--share" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:  # `aigc serve` reaches the page through the aigc.commands entry point
        aigc_main(["serve", "--help"])
    assert done.value.code == 0 and "--auth-file" in capsys.readouterr().out


def test_aigc_serve_passes_flags_through(capsys):
    from aigc.cli import main as aigc_main

    with pytest.raises(SystemExit) as done:
        aigc_main(["serve", "--help"])
    assert done.value.code == 0 and "--share" in capsys.readouterr().out


@pytest.mark.heavy  # an app server of its own
def test_share_without_internet_says_so_in_one_line_and_serves_locally(monkeypatch, capsys, models_dir, db_url):
    monkeypatch.setattr(app, "internet_ok", lambda timeout=3.0: False)
    args = app.parse_args(["--share", "--port", str(free_port()), "--db", db_url, "--models", str(models_dir)])
    demo, studio = app.serve(args, block=False)
    try:
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert "--share: no internet connection, so no public link; serving locally only." in lines
        assert any(line.startswith("warning: --share without --auth") for line in lines)
        assert httpx.get(demo.local_url, timeout=10).status_code == 200
        assert demo.share_url is None
    finally:
        demo.close()
        studio.close()


# the default run's one app server of its own (the others are `heavy`): logins reach the page
def test_login_required_and_rater_is_the_user(studio):

    with running(studio, auth=[("ann", "secret")]) as demo:
        assert httpx.get(demo.local_url + "config", timeout=10).status_code == 401
        slider_path = httpx.post(
            demo.local_url + "gradio_api/component_server/",
            timeout=10,
            json={"data": {}, "component_id": 1, "fn_name": "move", "session_hash": "x"},
        )
        assert slider_path.status_code == 401
        with pytest.raises(Exception):  # noqa: B017 (gradio_client raises a bare Exception on a refused login)
            api_client(demo.local_url)
        client = api_client(demo.local_url, auth=("ann", "secret"))
        _, info = client.predict("tiny-gan", 1, 3, 0, api_name="/sample")
        assert client.predict(info["sample_ids"][0], 1, api_name="/rate")["rater"] == "ann"
        assert client.predict(5, api_name="/history")[0]["sample_id"] == info["sample_ids"][0]


def test_database_and_checkpoints_are_never_served(studio, server, db_url, models_dir):
    blocked = app.launch_kwargs(studio)["blocked_paths"]
    db_file = Path(db_url.removeprefix("sqlite:///"))
    assert str(db_file.parent.resolve()) in blocked and str(models_dir.resolve()) in blocked
    for path in (db_file, models_dir / "tiny-vae.safetensors"):
        response = httpx.get(f"{server}gradio_api/file={path}", timeout=10)
        assert response.status_code in (403, 404), path


def test_a_folder_holding_gradios_cache_is_blocked_file_by_file(tmp_path):
    """A database straight in /tmp must not block Gradio's cache (under /tmp too): its files are blocked instead."""
    keep = tmp_path / "gradio"
    models = tmp_path / "models"
    keep.mkdir(), models.mkdir()
    for name in ("feedback.sqlite3", "feedback.sqlite3-wal", "notes.txt"):
        (tmp_path / name).write_text("")
    blocked = app._blockable([tmp_path, models], keep=[keep])
    assert str(tmp_path) not in blocked and str(models) in blocked
    assert str(tmp_path / "feedback.sqlite3") in blocked and str(tmp_path / "feedback.sqlite3-wal") in blocked
    assert str(tmp_path / "notes.txt") not in blocked


def test_the_page_imports_no_torch_and_only_the_studio_from_the_engine():
    files = [ROOT / "app.py", *sorted((ROOT / "aigc_ui").glob("*.py"))]
    allowed = {"aigc.service.studio", "aigc.data.images"}  # the facade, and torch-free image helpers
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                assert not name.startswith("torch"), f"{path.name} imports {name}"
                engine = name == "aigc" or name.startswith("aigc.")
                assert not engine or name in allowed, f"{path.name} imports {name}"


def test_build_demo_is_importable_and_has_the_tabs(studio):
    import gradio as gr

    demo = app.build_demo(studio)
    assert isinstance(demo, gr.Blocks)
    labels = [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert labels[:5] == ["🎨 Generate & rate", "🧭 Explore", "🔀 Interpolate", "🕘 History", "📊 Feedback & models"]
