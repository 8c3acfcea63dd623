"""The `aigc` command: argument parsing only; each sub-command's work lives in `aigc.cli.commands`.

aigc train {gan,vae,classifier} --data PATH     train a model (also the shipped ones)
aigc sample MODEL --n 64 --seed 0 --out grid.png
aigc evaluate MODEL --n 10000                    FID / precision / recall as JSON
aigc prior VAE --components 50 --spread 1.2      refit a VAE's sampling prior
aigc filter GAN --keep 0.8                       keep the draws its discriminator passes, class by class
aigc finetune MODEL                              ratings → reward → weighted fine-tune
aigc ratings export|stats, aigc db upgrade       the feedback database
aigc serve [app flags]                           the web studio (same as `python app.py`)
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from aigc import paths
from aigc.cli import commands
from aigc.cli.filter import add_shipped_flag
from aigc.cli.numbers import COUNT, EVERY, POSITIVE, SAMPLES, SEED, THREADS, number, whole
from aigc.models import bounds

PLUGIN_GROUP = "aigc.commands"
PLUGIN_HELP = {"serve": "launch the web studio (same flags as `python app.py`)"}


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a GAN, VAE or the evaluation classifier")
    p.add_argument("kind", choices=["gan", "vae", "classifier"])
    p.add_argument(
        "--data",
        default=None,
        help="Fashion-MNIST/MNIST IDX folder, a folder of images, or 'synthetic' (default: find Fashion-MNIST)",
    )
    p.add_argument("--size", type=int, default=None, choices=[28, 32, 64], help="image size (default 28, or --init's)")
    p.add_argument("--channels", type=int, default=None, choices=[1, 3], help="default 1, or --init's")
    p.add_argument("--limit", type=COUNT, default=None, help="use only the first N training images")
    p.add_argument("--epochs", type=POSITIVE, default=10.0)
    p.add_argument("--steps", type=COUNT, default=None, help="number of steps (overrides --epochs)")
    p.add_argument("--batch-size", type=COUNT, default=128)
    p.add_argument("--lr", type=POSITIVE, default=None, help="learning rate (default per kind)")
    p.add_argument("--latent-dim", type=whole(*bounds.LATENT_DIM), default=None)
    p.add_argument("--width", type=whole(*bounds.WIDTH), default=None, help="base channel width")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--name", default=None, help="model name (default: the kind)")
    p.add_argument(
        "--out", default=None, help="run folder for logs, sample grids and resumable checkpoints (default runs/NAME)"
    )
    p.add_argument("--save", default=None, help="final checkpoint path (default OUT/NAME.safetensors)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model-config field, e.g. --set kl_weight=0.5 (repeatable; the fields are in the model's config class)",
    )
    p.add_argument(
        "--ema",
        type=number(0.0),  # below 1 is checked where the average is made (training.objectives)
        default=0.0,
        metavar="DECAY",
        help="GAN: ship an exponential moving average of the generator's weights with this decay, e.g. 0.999",
    )
    p.add_argument(
        "--perceptual",
        default=None,
        metavar="CLASSIFIER",
        help="VAE: add a perceptual distance under this classifier checkpoint to the loss, so the decoder draws "
        "the details that tell items apart; GAN: pull each generated image towards its nearest real training image "
        "under it (train a separate one: not the judge that evaluates the model)",
    )
    p.add_argument(
        "--perceptual-weight",
        type=number(0.0),
        default=None,
        metavar="W",
        help="with --perceptual: the distance's weight (default: "
        + ", ".join(f"{w:g} for a {kind}" for kind, w in commands.PERCEPTUAL_WEIGHT.items())
        + "; a VAE's per-pixel loss and a GAN's adversarial loss differ 30-fold in scale)",
    )
    p.add_argument(
        "--class-weights",
        default=None,
        metavar="CLASS=W,...",
        help="draw the training images of these classes W times as often (a labelled dataset; others stay at 1), "
        "e.g. 6=1.5,8=0.9 to ask a GAN for more of a class it draws too rarely",
    )
    p.add_argument(
        "--prior-components",
        type=whole(0),
        default=0,
        metavar="K",
        help="VAE: fit a K-component Gaussian mixture to the aggregate posterior and sample from it (0: N(0, I))",
    )
    p.add_argument(
        "--init",
        default=None,
        help="start from this checkpoint (continue training; --set may change settings that keep its weights, "
        "e.g. kl_weight)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUT/last.safetensors")
    p.add_argument("--checkpoint-every", type=EVERY, default=1000)
    p.add_argument("--sample-every", type=EVERY, default=500)
    p.add_argument("--threads", type=THREADS, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 … (default: cuda when present)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="3 steps of a tiny model on synthetic data, end to end")
    p.set_defaults(func=commands.cmd_train)


def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="write a grid of samples to a PNG")
    p.add_argument("model", help="model name (fashion-gan, fashion-vae, …) or checkpoint path")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)  # the studio's seed rule (aigc.service.limits), as the API
    p.add_argument("--truncation", type=float, default=None)
    p.add_argument("--out", default="grid.png")
    p.add_argument("--nrow", type=COUNT, default=None)
    p.add_argument("--upscale", type=whole(1, 32), default=1)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=commands.cmd_sample)


def _add_prior(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prior", help="refit a trained VAE's sampling prior (a Gaussian mixture on its latents)")
    p.add_argument("model", help="VAE name or checkpoint path (rewritten in place; weights unchanged)")
    p.add_argument("--components", type=COUNT, default=50, help="mixture components (split evenly over classes)")
    p.add_argument("--spread", type=POSITIVE, default=1.0, help="scale every component by this (1.0: as fitted)")
    p.add_argument("--images", type=COUNT, default=20000, help="training images the mixture is fitted to")
    p.add_argument("--data", default=None, help="the training data (default: find Fashion-MNIST)")
    p.add_argument("--ignore-labels", action="store_true", help="one fit over all images, even when labelled")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--threads", type=THREADS, default=None)
    add_shipped_flag(p)
    p.set_defaults(func=commands.cmd_prior)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="FID, precision and recall against Fashion-MNIST test images (JSON)")
    p.add_argument("model")
    p.add_argument("--n", type=SAMPLES, default=10000)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--data", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--update-card", action="store_true", help="store the figures in the checkpoint and its model card")
    add_shipped_flag(p)
    p.set_defaults(func=commands.cmd_evaluate)


def plugin_commands() -> dict[str, EntryPoint]:
    """Sub-commands that other installed packages add (group `aigc.commands`), e.g. `serve` from aigc_ui.

    Why entry points: the engine must not import the web page (the page imports the engine), yet
    `aigc serve` is the command people type. Each plugin is a `main(argv) -> int` that parses its own
    flags, so every flag after the name is handed over untouched.
    """
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}


def _add_plugin(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help=PLUGIN_HELP.get(name, f"{name} (a plug-in command)"), add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda args: run_plugin(name, args.rest))


def run_plugin(name: str, argv: list[str]) -> int:
    plugin = plugin_commands().get(name)
    if plugin is None:
        print(f"aigc {name}: not installed (it comes with the aigc-studio package: pip install -e .)", file=sys.stderr)
        return 2
    return int(plugin.load()(argv) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aigc", description="AIGC Studio: sample, explore, rate and fine-tune generative image models."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_sample(sub)
    _add_evaluate(sub)
    _add_prior(sub)
    for name in sorted({*plugin_commands(), *PLUGIN_HELP}):
        _add_plugin(sub, name)
    from aigc.cli.finetune import add_commands as add_finetune
    from feedback_db.cli import add_commands as add_database

    add_finetune(sub)
    from aigc.cli.worker import add_commands as add_worker

    add_worker(sub)
    from aigc.cli.filter import add_commands as add_filter

    add_filter(sub)
    add_database(sub, default_db=paths.database_url())  # `aigc ratings`/`aigc db`: the home's database
    return parser


def _say_our_warnings_plainly(command: str) -> None:
    """Our own warnings (a folder's unreadable images) as one line, like the errors: "aigc train: warning: …".

    Python's default format adds the file and the source line that raised it, which reads like a crash to
    someone running a command. Other libraries' warnings keep the default format.
    """
    package = Path(__file__).resolve().parents[1]
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if category is UserWarning and Path(filename).resolve().is_relative_to(package):
            print(f"aigc {command}: warning: {message}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in {*plugin_commands(), *PLUGIN_HELP}:
        # every flag after the name belongs to the plug-in (argparse's REMAINDER refuses a leading flag)
        return run_plugin(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    _say_our_warnings_plainly(args.command)
    from aigc.data.datasets import DatasetError
    from aigc.models.checkpoint import CheckpointError
    from feedback_db import FeedbackError

    try:
        return int(args.func(args) or 0)
    except (
        CheckpointError,
        DatasetError,
        ValueError,
        FloatingPointError,
    ) as exc:  # StudioError, DeviceError: ValueErrors
        print(f"aigc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FeedbackError as exc:  # e.g. Conflict: a run of the same parent is already running
        print(f"aigc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C (a fine-tune's own words: where it stopped, that no child was made)
        print(f"aigc {args.command}: stopped{f': {exc}' if str(exc) else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
