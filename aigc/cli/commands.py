"""What each `aigc` sub-command does, given its parsed arguments. Parsing lives in `cli.py`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

import torch

from aigc.cli.class_map import parse_class_map
from aigc.data.datasets import load_dataset, synthetic_dataset
from aigc.data.images import save_grid
from aigc.models import CONFIGS, MODELS, VAE, AnyModel
from aigc.models.batched import infer_cat
from aigc.models.cards import earlier_stages, write_card
from aigc.models.checkpoint import CheckpointRecord, load_module
from aigc.models.latent import vae_dimension_kl
from aigc.models.pipeline import load_model, pick_device
from aigc.models.prior import aggregate_posterior
from aigc.training import distributed
from aigc.training.loop import TrainConfig, finish_record, save_final, train
from aigc.training.perceptual import provenance as perceptual_provenance


def _model_config(args: argparse.Namespace, channels: int, size: int):
    overrides = {"image_size": size, "channels": channels}
    if args.latent_dim and args.kind != "classifier":
        overrides["latent_dim"] = args.latent_dim
    if args.width:
        key = {"gan": "g_width", "vae": "width", "classifier": "width"}[args.kind]
        overrides[key] = args.width
        if args.kind == "gan":
            overrides["d_width"] = args.width
    if args.dry_run:
        overrides.update(
            {
                "gan": {"g_width": 8, "d_width": 8},
                "vae": {"width": 8, "hidden": 32},
                "classifier": {"width": 8, "embed_dim": 16},
            }[args.kind]
        )
    overrides.update(_config_settings(args.kind, getattr(args, "set", []) or []))
    return CONFIGS[args.kind](**overrides)


def _with_settings(model: AnyModel, settings: list[str], source: str) -> AnyModel:
    """A checkpoint to continue from, with `--set` applied: a setting the weights do not depend on (the VAE's
    `kl_weight`) changes how training goes on; one that reshapes the network is refused by name. Before, `--set`
    with `--init` was silently ignored, and a run meant to continue at another KL weight went on at the old one."""
    kind: str = getattr(model, "kind")  # noqa: B009 - nn.Module's __getattr__ types every attribute as a tensor
    changes = _config_settings(kind, settings)
    if not changes:
        return model
    rebuilt = MODELS[kind](dataclasses.replace(getattr(model, "cfg"), **changes))  # noqa: B009
    try:
        rebuilt.load_state_dict(model.state_dict())
    except RuntimeError:
        raise ValueError(
            f"--set {', '.join(sorted(changes))}: changes the network of {source}, so its weights no longer fit; "
            "when continuing from a checkpoint only settings that keep the weights (such as kl_weight) can change"
        ) from None
    return rebuilt


def _config_settings(kind: str, settings: list[str]) -> dict:
    """`--set key=value` pairs, typed by the config dataclass's own defaults; unknown keys are refused by name."""
    fields = {f.name: f for f in dataclasses.fields(CONFIGS[kind])}
    out: dict = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(fields)}")
        default = fields[key].default
        try:
            if isinstance(default, bool):
                if raw.lower() not in {"true", "false", "1", "0"}:
                    raise ValueError(raw)
                out[key] = raw.lower() in {"true", "1"}
            elif isinstance(default, (int, float, str)):
                out[key] = type(default)(raw)
            else:
                out[key] = raw
        except ValueError:
            raise ValueError(f"--set {item!r}: {key} takes a {type(default).__name__}, got {raw!r}") from None
    return out


