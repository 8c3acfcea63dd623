"""AIGC Studio's web page: `aigc serve [flags]` or `python app.py [flags]` (a launcher of this module).

`build_demo(studio)` assembles the page from one module per tab (aigc_ui/); `main(argv)` maps flags to
`launch()`. The page talks to `aigc.service.studio.Studio` only: no torch here."""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")  # the queue's per-call records: 10,000 by default

import gradio as gr
from gradio.utils import get_upload_folder

from aigc.service.studio import (
    QueueSettings,
    Quotas,
    Roles,
    Studio,
    StudioError,
    add_disk_floor_flag,
    add_quota_flags,
    quota_settings,
)
from aigc_ui import (
    api,
    connection_guard,
    emoji,
    explore_tab,
    finetune_tab,
    generate_tab,
    history_tab,
    interpolate_tab,
    memory,
    models_tab,
    startup,
    versions_watch,
    who,
)
from aigc_ui.auth import LoginThrottle, login_message, login_middleware
from aigc_ui.body_limit import body_limit_middleware
from aigc_ui.common import CSS, PageContext, model_choices, rater_of
from aigc_ui.fair_share import QUEUE_MAX_EACH, SERVER_CALLS_EACH, add_share_flags, fair_share_middleware
from aigc_ui.identity import rater_middleware
from aigc_ui.meter import upload_middleware
from aigc_ui.short_inputs import explain_missing_inputs
from aigc_ui.unknown_calls import unknown_calls_middleware
from aigc_ui.upload_space import upload_space_middleware
from feedback_db import masked_url

# The page, tab by tab, in order.
TABS: list[Callable[[PageContext], None]] = [
    generate_tab.build,
    explore_tab.build,
    interpolate_tab.build,
    history_tab.build,
    models_tab.build,
    finetune_tab.build,
]

INTRO = (
    "# AIGC Studio\nSample a model, explore its latent space, and rate what you see: your ratings steer "
    "the next fine-tuned version. Everything here is also an API (see *Use via API* at the bottom)."
)
AUTH_ENV = "AIGC_AUTH"
WARM_UP_ENV = "AIGC_WARM_UP"


# Requests that may wait in the page's queue, all visitors together. Unbounded, 2,000 joins of /sample from
# new sessions (never reading their results) took the server to 1.7 GB and failed an honest client's calls
# for a minute; past the bound a request is refused at once ("queue is full"): benchmarks/queue_flood.py.
QUEUE_MAX_EVENTS = 128


