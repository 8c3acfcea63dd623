"""`aigc filter GAN --keep 0.8`: calibrate (or drop) a GAN's acceptance rule in place; weights unchanged.

The rule (aigc/models/acceptance.py) keeps, class by class, the draws the GAN's own discriminator finds
most real. Calibrating it decodes `--draws` samples of the model as it is, asks the discriminator and
the classifier named by `--by` about each, and stores one threshold per class in the model's record.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from aigc.cli.class_map import parse_class_map
from aigc.cli.numbers import COUNT, SEED, THREADS
from aigc.models.acceptance import check_keep
from aigc.models.cards import write_card
from aigc.models.checkpoint import load_module, read_checkpoint, save_tensors
from aigc.models.classifier import Classifier
from aigc.models.filter_rule import fit_rule
from aigc.models.pipeline import ImageModel, resolve_model_path
from aigc.paths import PRETRAINED_DIR

CALIBRATION_SEED = 2**31 - 1  # draws apart from the low seeds people and `aigc evaluate` use
MAX_DRAWS = 100_000  # decoded at once: 31 MB of 28×28 pictures


def rewrite_allowed(path: Path, shipped: bool) -> Path:
    """`path`, if this command may rewrite it in place. A shipped checkpoint is rewritten only with --shipped
    (`make pretrained`): a rewritten shipped file has a new hash, so the studio retires its version, and the
    ratings of that version never feed a fine-tune again; its card also lost its measured figures."""
    if not shipped and path.resolve().parent == PRETRAINED_DIR.resolve():
        raise ValueError(
            f"{path.stem} is a shipped model: rewriting it retires its version's ratings. Copy it into your models "
            f"folder under another name and pass that, or add --shipped to rebuild the shipped file itself"
        )
    return path


def add_shipped_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shipped", action="store_true", help="allow rewriting a shipped checkpoint (make pretrained)")


def cmd_filter(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    path = rewrite_allowed(resolve_model_path(args.model), args.shipped)
    tensors, record, _ = read_checkpoint(path)
    if record.kind != "gan":
        raise ValueError(f"{record.name or path.stem} is a {record.kind}; only a GAN's discriminator can filter")
    record.extra.pop("acceptance", None)
    record.extra.pop("metrics", None)  # measured with the old sampling: no longer true
    summary: dict = {"checkpoint": str(path), "acceptance": None}
    if not args.off:
        keep = check_keep(args.keep)
        if not 1000 <= args.draws <= MAX_DRAWS:
            raise ValueError(f"--draws must be between 1,000 and {MAX_DRAWS:,}, got {args.draws}")
        started = time.perf_counter()
        module, _ = load_module(path)
        model = ImageModel(module, record, path, device="cpu")  # the record without a rule: every draw
        classifier_path = resolve_model_path(args.by)
        classifier, classifier_record = load_module(classifier_path)
        if not isinstance(classifier, Classifier):
            raise ValueError(f"--by {args.by}: a {classifier_record.kind}, not a classifier")
        record.extra["acceptance"] = fit_rule(
            model,
            classifier,
            classifier_record.weights_sha256,
            keep,
            args.draws,
            args.seed,
            parse_class_map(args.class_keep, "--class-keep", "CLASS=SHARE, such as 6=0.9"),
            classifier=classifier_record.name or classifier_path.stem,
            command="aigc " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else "",
        )
        # part of the model's training budget (benchmarks/model_quality.py adds it to the stages' wall time)
        record.extra["acceptance"]["wall_time_s"] = round(time.perf_counter() - started, 1)
        summary["acceptance"] = {k: v for k, v in record.extra["acceptance"].items() if k != "command"}
    save_tensors(path, tensors, record)
    write_card(path, record)
    print(json.dumps(summary))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "filter", help="keep a GAN's samples its discriminator finds most real, class by class (weights unchanged)"
    )
    p.add_argument("model", help="GAN name or checkpoint path (rewritten in place; weights unchanged)")
    p.add_argument("--keep", type=float, default=0.8, help="share of each class's draws kept (0.3-1)")
    p.add_argument("--class-keep", default=None, help="classes that keep their own share, CLASS=SHARE,... (e.g. 6=0.9)")
    p.add_argument("--by", default="fashion-perceptual", help="the network that calls a class (never the judge)")
    p.add_argument("--draws", type=COUNT, default=20000, help="samples the thresholds are calibrated on")
    p.add_argument("--seed", type=SEED, default=CALIBRATION_SEED)
    p.add_argument("--off", action="store_true", help="drop the rule: every draw is a sample again")
    p.add_argument("--threads", type=THREADS, default=None)
    add_shipped_flag(p)
    p.set_defaults(func=cmd_filter)
