"""Fitting a GAN's acceptance rule on its own draws: one function for `aigc filter` and a fine-tuned child.

Its own module because it needs a loaded model (`pipeline`), which itself applies the rule (`acceptance`).
"""

from __future__ import annotations

import torch

from aigc.models.acceptance import calibrate, check_class_keep, check_keep, rule_record, score
from aigc.models.classifier import Classifier
from aigc.models.pipeline import ImageModel, discriminator, reproducible_threads


def fit_rule(
    model: ImageModel,
    network: Classifier,
    network_sha256: str,
    keep: float,
    draws: int,
    seed: int,
    class_keep: dict[int, float] | None = None,
    **provenance: object,
) -> dict:
    """The record entry (`extra["acceptance"]`) of a rule that keeps the best `keep` share of each class's draws
    (`class_keep[c]` of class c's, where given) among `draws` samples of `model` as it samples now (so the model
    must not carry a rule yet); `network` calls the classes, and is found again by `network_sha256` when the
    model is loaded."""
    check_keep(keep)
    class_keep = check_class_keep(class_keep, network.cfg.num_classes)
    if model.acceptance is not None:
        raise ValueError(f"{model.name} already filters its draws; fit a rule on the unfiltered model")
    if model.kind != "gan":
        raise ValueError(f"{model.name} is a {model.kind}; only a GAN's discriminator can filter")
    images = model.decode_float(torch.from_numpy(model.latents(draws, seed)), portable=False)
    with reproducible_threads(model.device):
        logits, classes = score(discriminator(model), network.eval(), images)
    thresholds = calibrate(logits, classes, keep, network.cfg.num_classes, class_keep)
    shares = [round(float((classes == c).float().mean()), 4) for c in range(len(thresholds))]
    return rule_record(
        keep, thresholds, network_sha256, class_keep, draws=draws, seed=seed, class_shares=shares, **provenance
    )