def build_demo(
    studio: Studio, tabs: list[Callable[[PageContext], None]] | None = None, queue_max: int = QUEUE_MAX_EVENTS
) -> gr.Blocks:
    """The whole page for one Studio (shared by every visitor; per-visitor state lives in gr.State)."""
    with gr.Blocks(title="AIGC Studio", analytics_enabled=False, delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        ctx = PageContext(studio)
        api.build(ctx)  # first: the API claims its endpoint names before the page's handlers
        who.build(ctx)
        # "wrap": on a phone the six tabs take a few lines; Gradio's default menu showed one and hid five behind "⋯"
        with gr.Tabs(selected="generate", overflow_behavior="wrap") as ctx.tabs:
            for build in tabs or TABS:
                build(ctx)
        for wire in ctx.deferred:
            wire()

        pickers = ctx.model_pickers

        def refresh_pickers(request: gr.Request):  # one studio.models() (a folder scan and a query) for all pickers
            models = studio.models(rater_of(request))
            return [gr.Dropdown(choices=model_choices(studio, kind, models)) for _, kind in pickers]

        if pickers:
            demo.load(refresh_pickers, None, [d for d, _ in pickers], api_visibility="private", show_progress="hidden")
        versions_watch.build(ctx)
        for fn, outputs, then, inputs in ctx.loads:
            event = demo.load(fn, inputs, outputs, api_visibility="private")
            if then:
                event.then(*then, api_visibility="private")
    # api_open=False: /run/NAME and /api/NAME ran queued endpoints past the queue's bounds, all as "anonymous"
    demo.queue(default_concurrency_limit=4, max_size=queue_max, api_open=False)
    explain_missing_inputs(demo)
    return demo


SESSION_CAPACITY = 1000  # page states kept (~420 kB each: Gradio copies the page's config; a REST call is one too)


# ---------------------------------------------------------------- serving


def _blockable(paths: list[Path], keep: list[Path]) -> list[str]:
    """Folders to block, unless one holds a folder Gradio must serve from (then block its files instead)."""
    out: list[str] = []
    for path in paths:
        if any(k == path or path in k.parents for k in keep):
            if path.is_dir():
                out += [
                    str(p)
                    for p in path.iterdir()
                    if p.is_file() and (p.suffix in {".safetensors", ".md"} or ".sqlite" in p.name or ".db" in p.name)
                ]
        else:
            out.append(str(path))
    return out


def theme() -> gr.themes.Base:
    """Gradio's Soft theme in indigo, both font stacks (text, and the monospace tables are set in) ending with the
    emoji fallbacks (aigc_ui.emoji). Soft's own stacks are read from its signature, not retyped: a retyped copy
    named a Montserrat weight Gradio does not ship, a 404 on every page load."""
    defaults = inspect.signature(gr.themes.Soft.__init__).parameters
    fallbacks = tuple(gr.themes.Font(family) for family in emoji.FALLBACK_FAMILIES)
    return gr.themes.Soft(
        primary_hue="indigo",
        font=(*defaults["font"].default, *fallbacks),
        font_mono=(*defaults["font_mono"].default, *fallbacks),
    )


def launch_kwargs(
    studio: Studio,
    throttle: LoginThrottle | None = None,
    queue_each: int = QUEUE_MAX_EACH,
    moves_each: int = SERVER_CALLS_EACH,
) -> dict:
    """What every launch needs: the look, upload limits and meter, each visitor's share of the queue and of
    explorer moves (aigc_ui.fair_share), the folders never to serve (and with --auth, login throttling)."""
    keep = [
        Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve(),
        Path(tempfile.gettempdir()).resolve(),
    ]
    return dict(
        theme=theme(),
        css=emoji.font_face_css() + CSS,
        max_file_size=studio.limits.max_upload_bytes,  # the studio's one size rule for a file
        show_error=False,
        blocked_paths=_blockable(studio.private_paths(), keep),
        footer_links=["api", "gradio"],
        run_history=False,
        state_session_capacity=SESSION_CAPACITY,  # Gradio's default of 10,000 sessions held ~4 GB
        enable_monitoring=False,  # /monitoring/summary told anyone every endpoint's traffic
        quiet=True,  # Gradio's start lines advise `share=True` in code: the studio prints its own (startup.banner)
        app_kwargs={
            "middleware": [
                body_limit_middleware(studio.limits.max_upload_bytes),
                upload_space_middleware(get_upload_folder(), studio.limits.max_upload_space_bytes),
                upload_middleware(studio.quotas),
                fair_share_middleware(queue_each, moves_each),
                rater_middleware(),
                unknown_calls_middleware(),
            ]
            + ([login_middleware(throttle)] if throttle else [])
        },
    )


def parse_credentials(entries: list[str], where: str) -> list[tuple[str, str]]:
    out = []
    for entry in entries:
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            raise startup.fail(f"{where}: expected USER:PASSWORD, got {entry.split(':')[0]!r}...")
        out.append((user, password))
    return out


def read_auth(args: argparse.Namespace) -> list[tuple[str, str]]:
    """--auth USER:PASS (repeatable), --auth-file FILE (one per line), or $AIGC_AUTH (comma-separated)."""
    creds = parse_credentials(args.auth or [], "--auth")
    if args.auth_file:
        try:
            lines = Path(args.auth_file).read_text().splitlines()
        except OSError as exc:
            raise startup.fail(f"--auth-file: {exc.strerror}: {args.auth_file}") from None
        creds += parse_credentials(lines, args.auth_file)
    if not creds and os.environ.get(AUTH_ENV):
        creds = parse_credentials(os.environ[AUTH_ENV].split(","), f"${AUTH_ENV}")
    return creds


def read_roles(args: argparse.Namespace, credentials: list[tuple[str, str]]) -> Roles:
    """With logins, roles apply (aigc.service.roles); --admin names must be among the logins."""
    admins = frozenset(args.admin or [])
    if admins and not credentials:
        raise startup.fail("--admin needs --auth (without logins nobody can be told apart)")
    unknown = sorted(admins - {user for user, _ in credentials})
    if unknown:
        raise startup.fail(f"--admin {unknown[0]}: no such login (give it with --auth USER:PASS)")
    return Roles(enforced=bool(credentials), admins=admins)


def internet_ok(timeout: float = 3.0) -> bool:
    """Can Gradio's share server be reached? (It would otherwise wait 30 s and print a page of advice.)"""
    import httpx
    from gradio.networking import GRADIO_API_SERVER

    try:
        return httpx.get(GRADIO_API_SERVER, timeout=timeout).status_code < 500
    except httpx.HTTPError:
        return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="aigc serve", description="AIGC Studio: the web page.")
    p.add_argument("--host", default="127.0.0.1", help="where to listen (default %(default)s; 0.0.0.0: a network)")
    p.add_argument("--port", type=int, default=None, help="port (default: 7860 or the next free one)")
    p.add_argument("--share", action="store_true", help="ask Gradio for a temporary public link (use with --auth)")
    p.add_argument("--auth", action="append", metavar="USER:PASS", help=f"require a login (repeatable; or ${AUTH_ENV})")
    p.add_argument("--auth-file", metavar="FILE", help="logins, one USER:PASS per line")
    p.add_argument(
        "--admin",
        action="append",
        metavar="USER",
        help="with --auth: this user is an admin (repeatable): sees every version, publishes visitors' fine-tunes",
    )
    p.add_argument(
        "--db", metavar="URL", default=None, help="database URL (default: $AIGC_DB_URL, else SQLite under $AIGC_HOME)"
    )
    p.add_argument("--models", metavar="DIR", default=None, help="extra folder of checkpoints, looked up first")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads for serving (default 1: stays live while a run trains)"
    )
    p.add_argument(
        "--warm-up",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get(WARM_UP_ENV, "1") != "0",
        help="embed the training images for the reward model in the background at start, once, so the first "
        f"fine-tune does not wait for it (default on; ${WARM_UP_ENV}=0 turns it off)",
    )
    p.add_argument(
        "--queue-max",
        type=int,
        default=QUEUE_MAX_EVENTS,
        metavar="N",
        help=f"requests that may wait in the page's queue, all visitors together (default {QUEUE_MAX_EVENTS}); "
        "past it a request is refused at once, so a flood cannot hold the server's memory and everyone's wait",
    )
    add_share_flags(p)
    connection_guard.add_connection_flags(p)
    p.add_argument(
        "--finetune-slots", type=int, default=1, metavar="N", help="fine-tuning runs training at once (default 1)"
    )
    p.add_argument(
        "--finetune-line", type=int, default=20, metavar="N", help="fine-tuning runs that may wait in line (default 20)"
    )
    p.add_argument(
        "--finetune-queue",
        choices=["local", "postgres"],
        default="local",
        help="local: this process trains the line (default); postgres: `aigc worker` processes on any machine "
        "take runs from the --db PostgreSQL",
    )
    add_quota_flags(p)
    add_disk_floor_flag(p)
    return p.parse_args(argv)