def _init_checkpoint(args: argparse.Namespace) -> tuple[AnyModel, CheckpointRecord]:
    """`--init`'s model with `--set` applied, and its record; `--size`/`--channels` default to its own.

    Why here, before the data: `aigc train gan --init fashion-vae` trained the VAE under the GAN's name, and
    `--init` of a greyscale model with `--channels 3` ended in a traceback after the data had loaded."""
    model, parent = load_module(args.init)
    kind: str = getattr(model, "kind")  # noqa: B009 - nn.Module's __getattr__ types every attribute as a tensor
    if kind != args.kind:
        raise ValueError(f"--init {args.init}: is a {kind}, not a {args.kind} (aigc train {kind} --init …)")
    cfg = getattr(model, "cfg")  # noqa: B009
    own = {"size": cfg.image_size, "channels": cfg.channels}
    asked = {key: getattr(args, key) for key in own if getattr(args, key) not in (None, own[key])}
    if asked:
        raise ValueError(
            f"--init {args.init}: draws {cfg.channels}-channel {cfg.image_size}×{cfg.image_size} images; "
            + ", ".join(f"--{key} {value}" for key, value in asked.items())
            + " would not fit its weights (leave it out to train at the checkpoint's own)"
        )
    args.size, args.channels = own["size"], own["channels"]
    return _with_settings(model, getattr(args, "set", []) or [], args.init), parent


def cmd_train(args: argparse.Namespace) -> int:
    """Train; under torchrun every process runs this, data-parallel, and only rank 0 writes or prints results."""
    if args.threads:
        torch.set_num_threads(args.threads)  # the entry point sets the process's thread count, once
    dist = distributed.init_from_env(args.device)
    name = args.name or f"{args.kind}"
    # a dry run's own folder by default: it replaced a real run's checkpoint, card and log in runs/NAME
    out_dir = Path(args.out or (f"runs/{name}-dry-run" if args.dry_run else f"runs/{name}"))
    init = _init_checkpoint(args) if args.init else None  # before the data: a wrong --init is told at once
    if init is None:
        args.size, args.channels = args.size or 28, args.channels or 1
        _model_config(args, args.channels, args.size)  # a bad --set or size is refused before the data loads
    if args.dry_run:
        dataset = synthetic_dataset(n=64, size=args.size, channels=args.channels)
    else:
        dataset = load_dataset(args.data, size=args.size, channels=args.channels, limit=args.limit)
    if dist.is_main:
        parallel = f"; data-parallel over {dist.world_size} processes ({dist.device.type})" if dist.parallel else ""
        print(
            f"data: {dataset.name}, {len(dataset)} images {tuple(dataset.images.shape[1:])}{parallel}", file=sys.stderr
        )
    cfg = TrainConfig(
        out_dir=str(out_dir),
        epochs=args.epochs,
        steps=3 if args.dry_run else args.steps,
        batch_size=16 if args.dry_run else args.batch_size,
        lr=args.lr,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
        threads=args.threads,
        device=str(dist.device if dist.parallel else pick_device(args.device)),
        progress=not args.quiet,
        resume=args.resume,
        ema_decay=args.ema,
        perceptual=args.perceptual,
        perceptual_weight=perceptual_weight(args) if args.perceptual else 0.0,
    )
    weights, class_weights = class_sampling_weights(args.class_weights, dataset)
    torch.manual_seed(args.seed)
    if init is not None:
        model, parent = init
        continued = parent.name == name  # the same model trained further (a new stage), not a child version
        record = CheckpointRecord(
            kind=model.kind,
            config=parent.config,
            name=name,
            dataset=dataset.name,
            parent=None if continued else parent.name,
            training={"stages": earlier_stages(parent)} if continued else {},
        )
    else:
        model = MODELS[args.kind](_model_config(args, dataset.channels, dataset.size))
        record = CheckpointRecord(kind=args.kind, config={}, name=name, dataset=dataset.name)
    result = train(model, dataset, cfg, record, weights=weights, dist=dist)
    if result.interrupted:
        return 130
    if not dist.is_main:
        return 0  # rank 0 holds the same weights and writes them
    command = (
        "aigc " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv and "aigc" in sys.argv[0]
        else " ".join(shlex.quote(a) for a in sys.argv)
    )
    finish_record(
        record,
        result,
        cfg,
        command=command,
        device=cfg.device,
        **(
            {"perceptual_network": perceptual_provenance(args.perceptual, cfg.perceptual_weight)}
            if args.perceptual
            else {}
        ),
        **({"class_weights": class_weights} if class_weights else {}),
    )
    if model.kind == "vae":
        record.extra["latent_kl"] = [round(float(v), 5) for v in vae_dimension_kl(model.cpu(), dataset.images[:10000])]
        if args.prior_components > 0:  # sample where the encoder put the data, not N(0, I)'s gaps between classes
            labels = dataset.labels[:20000] if dataset.labels is not None else None  # class by class when known
            record.extra["prior"] = aggregate_posterior(
                model.cpu(), dataset.images[:20000], args.prior_components, seed=args.seed, labels=labels
            )
    if model.kind == "classifier" and not args.dry_run and args.data != "synthetic":
        record.extra["test_accuracy"] = classifier_accuracy(
            model, load_dataset(args.data, size=args.size, channels=args.channels, split="test")
        )
        print(f"test accuracy: {record.extra['test_accuracy']:.4f}", file=sys.stderr)
    save_path = Path(args.save) if args.save else out_dir / f"{name}.safetensors"
    save_final(save_path, model, record)
    write_card(save_path, record)
    print(
        json.dumps(
            {
                "checkpoint": str(save_path),
                "steps": result.steps,
                "wall_time_s": round(result.wall_time_s, 1),
                "images_per_s": round(result.images_per_s, 1),
                **result.final_losses,
            }
        )
    )
    return 0


