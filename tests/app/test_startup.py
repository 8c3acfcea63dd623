"""Start-up failures: a database that cannot be opened, a port in use, a slow first page. One line, exit 2."""

from __future__ import annotations

import socket

import httpx
import pytest

from aigc_ui import server as app
from aigc_ui import startup
from tests.app.helpers import free_port


def one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize(
    "db,reason",
    [
        ("sqlite:////proc/aigc-studio/feedback.sqlite", "No such file or directory"),  # /proc: read-only, even for root
        ("sqlite:////proc/feedback.sqlite", "unable to open database file"),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line_and_exit_2(db, reason, capsys):
    with pytest.raises(SystemExit) as exit_:
        app.serve(app.parse_args(["--db", db, "--port", str(free_port())]), block=False)
    assert exit_.value.code == 2
    line = one_line(capsys)
    assert line.startswith(f"aigc serve: error: cannot open or write the database {db}: ") and reason in line
    assert "--db" in line


def test_a_device_that_does_not_exist_is_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        app.serve(app.parse_args(["--db", f"sqlite:///{tmp_path}/f.sqlite", "--device", "tpu9"]), block=False)
    assert exit_.value.code == 2 and "unknown device 'tpu9'" in one_line(capsys)


def test_a_port_in_use_is_one_line_and_exit_2(capsys, models_dir, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--db", f"sqlite:///{tmp_path}/f.sqlite", "--models", str(models_dir), "--port", str(port)]
        with pytest.raises(SystemExit) as exit_:
            app.serve(app.parse_args(args), block=False)
    assert exit_.value.code == 2
    line = one_line(capsys)
    assert line.startswith(f"aigc serve: error: port {port} is not free on 127.0.0.1") and "--port" in line


def test_a_slow_first_page_is_waited_for_not_a_share_link_demand():
    """Gradio gives up on the first 3 s timeout; ours retries timeouts until its deadline."""
    answers = iter([httpx.ReadTimeout("slow"), httpx.ConnectError("starting"), httpx.Response(200)])

    def head(url):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert startup.reachable("http://127.0.0.1:1/", within_s=30, head=head)
    assert not startup.reachable("http://127.0.0.1:1/", within_s=0, head=lambda u: httpx.Response(503))


def test_serve_starts_without_gradios_localhost_check(monkeypatch, models_dir, tmp_path, capsys):
    import gradio.networking

    monkeypatch.setattr(gradio.networking, "url_ok", lambda url: False)  # what a busy host made Gradio see
    args = ["--db", f"sqlite:///{tmp_path}/f.sqlite", "--models", str(models_dir), "--port", str(free_port())]
    demo, studio = app.serve(app.parse_args(args), block=False)
    try:
        assert httpx.get(demo.local_url, timeout=30).status_code == 200
        assert "share" not in capsys.readouterr().err
    finally:
        demo.close()
        studio.close()
