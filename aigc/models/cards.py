"""Model cards: a README beside each checkpoint saying how it was made and how good it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aigc.data.datasets import FASHION_MNIST_CLASSES
from aigc.models.checkpoint import CheckpointRecord

STAGE_FIELDS = (
    "command",
    "steps",
    "wall_time_s",
    "images_per_s",
    "device",
    "threads",
    "final_losses",
    "perceptual_network",  # a stage trained with --perceptual: the classifier it read, and how it was made
    "class_weights",  # a stage trained with --class-weights: how often each class's images were drawn
)


def earlier_stages(record: CheckpointRecord) -> list[dict]:
    """The training stages behind a checkpoint, oldest first, for a run that continues it under the same name.

    Why: `aigc train --init CKPT --name SAME` trains one model further (say at a lower KL weight); it is that
    model, not a child version, so it records no parent, and its card must still show every command it took."""
    t = record.training
    return [*t.get("stages", []), {k: t.get(k) for k in STAGE_FIELDS}]


def total_wall_time(stages: list[dict]) -> float:
    """Seconds a model took to train over all its stages, with the perceptual network a stage trained first
    (it is part of the recipe's budget); one unrecorded stage counts as 0."""
    return sum(
        float(s.get("wall_time_s") or 0) + float((s.get("perceptual_network") or {}).get("wall_time_s") or 0)
        for s in stages
    )


def _commands(stage: dict) -> list[str]:
    """A stage's command, after the one that trained its perceptual network: the block is the whole recipe."""
    network = stage.get("perceptual_network") or {}
    return [*([network["command"]] if network.get("command") else []), stage.get("command") or "(not recorded)"]


def _perceptual_line(stage: dict, label: str) -> list[str]:
    network = stage.get("perceptual_network")
    if not network:
        return []
    return [
        f"- {label}perceptual network (trained first; a VAE's fine-tunes read it too): "
        f"wall time {network.get('wall_time_s')} s, test accuracy {network.get('test_accuracy')}, "
        f"weights sha256 `{network.get('weights_sha256')}`"
    ]


def _stage_line(t: dict) -> str:
    return (
        f"steps: {t.get('steps')}, wall time: {t.get('wall_time_s')} s on {t.get('device', 'cpu')} "
        f"with {t.get('threads')} thread{'' if t.get('threads') == 1 else 's'} ({t.get('images_per_s')} images/s)"
    )


def _how_it_was_made(t: dict, rule: dict | None = None) -> list[str]:
    """The commands and wall times; a GAN's acceptance rule (`aigc filter`) counts towards the total (its budget)."""
    stages = [*t.get("stages", []), t]
    after = float((rule or {}).get("wall_time_s") or 0)
    rule_line = [f"- then its acceptance rule (`aigc filter`, below): {after} s"] if after else []
    if len(stages) == 1:
        return ["```", *_commands(t), "```", "", f"- {_stage_line(t)}", *_perceptual_line(t, ""), *rule_line]
    total = total_wall_time(stages) + after
    lines = [f"Trained in {len(stages)} stages, each continuing from the one before:", ""]
    lines += ["```", *(c for s in stages for c in _commands(s)), "```", ""]
    for i, s in enumerate(stages, 1):
        lines += [f"- stage {i}: {_stage_line(s)}", *_perceptual_line(s, f"stage {i}'s ")]
    return [*lines, *rule_line, f"- total wall time: {total:.1f} s"]


def _reconstruction_classes(recon: dict) -> list[str]:
    """The judge's class shares of the test images and of their reconstructions: a class the decoder blurs
    into another loses share here already, and then no sampling prior can give it back."""
    test, rebuilt = recon["test_class_shares"], recon["recon_class_shares"]
    return [
        "",
        f"The shipped classifier's call on the same images (largest gap from a fair tenth: test images "
        f"{recon['test_class_gap']}, reconstructions {recon['recon_class_gap']}). A class that loses share here "
        "is one the decoder draws as another; the sampling prior cannot give it back.",
        "",
        "| class | " + " | ".join(str(i) for i in range(len(test))) + " |",
        "|---|" + "---|" * len(test),
        "| test images | " + " | ".join(f"{v:.3f}" for v in test) + " |",
        "| reconstructions | " + " | ".join(f"{v:.3f}" for v in rebuilt) + " |",
    ]


def render_card(record: CheckpointRecord) -> str:
    t = record.training
    lines = [
        f"# {record.name} ({record.kind})",
        "",
        f"- dataset: `{record.dataset}`",
        f"- parent: `{record.parent}`" if record.parent else "- parent: none (trained from scratch)",
        f"- config: `{json.dumps(record.config)}`",
        f"- weights sha256 (tensor content): `{record.weights_sha256}`",
        "",
        "## How it was made",
        "",
        *_how_it_was_made(t, record.extra.get("acceptance")),
        f"- final losses: `{json.dumps(t.get('final_losses', {}))}`",
    ]
    if record.extra.get("note"):
        lines += ["", f"_{record.extra['note']}_"]
    metrics = record.extra.get("metrics")
    if metrics and "fid" in metrics:
        lines += [
            "",
            "## Measured",
            "",
            f"`aigc evaluate {record.name} --n {metrics.get('n', 10000)}`: "
            f"{metrics.get('n', 10000)} samples against the "
            "10,000 Fashion-MNIST test images, in the feature space of the shipped classifier (its 128-d "
            "penultimate layer). FID is the Fréchet distance there; precision/recall are the k-NN (k=3) "
            "manifold estimates of Kynkäänniemi et al. 2019. The floor is the same measure for real training "
            "images against the test images.",
            "",
            "| metric | this model | real-vs-real floor |",
            "|---|---|---|",
            f"| FID (lower is better) | {metrics['fid']} | {metrics.get('floor_fid_train_vs_test')} |",
            f"| precision (realism) | {metrics.get('precision')} | {metrics.get('floor_precision')} |",
            f"| recall (variety) | {metrics.get('recall')} | {metrics.get('floor_recall')} |",
        ]
        if metrics.get("class_histogram"):
            counts = metrics["class_histogram"]
            total = sum(counts) or 1
            lines += [
                "",
                f"Class histogram of the samples (the shipped classifier's call; a fair share is "
                f"{1 / len(counts):.2f}, largest gap {metrics.get('histogram_max_deviation')}):",
                "",
                "| class | " + " | ".join(str(i) for i in range(len(counts))) + " |",
                "|---|" + "---|" * len(counts),
                "| share | " + " | ".join(f"{c / total:.3f}" for c in counts) + " |",
            ]
    elif metrics:
        lines += effect_lines(metrics)
    recon = record.extra.get("reconstruction")
    if recon:
        lines += [
            "",
            "## Reconstructions",
            "",
            f"The first {recon['recon_n']} Fashion-MNIST test images (never trained on), encoded and decoded: "
            f"mean absolute pixel error {recon['recon_mae']}, mean squared {recon['recon_mse']} (pixels in [0, 1]). "
            "Rows in pairs: test images, then their reconstructions.",
            "",
            f"![test images and their reconstructions]({recon['grid']})",
        ]
        if "recon_class_shares" in recon:
            lines += _reconstruction_classes(recon)
    prior = record.extra.get("prior")
    if prior and "scale" in prior:  # a fine-tuned child's latent tilt (aigc.feedback.latent_prior)
        lines += [
            "",
            f"Samples draw z near {len(prior['weights'])} latents chosen in proportion to the reward model's "
            f"P(liked) among the model's own samples (each centre spread by {prior['scale']}): its latent space "
            "tilted towards the taste.",
        ]
    elif prior and record.kind == "vae":
        fit = record.extra.get("prior_fit", {})
        how = (
            f" ({fit['images']} images{', class by class' if fit.get('by_class') else ''}; "
            f"components drawn {fit.get('spread', 1.0)}× their fitted scale)"
            if fit
            else ""
        )
        lines += [
            "",
            f"Samples draw z from a {len(prior.get('weights', [1]))}-component Gaussian mixture fitted to the "
            f"encoder's aggregate posterior on training images{how}, where the data actually lies, not from N(0, I).",
        ]
        if fit.get("command"):
            lines += ["", f"```\n{fit['command']}\n```"]
    rule = record.extra.get("acceptance")
    if rule:  # aigc.models.acceptance: discriminator rejection sampling, class by class
        lines += [
            "",
            f"Samples are the draws its own discriminator finds most real: each draw is kept when its discriminator "
            f"logit reaches the threshold of the class `{rule.get('classifier', 'its classifier')}` calls it, "
            f"thresholds set to keep the best {rule['keep']:.0%} of each class's draws{_own_shares(rule)} among "
            f"{rule.get('draws', '?')} calibration samples (so the rule removes flawed pictures without favouring a "
            f"class{', but for those with a share of their own' if rule.get('class_keep') else ''}). A seed still "
            "gives the same pictures; the weights are the same with or without the rule (`aigc filter NAME --off`)."
            + (f" Calibrating it took {rule['wall_time_s']} s." if rule.get("wall_time_s") is not None else ""),
        ]
        if rule.get("command"):
            lines += ["", f"```\n{rule['command']}\n```"]
    if "test_accuracy" in record.extra:
        lines += ["", f"Test accuracy: **{record.extra['test_accuracy']:.4f}**"]
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    """A figure as a card shows it: floats to 4 significant digits, anything else as it is."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def effect_lines(metrics: dict[str, Any]) -> list[str]:
    """A fine-tuned version's measurements: each figure measured on parent and child side by side (the
    `*_before`/`*_after` pairs), then every other figure folded away. Why: one table of ~60 raw keys, as it
    was, buried the five that say what the run did, and names like `reward_heldout_accuracy` broke mid-word."""
    stems = [
        k[: -len("_before")] for k in metrics if k.endswith("_before") and k[: -len("_before")] + "_after" in metrics
    ]
    paired = {f"{stem}_{when}" for stem in stems for when in ("before", "after")}
    lines = ["", "## Measured", "", "| figure | parent | child |", "|---|---|---|"]
    lines += [
        f"| {stem.replace('_', ' ')} | {_shown(metrics[stem + '_before'])} | {_shown(metrics[stem + '_after'])} |"
        for stem in stems
    ]
    rest = [f"| {key.replace('_', ' ')} | {_shown(value)} |" for key, value in metrics.items() if key not in paired]
    if rest:
        lines += [
            "",
            "<details><summary>Every other figure of the run</summary>",
            "",
            "| figure | value |",
            "|---|---|",
        ]
        lines += [*rest, "", "</details>"]
    return lines


def write_card(checkpoint_path: Path, record: CheckpointRecord) -> Path:
    card = checkpoint_path.with_suffix(".md")
    card.write_text(render_card(record))
    return card


def _own_shares(rule: dict) -> str:
    """' (class 6, Shirt: 90%)': the classes that kept a share of their own, by the calling network's index."""
    own = rule.get("class_keep") or {}
    if not own:
        return ""
    named = [
        f"class {c}"
        + (f", {FASHION_MNIST_CLASSES[int(c)]}" if 0 <= int(c) < len(FASHION_MNIST_CLASSES) else "")
        + f": {share:.0%}"
        for c, share in own.items()
    ]
    return " (" + "; ".join(named) + ")"