def serve(args: argparse.Namespace, block: bool = True) -> tuple[gr.Blocks, Studio]:
    """Open the studio and launch the page; with block=False return at once (tests close both)."""
    memory.tame_malloc()  # before the handler threads allocate: what a burst frees goes back to the system
    credentials = read_auth(args)
    quotas = Quotas(quota_settings(args))
    startup.check_counts(args)  # a count flag out of range: one line naming it
    roles = read_roles(args, credentials)
    open_files = startup.raise_open_files_limit()  # every connection is an open file, none held for nothing:
    connection_guard.install(connection_guard.limits_from(args, open_files))
    studio = startup.open_studio(args.db, args.models, args.device, args.threads)  # or one line and exit 2
    studio.quotas, studio.roles = quotas, roles
    studio.disk_floor.min_free_mb = args.min_free_disk_mb
    line = QueueSettings(concurrency=args.finetune_slots, max_queued=args.finetune_line)
    if args.finetune_queue == "postgres":
        try:
            studio.use_worker_line(line)
        except StudioError as exc:
            studio.close()
            raise startup.fail(f"--finetune-queue postgres: {exc}") from None
    studio.queue.settings = line
    demo = build_demo(studio, queue_max=args.queue_max)
    share = bool(args.share)
    if share and not internet_ok():
        print("--share: no internet connection, so no public link; serving locally only.", file=sys.stderr)
        share = False
    if args.share and not credentials:
        print(
            "warning: --share without --auth: anyone with the link can see this studio and add ratings.",
            file=sys.stderr,
        )
    try:
        startup.launch(  # a port in use: one line; a slow first page on a busy host: waited for, not fatal
            demo,
            block=False,
            server_name=startup.listen_name(args.host),  # one line if this machine cannot listen there
            server_port=args.port,
            share=share,
            auth=credentials or None,
            auth_message=login_message(),
            **launch_kwargs(studio, LoginThrottle() if credentials else None, args.queue_max_each, args.moves_max_each),
        )
    except SystemExit:
        studio.close()
        raise
    if share and not demo.share_url:
        print("--share: Gradio could not open a public link; serving locally only.", file=sys.stderr)
    summaries = studio.models()
    lines = startup.banner(
        demo.local_url or f"http://{args.host}:{args.port}/",
        host=args.host,
        models=[(m.name, m.kind) for m in summaries],
        database=masked_url(studio.database_url(args.db)),
        logins=len(credentials or []),
        share_asked=bool(args.share),
        share_url=demo.share_url if share else None,
    )
    print("\n".join(lines), flush=True)
    if args.warm_up:
        threading.Thread(target=_warm_up, args=(studio,), name="aigc-warm-up", daemon=True).start()
    if block:
        demo.block_thread()
    return demo, studio


def _warm_up(studio: Studio) -> None:
    """The background warm-up (`Studio.warm_up`): says what it does, and never takes the server down."""
    try:
        done = studio.warm_up()
    except Exception as exc:  # noqa: BLE001 - a cache only: the first run computes what it needs itself
        print(f"aigc serve: warm-up skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
        return
    if done:
        print(f"aigc serve: warm-up done for {', '.join(done)} (cached for every fine-tune)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    demo, studio = serve(args, block=True)
    demo.close()
    studio.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
