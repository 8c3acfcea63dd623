"""Start-up failures: a database that cannot be opened, a port in use, a slow first page. One line, exit 2."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from aigc_ui import memory, startup
from aigc_ui import server as app
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


@pytest.mark.parametrize(
    "flags,line",
    [
        (["--queue-max-each", "0"], "--queue-max-each must be at least 1, got 0"),
        (["--request-head-seconds", "-0.5"], "--request-head-seconds must be at least 0, got -0.5"),
        (["--min-free-disk-mb", "-1"], "--min-free-disk-mb must be at least 0, got -1"),
        (["--connections-max", "-1"], "--connections-max must be at least 0, got -1"),
        (["--port", "70000"], "--port must be at most 65535, got 70000"),
        (["--port", "0"], "--port must be at least 1, got 0"),
        (["--threads", "-2"], "--threads must be at least 0, got -2"),
    ],
)
def test_a_count_flag_out_of_range_is_one_line_naming_it(flags, line, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        app.serve(app.parse_args(["--db", f"sqlite:///{tmp_path}/f.sqlite", *flags]), block=False)
    assert exit_.value.code == 2 and one_line(capsys) == f"aigc serve: error: {line}"
    assert not (tmp_path / "f.sqlite").exists()  # refused before anything was opened


def test_a_models_folder_is_made_when_missing_and_anything_else_is_one_line(capsys, tmp_path):
    db = f"sqlite:///{tmp_path}/f.sqlite"
    studio = startup.open_studio(db, str(tmp_path / "new" / "models"), "cpu", 1)
    studio.close()
    assert (tmp_path / "new" / "models").is_dir()
    assert "note: --models" in capsys.readouterr().err

    (tmp_path / "a-file").write_text("not a folder")
    for models, says in [("a-file", "not a folder"), ("a-file/models", "it cannot be made (Not a directory)")]:
        with pytest.raises(SystemExit) as exit_:
            startup.open_studio(db, str(tmp_path / models), "cpu", 1)
        assert exit_.value.code == 2 and says in one_line(capsys)


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


@pytest.mark.parametrize("host", ["10.255.255.254", "no-such-host.invalid"])
def test_a_host_this_machine_cannot_listen_on_is_one_line_not_a_port_in_use(host, capsys, models_dir, tmp_path):
    args = ["--db", f"sqlite:///{tmp_path}/f.sqlite", "--models", str(models_dir), "--host", host]
    with pytest.raises(SystemExit) as exit_:
        app.serve(app.parse_args([*args, "--port", str(free_port()), "--no-warm-up"]), block=False)
    assert exit_.value.code == 2
    line = one_line(capsys)
    assert line.startswith(f"aigc serve: error: --host {host}: cannot listen there (") and "0.0.0.0 or ::" in line
    assert "not free" not in line


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


NO_IPV6 = pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")


@NO_IPV6
def test_an_ipv6_host_is_given_to_gradio_in_brackets():
    assert startup.listen_name("127.0.0.1") == "127.0.0.1" and startup.listen_name("localhost") == "localhost"
    assert startup.listen_name("::1") == "[::1]" and startup.listen_name("[::1]") == "[::1]"


@NO_IPV6
@pytest.mark.heavy  # an app server of its own
def test_serve_listens_on_every_ipv6_interface_with_host_colons(capsys, models_dir, tmp_path):
    args = ["--db", f"sqlite:///{tmp_path}/f.sqlite", "--models", str(models_dir), "--host", "::"]
    demo, studio = app.serve(app.parse_args([*args, "--port", str(free_port()), "--no-warm-up"]), block=False)
    try:
        port = demo.server_port
        assert httpx.get(f"http://[::1]:{port}/", timeout=30).status_code == 200
        assert f"AIGC Studio is serving at http://[::1]:{port}/ (every interface" in capsys.readouterr().out
    finally:
        demo.close()
        studio.close()


def test_a_slow_first_page_is_waited_for_not_a_share_link_demand(monkeypatch):
    """Gradio gives up on the first 3 s timeout; ours retries timeouts until its deadline."""
    monkeypatch.setattr(startup, "RETRY_EVERY_S", 0.0)  # the answers below are scripted: no need to wait between
    answers = iter([httpx.ReadTimeout("slow"), httpx.ConnectError("starting"), httpx.Response(200)])

    def head(url):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert startup.reachable("http://127.0.0.1:1/", within_s=30, head=head)
    assert not startup.reachable("http://127.0.0.1:1/", within_s=0, head=lambda u: httpx.Response(503))


@pytest.mark.heavy  # an app server of its own
def test_serve_starts_without_gradios_localhost_check(monkeypatch, models_dir, tmp_path, capsys):
    import gradio.networking

    monkeypatch.setattr(gradio.networking, "url_ok", lambda url: False)  # what a busy host made Gradio see
    args = ["--db", f"sqlite:///{tmp_path}/f.sqlite", "--models", str(models_dir), "--port", str(free_port())]
    demo, studio = app.serve(app.parse_args(args), block=False)
    try:
        assert httpx.get(demo.local_url, timeout=30).status_code == 200
        captured = capsys.readouterr()
        assert "share" not in captured.err
        # the studio's own start lines, not Gradio's advice to set `share=True` in code
        assert f"AIGC Studio is serving at {demo.local_url}" in captured.out
        assert "tiny-gan (gan)" in captured.out and "tiny-vae (vae)" in captured.out
        assert f"ratings are stored in: sqlite:///{tmp_path}/f.sqlite" in captured.out
        assert "launch()" not in captured.out and "Running on local URL" not in captured.out
    finally:
        demo.close()
        studio.close()


@pytest.mark.integration  # two app processes
def test_two_apps_started_together_on_one_database_both_serve(tmp_path, models_dir):
    """The issue's row: one of two apps started at once used to exit with Gradio's localhost check."""
    root = Path(__file__).resolve().parents[2]
    db = f"sqlite:///{tmp_path}/shared.sqlite"
    ports = [free_port(), free_port()]
    env = {"PYTHONPATH": str(root), "AIGC_HOME": str(tmp_path / "home"), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, str(root / "app.py"), "--db", db, "--models", str(models_dir), "--port"]
    procs = [
        subprocess.Popen([*command, str(p)], env={**os.environ, **env}, stderr=subprocess.PIPE, text=True)
        for p in ports
    ]
    try:
        deadline = time.monotonic() + 240
        up = set()
        while len(up) < 2 and time.monotonic() < deadline:
            for proc, port in zip(procs, ports):
                assert proc.poll() is None, f"app on {port} exited {proc.returncode}: {proc.stderr.read()[-1500:]}"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                        up.add(port)
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        assert up == set(ports)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_database_password_never_reaches_the_error_line(capsys, monkeypatch):
    """The URL may come from $AIGC_DB_URL (how a password stays off command lines); the message masks it."""
    monkeypatch.setenv("AIGC_DB_URL", "postgresql://rater:s3cret-pw@127.0.0.1:1/feedback")  # nothing listens on 1
    with pytest.raises(SystemExit) as exit_:
        app.serve(app.parse_args(["--port", str(free_port())]), block=False)
    assert exit_.value.code == 2
    line = one_line(capsys)
    assert "postgresql://rater:***@127.0.0.1:1/feedback" in line and "s3cret" not in line


def test_the_start_lines_say_where_what_who_and_how_to_share():
    """`startup.banner`: the page's address, its models, the database (as given: callers mask passwords), who
    may rate, and the public link: off with the flag that asks for one, a failed one, or the link itself."""
    local = startup.banner(
        "http://127.0.0.1:7860/",
        host="127.0.0.1",
        models=[("fashion-gan", "gan"), ("fashion-vae", "vae")],
        database="sqlite:////home/ann/.aigc/feedback.sqlite",
        logins=0,
        share_asked=False,
        share_url=None,
    )
    text = "\n".join(local)
    assert local[0] == "AIGC Studio is serving at http://127.0.0.1:7860/"
    assert "fashion-gan (gan), fashion-vae (vae)" in text and "sqlite:////home/ann/.aigc/feedback.sqlite" in text
    assert "logins: off" in text and "--auth USER:PASS" in text and "public link: off (--share" in text
    assert text.rstrip().endswith("Ctrl-C stops the server.") and "internet; add --auth)" in text
    with_logins = "\n".join(
        startup.banner("u", host="h", models=[], database="d", logins=1, share_asked=False, share_url=None)
    )
    assert "it needs internet)" in with_logins and "add --auth" not in with_logins  # it has them
    shared = startup.banner(
        "http://127.0.0.1:7860/",
        host="0.0.0.0",
        models=[],
        database="postgresql://ann:***@db/aigc",
        logins=2,
        share_asked=True,
        share_url="https://abc.gradio.live",
    )
    text = "\n".join(shared)
    assert "every interface" in shared[0] and "models: none found" in text
    assert "logins: required (2 users" in text and "public link: https://abc.gradio.live (temporary; a login" in text
    open_link = "\n".join(
        startup.banner(
            "u", host="h", models=[], database="d", logins=0, share_asked=True, share_url="https://x.gradio.live"
        )
    )
    assert "NO login: anyone with the link can sample and rate" in open_link
    many = [(f"fashion-vae-ft{i}", "vae") for i in range(1, 201)]  # a shared deployment's fine-tunes
    crowded = startup.banner("u", host="h", models=many, database="d", logins=1, share_asked=False, share_url=None)
    assert len(crowded) == 6 and "fashion-vae-ft8 (vae) and 192 more" in crowded[1] and "ft9 " not in crowded[1]
    failed = "\n".join(
        startup.banner("u", host="h", models=[], database="d", logins=1, share_asked=True, share_url=None)
    )
    assert "public link: none" in failed and "serving locally only" in failed


@pytest.mark.skipif(sys.platform == "win32", reason="no open-files limit to raise")
def test_the_server_raises_its_open_files_limit_to_what_the_system_allows():
    """Every connection is an open file: under the usual soft limit of 1,024 one address holding 1,100 idle
    connections left the page unreachable for everyone (benchmarks/idle_connections.py)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, max(512, hard // 2))
    if lowered >= min(hard, startup.MAX_OPEN_FILES):
        pytest.skip("this machine's hard limit leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        raised = startup.raise_open_files_limit()
        assert raised == resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(hard, startup.MAX_OPEN_FILES)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and malloc_trim are glibc's")
def test_the_server_hands_freed_memory_back_unless_told_otherwise(monkeypatch, tmp_path):
    """Bursts of 64-image requests grew the server by 100–250 MB each, for good: glibc kept what they freed
    (benchmarks/burst_memory.py). The studio limits malloc's arenas and trims; the environment's word wins."""
    started = []
    monkeypatch.setattr(memory, "Thread", lambda **kw: SimpleNamespace(start=lambda: started.append(kw)))
    for name in ("MALLOC_ARENA_MAX", "AIGC_MALLOC_ARENAS", "AIGC_MALLOC_TRIM_S"):
        monkeypatch.delenv(name, raising=False)
    assert memory.tame_malloc() == {"arenas": memory.MALLOC_ARENAS, "trim_every_s": memory.TRIM_EVERY_S}
    assert started[-1]["daemon"] is True  # never keeps a stopping server alive
    monkeypatch.setenv("AIGC_MALLOC_ARENAS", "0")
    monkeypatch.setenv("AIGC_MALLOC_TRIM_S", "0")
    assert memory.tame_malloc() == {} and len(started) == 1  # 0: glibc's own behaviour, as the benchmark compares
    monkeypatch.setenv("AIGC_MALLOC_ARENAS", "2")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert "arenas" not in memory.tame_malloc()  # glibc read its own setting at start: not overridden
    called = []
    monkeypatch.setattr(memory, "tame_malloc", lambda: called.append(True))
    with pytest.raises(SystemExit):  # the first thing `serve` does, before anything else can fail
        app.serve(app.parse_args(["--db", f"sqlite:///{tmp_path}/f.sqlite", "--port", "0"]), block=False)
    assert called == [True]
