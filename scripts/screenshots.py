"""Screenshots of each tab for the README (docs/ui-*.png), taken in a real browser.

Launches the studio on a temporary database, uses it a little as a person would (generates a batch,
rates some images, opens one in the explorer, moves a slider, breeds, interpolates), and saves one PNG
per tab. Uses the shipped models when they exist, else tiny ones trained on the spot (noise, but the
layout is right). Needs Debian's `chromium` (the page brings its own emoji font, aigc_ui/emoji.py). Rerun
when the shipped models change:

    python scripts/screenshots.py [--out docs] [--gan fashion-gan --vae fashion-vae] [--models DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from ui_latency import CHROMIUM, CHROMIUM_ARGS, free_port, tiny_models  # noqa: E402

TABS = [
    ("generate", "Generate"),
    ("explore", "Explore"),
    ("interpolate", "Interpolate"),
    ("history", "History"),
    ("models", "Feedback"),
]


def wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)", arg=[selector, text], timeout=timeout
    )


def shoot(url: str, out: Path, gan: str, vae: str, rate_more=None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)

        def save(name: str) -> None:
            page.wait_for_function("() => !document.querySelector('.toast-body')", timeout=20_000)  # toasts gone
            time.sleep(1.0)  # plots drawn
            path = out / f"ui-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            saved.append(path)

        def tab(label: str) -> None:
            page.get_by_role("tab", name=label, exact=False).first.click()

        page.goto(f"{url}?model={vae}&seed=7&n=16")
        wait_text(page, "#gen-status", "seed 7")
        page.wait_for_selector("#card-15 img")
        for i, act in ((0, "like"), (2, "like"), (5, "like"), (3, "dislike"), (9, "dislike"), (12, "like")):
            page.click(f"#{act}-{i}")
            wait_text(page, f"#card-{i}", "liked")
        save("generate")

        page.click("#explore-0")
        wait_text(page, "#ex-status", "from Generate")
        slider = page.locator("#ex-slider-0 input[type=range]")
        slider.focus()
        for _ in range(40):
            slider.press("ArrowRight")
        page.click("#ex-children-go")
        page.wait_for_selector("#ex-children img")
        save("explore")

        tab("Interpolate")
        page.locator("#ip-model input").click()
        page.get_by_role("option", name=gan, exact=False).first.click()
        page.click("#ip-go")
        page.wait_for_selector("#ip-strip img")
        page.wait_for_selector("#ip-gif img")
        save("interpolate")

        tab("History")
        page.wait_for_selector("#hist-gallery img")
        save("history")

        tab("Feedback")
        wait_text(page, "#models-stats", vae)
        page.wait_for_selector("#models-likes canvas, #models-likes svg")
        save("models")

        if rate_more is not None:
            rate_more(gan)  # enough ratings for a fine-tune (a simulated rater, through the studio like the page)
            tab("Fine-tune")
            page.locator("#ft-model input").click()
            page.get_by_role("option", name=gan, exact=False).first.click()
            wait_text(page, "#ft-ready", "ready")
            wait_text(page, "#ft-advice", "Before you train")  # the advice follows the readiness line
            page.click("#ft-start")
            page.wait_for_selector("#ft-progress[data-state=succeeded]", timeout=600_000)
            page.wait_for_selector("#ft-childgal img")
            page.click("#ab-new")
            page.wait_for_selector("#ab-left img")
            page.click("#ab-left-btn")  # blind: nothing is revealed until the session ends
            wait_text(page, "#ab-progress", "1 pick recorded")
            page.click("#ab-end")
            wait_text(page, "#ab-stats", "decided")
            save("finetune")
        browser.close()
    return saved


def simulated_rater(studio):
    """Rate 60 samples as someone who likes trousers, sandals and sneakers (needs the shipped classifier)."""
    from aigc.paths import PRETRAINED_DIR

    if not (PRETRAINED_DIR / "fashion-classifier.safetensors").exists():
        return None
    from aigc.evaluation.metrics import SimulatedRater

    rater = SimulatedRater((1, 5, 7), name="screenshot-rater")

    def rate(model: str) -> None:
        batch = studio.sample(model, 60, 123, rater=rater.name)
        for sample_id, score in zip(batch.sample_ids, rater.rate(batch.images)):
            studio.rate(sample_id, float(score), rater.name)

    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--gan", default="fashion-gan")
    parser.add_argument("--vae", default="fashion-vae")
    parser.add_argument("--models", help="folder of checkpoints (default: the shipped ones, else tiny ones)")
    args = parser.parse_args(argv)

    from aigc.service.studio import Studio
    from aigc_ui import server as app

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aigc-shots-") as tmp:
        os.environ["AIGC_HOME"] = str(Path(tmp) / "home")
        models_dir, gan, vae = args.models, args.gan, args.vae
        with Studio.open(f"sqlite:///{tmp}/shots.sqlite3", models_dir=models_dir) as studio:
            names = {m.name for m in studio.models()}
        if not {gan, vae} <= names:
            print(f"{gan}/{vae} not found: using tiny models (noise, layout only)", file=sys.stderr)
            models_dir, gan, vae = str(tiny_models(Path(tmp))), "tiny-gan", "tiny-vae"
        with Studio.open(f"sqlite:///{tmp}/shots.sqlite3", models_dir=models_dir) as studio:
            demo = app.build_demo(studio)
            try:
                demo.launch(prevent_thread_lock=True, server_port=free_port(), **app.launch_kwargs(studio))
                for path in shoot(demo.local_url, out, gan, vae, rate_more=simulated_rater(studio)):
                    print(path)
            finally:
                with contextlib.redirect_stdout(sys.stderr):
                    demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
