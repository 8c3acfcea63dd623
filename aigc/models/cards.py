"""Model cards: a README beside each checkpoint saying how it was made and how good it is."""

from __future__ import annotations

import json
from pathlib import Path

from aigc.models.checkpoint import CheckpointRecord


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
        f"```\n{t.get('command', '(not recorded)')}\n```",
        "",
        f"- steps: {t.get('steps')}, wall time: {t.get('wall_time_s')} s on {t.get('device', 'cpu')} "
        f"with {t.get('threads')} threads ({t.get('images_per_s')} images/s)",
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
    elif metrics:
        lines += ["", "## Measured", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in metrics.items()]
    if "test_accuracy" in record.extra:
        lines += ["", f"Test accuracy: **{record.extra['test_accuracy']:.4f}**"]
    return "\n".join(lines) + "\n"


def write_card(checkpoint_path: Path, record: CheckpointRecord) -> Path:
    card = checkpoint_path.with_suffix(".md")
    card.write_text(render_card(record))
    return card