PERCEPTUAL_WEIGHT = {"vae": 100.0, "gan": 3.0}  # measured starting points: VAE per-pixel sums vs a GAN's BCE


def perceptual_weight(args: argparse.Namespace) -> float:
    """--perceptual-weight, or the kind's default: the two losses it is weighed against differ 30-fold in scale."""
    if args.perceptual_weight is not None:
        return args.perceptual_weight
    return PERCEPTUAL_WEIGHT.get(args.kind, PERCEPTUAL_WEIGHT["vae"])


def class_sampling_weights(spec: str | None, dataset) -> tuple[torch.Tensor | None, dict[str, float]]:
    """`--class-weights 6=1.5,8=0.9` → (per-image sampling weights, {class: weight}); (None, {}) when unset.

    Why: a GAN can settle on drawing one class too rarely (the shipped one drew 0.069 shirts); drawing
    that class's real images more often makes the discriminator ask for it. Refused by name on an
    unlabelled dataset, an unknown class or a weight that is not a positive number.
    """
    if not spec:
        return None, {}
    if dataset.labels is None:
        raise ValueError(f"--class-weights needs a labelled dataset; {dataset.name} has no labels")
    classes = int(dataset.labels.max()) + 1
    expected = f"CLASS=W with CLASS in 0..{classes - 1} and 0 < W <= 100"
    per_class = torch.ones(classes)
    chosen: dict[str, float] = {}
    for label, weight in parse_class_map(spec, "--class-weights", expected).items():
        if not 0 <= label < classes or not 0 < weight <= 100:
            raise ValueError(f"--class-weights {f'{label}={weight:g}'!r}: expected {expected}")
        per_class[label], chosen[str(label)] = weight, weight
    return per_class[dataset.labels.long()], chosen


def classifier_accuracy(model: torch.nn.Module, dataset) -> float:
    model.eval().cpu()
    predicted = infer_cat(lambda chunk: model(chunk).argmax(1), dataset.images)
    return int((predicted == dataset.labels).sum()) / len(dataset)


def cmd_sample(args: argparse.Namespace) -> int:
    from aigc.service.limits import DEFAULT  # the API's rules: the CLI refuses what the page refuses

    n, seed, truncation = DEFAULT.images(args.n), DEFAULT.seed(args.seed), DEFAULT.truncation(args.truncation)
    model = generative(load_model(args.model, device=args.device))
    images = model.sample(n, seed, truncation=truncation)
    try:
        path = save_grid(images, args.out, nrow=args.nrow, upscale=args.upscale)
    except OSError as exc:  # a folder that cannot be written, a file where a folder is meant
        raise ValueError(f"--out {args.out}: cannot write the grid there ({exc.strerror or exc})") from None
    print(json.dumps({"model": model.name, "n": n, "seed": seed, "out": str(path)}))
    return 0


def cmd_prior(args: argparse.Namespace) -> int:
    """Refit a trained VAE's sampling prior in place (weights unchanged): the mixture z is drawn from."""
    from aigc.cli.filter import rewrite_allowed
    from aigc.models.checkpoint import read_checkpoint, save_tensors
    from aigc.models.pipeline import resolve_model_path

    if args.threads:
        torch.set_num_threads(args.threads)
    path = rewrite_allowed(resolve_model_path(args.model), args.shipped)
    tensors, record, _ = read_checkpoint(path)
    if record.kind != "vae":
        raise ValueError(f"{record.name} is a {record.kind}; only a VAE samples from a fitted prior")
    module, _ = load_module(path)
    assert isinstance(module, VAE)  # built from the record just checked
    dataset = load_dataset(
        args.data, size=record.config.get("image_size", 28), channels=record.config.get("channels", 1)
    )
    images = dataset.images[: args.images]
    labels = dataset.labels[: args.images] if dataset.labels is not None and not args.ignore_labels else None
    record.extra["prior"] = aggregate_posterior(
        module.eval(), images, args.components, seed=args.seed, labels=labels, spread=args.spread
    )
    record.extra["prior_fit"] = {
        "components": args.components,
        "spread": args.spread,
        "images": len(images),
        "by_class": labels is not None,
        "command": "aigc " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else "",
    }
    record.extra.pop("metrics", None)  # measured with the old prior: no longer true
    save_tensors(path, tensors, record)
    write_card(path, record)
    print(
        json.dumps({"checkpoint": str(path), **{k: v for k, v in record.extra["prior_fit"].items() if k != "command"}})
    )
    return 0


def generative(model):
    """The model, if it draws samples: the shipped classifier is among the known models, and sampling or
    evaluating it ended in "AttributeError: 'Classifier' object has no attribute 'latent_dim'"."""
    if model.kind not in ("gan", "vae"):
        raise ValueError(f"{model.name} is a {model.kind}, not a GAN or a VAE: it draws no samples")
    return model


def cmd_evaluate(args: argparse.Namespace) -> int:
    from aigc.cli.filter import rewrite_allowed
    from aigc.evaluation.metrics import evaluate_model

    model = generative(load_model(args.model, device="cpu"))
    if args.update_card:  # before the measuring: refused after minutes of it, the figures were lost
        rewrite_allowed(model.path, args.shipped)

    report = evaluate_model(args.model, n=args.n, seed=args.seed, data=args.data, device=args.device)
    print(json.dumps(report))
    if args.update_card:
        _store_metrics(args.model, report, args.data)
    return 0


def _store_metrics(model_name: str, report: dict, data: str | None = None) -> None:
    """Write measured metrics into the checkpoint record and its card (weights unchanged)."""
    from aigc.models.checkpoint import read_checkpoint, save_tensors
    from aigc.models.pipeline import resolve_model_path

    path = resolve_model_path(model_name)
    tensors, record, _ = read_checkpoint(path)
    record.extra["metrics"] = {k: v for k, v in report.items() if isinstance(v, (int, float))}
    if "class_histogram" in report:
        record.extra["metrics"]["class_histogram"] = list(report["class_histogram"])
    if record.kind == "vae":  # the decoder's sharpness on its own: held-out test images and their reconstructions
        from aigc.evaluation.reconstruction import reconstruction_report

        grid = path.with_name(f"{path.stem}.reconstructions.png")
        record.extra["reconstruction"] = {  # with the judge's classes: is a class gap the decoder's or the prior's?
            **reconstruction_report(
                load_model(str(path), device="cpu"),
                data=data,
                n=report["n"],  # as many test images as samples were measured
                grid_path=grid,
            ),
            "grid": grid.name,
        }
    save_tensors(path, tensors, record)
    write_card(path, record)
    print(f"metrics written into {path} and {path.with_suffix('.md')}", file=sys.stderr)
