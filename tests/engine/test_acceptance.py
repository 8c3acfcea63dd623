"""A GAN's acceptance rule (aigc/models/acceptance.py): class-by-class discriminator rejection sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.models.acceptance import AcceptanceRule, calibrate, rule_record, score
from aigc.models.checkpoint import CheckpointError, load_module, peek_record, read_checkpoint
from aigc.models.pipeline import ImageModel, load_model
from aigc.training.loop import save_final


def test_calibration_keeps_the_same_share_of_every_class_and_all_of_a_rare_one():
    gen = torch.Generator().manual_seed(0)
    classes = torch.cat([torch.zeros(600), torch.ones(300), torch.full((10,), 2.0)]).long()
    logits = torch.randn(910, generator=gen) + classes.float() * 3  # class 1's logits sit far above class 0's
    thresholds = calibrate(logits, classes, keep=0.7, num_classes=4)
    rule = AcceptanceRule(0.7, thresholds, "x")
    kept = rule.kept(logits, classes)
    for c in (0, 1):
        assert abs(kept[classes.numpy() == c].mean() - 0.7) < 0.01  # one threshold for all would keep class 1 whole
    assert kept[classes.numpy() == 2].all() and np.isneginf(thresholds[2:]).all()  # 10 draws, and none: no quantile
    with pytest.raises(ValueError, match="between 0.3 and 1"):
        calibrate(logits, classes, keep=0.2, num_classes=4)
    stored = rule_record(0.7, thresholds, "abc", draws=910)
    again = AcceptanceRule.from_record(stored)
    assert stored["thresholds"][2] is None and again.keep == 0.7 and again.classifier_sha256 == "abc"
    assert np.array_equal(again.kept(logits, classes), kept)


def test_a_class_can_keep_its_own_share_and_the_record_remembers_it():
    gen = torch.Generator().manual_seed(1)
    classes = torch.cat([torch.zeros(600), torch.ones(600)]).long()
    logits = torch.randn(1200, generator=gen)
    thresholds = calibrate(logits, classes, keep=0.6, num_classes=2, class_keep={1: 0.9})
    rule = AcceptanceRule(0.6, thresholds, "x", {1: 0.9})
    kept = rule.kept(logits, classes)
    assert abs(kept[:600].mean() - 0.6) < 0.01 and abs(kept[600:].mean() - 0.9) < 0.01
    assert rule.lowest_keep == 0.6 and AcceptanceRule(0.8, thresholds, "x", {0: 0.5}).lowest_keep == 0.5
    stored = rule_record(0.6, thresholds, "abc", {1: 0.9}, draws=1200)
    again = AcceptanceRule.from_record(stored)
    assert stored["class_keep"] == {"1": 0.9} and again is not None and again.class_keep == {1: 0.9}
    assert np.array_equal(again.kept(logits, classes), kept)
    assert "class_keep" not in rule_record(0.6, thresholds, "abc")  # an even rule's record is as before
    with pytest.raises(ValueError, match="between 0.3 and 1"):
        calibrate(logits, classes, keep=0.6, num_classes=2, class_keep={1: 0.1})
    with pytest.raises(ValueError, match="names class 5"):
        calibrate(logits, classes, keep=0.6, num_classes=2, class_keep={5: 0.9})


@pytest.fixture
def gan_with_rule(tmp_path, tiny_model, record, perceptual_file):
    """(path, classifier) of a tiny GAN whose record keeps about half of each class's draws."""
    gan = tiny_model("gan", seed=4)
    path = save_final(tmp_path / "models" / "tiny-gan.safetensors", gan, record("gan", name="tiny-gan"))
    classifier, classifier_record = load_module(perceptual_file)
    model = load_model(path)
    images = model.decode_float(torch.from_numpy(model.latents(1000, 99)))
    logits, classes = score(model.module.discriminator, classifier.eval(), images)
    tensors, rec, _ = read_checkpoint(path)
    rec.extra["acceptance"] = rule_record(0.5, calibrate(logits, classes, 0.5, 10), classifier_record.weights_sha256)
    from aigc.models.checkpoint import save_tensors

    save_tensors(path, tensors, rec)
    (tmp_path / "models" / "perceptual.safetensors").write_bytes(perceptual_file.read_bytes())
    return path, classifier.eval()


def test_every_sample_passes_the_rule_and_a_seed_gives_the_same_pictures_whatever_n(gan_with_rule):
    path, classifier = gan_with_rule
    model = load_model(path)
    assert model.acceptance is not None and model.acceptance.keep == 0.5
    made = model.generate(40, seed=7)
    with torch.inference_mode():
        pictures = model.decode_float(torch.from_numpy(made.latents))
        logits, classes = score(model.module.discriminator, classifier, pictures)
    assert model.acceptance.kept(logits, classes).all()  # each returned latent passes on its own
    assert np.array_equal(made.images, model.decode(made.latents))  # the pictures are their latents' decodes
    assert np.array_equal(model.latents(5, seed=7), made.latents[:5])  # the first k do not depend on n
    assert np.array_equal(model.sample(40, seed=7), made.images)  # and again, the same bits
    unfiltered = ImageModel(model.module, peek_record(path).__class__(kind="gan", config={}), path)
    candidates = unfiltered.latents(200, seed=7)
    rows = [int(np.flatnonzero((candidates == z).all(1))[0]) for z in made.latents]
    assert rows == sorted(rows) and rows[-1] > 40  # drawn from the seed's stream, in order, some passed over


def test_the_same_samples_whether_found_in_one_pass_or_in_several(gan_with_rule):
    """A rule that passes half its draws, told it keeps them all, starts with too few candidates and extends the
    stream (decoding only the new ones): the samples must be those of one long pass."""
    path, _ = gan_with_rule
    model = load_model(path)
    one_pass = model.generate(30, seed=11)
    rule = model.acceptance
    model.acceptance = AcceptanceRule(1.0, rule.thresholds, rule.classifier_sha256)
    several = model.generate(30, seed=11)
    assert np.array_equal(several.latents, one_pass.latents) and np.array_equal(several.images, one_pass.images)


def test_a_rule_stricter_than_calibrated_fills_up_in_stream_order_and_stops(gan_with_rule):
    path, _ = gan_with_rule
    model = load_model(path)
    model.acceptance = AcceptanceRule(0.5, np.full(10, np.inf, np.float32), model.acceptance.classifier_sha256)
    z = model.latents(6, seed=3)  # nothing passes: bounded work, then the first draws, not a hang
    model.acceptance = None
    assert np.array_equal(z, model.latents(6, seed=3))


def test_a_missing_classifier_or_a_vae_with_a_rule_is_one_clear_error(gan_with_rule, tmp_path, tiny_model, record):
    path, _ = gan_with_rule
    (tmp_path / "models" / "perceptual.safetensors").unlink()
    with pytest.raises(CheckpointError, match="aigc filter tiny-gan --off"):
        load_model(path)
    vae_record = record("vae", name="v")
    vae_record.extra["acceptance"] = rule_record(0.5, np.zeros(10), "abc")
    vae = save_final(tmp_path / "v.safetensors", tiny_model("vae"), vae_record)
    with pytest.raises(CheckpointError, match="only a GAN"):
        load_model(vae)


def test_the_cli_calibrates_the_rule_in_place_and_drops_it(
    tmp_path, tiny_model, record, perceptual_file, aigc_typed, capsys
):
    gan = tiny_model("gan", seed=4)
    path = save_final(tmp_path / "g.safetensors", gan, record("gan", name="g"))
    before = read_checkpoint(path)[0]
    assert aigc_typed("filter", str(path), "--keep", "0.6", "--by", str(perceptual_file), "--draws", "1000") == 0
    tensors, rec, _ = read_checkpoint(path)
    rule = rec.extra["acceptance"]
    assert rule["keep"] == 0.6 and rule["draws"] == 1000 and "aigc filter" in rule["command"]
    assert all(torch.equal(before[k], tensors[k]) for k in before)  # weights unchanged
    card = (tmp_path / "g.md").read_text()
    assert "discriminator" in card and "keep the best 60%" in card  # the card says how its samples are chosen
    assert f"then its acceptance rule (`aigc filter`, below): {rule['wall_time_s']} s" in card  # and its cost
    assert aigc_typed("filter", str(path), "--keep", "0.6", "--class-keep", "1=0.9", "--by", str(perceptual_file)) == 0
    rule = read_checkpoint(path)[1].extra["acceptance"]
    assert rule["class_keep"] == {"1": 0.9} and "(class 1, Trouser: 90%)" in (tmp_path / "g.md").read_text()
    assert aigc_typed("filter", str(path), "--class-keep", "shirts", "--by", str(perceptual_file)) == 2
    assert "expected CLASS=SHARE" in capsys.readouterr().err
    assert aigc_typed("filter", str(path), "--off") == 0
    assert "acceptance" not in read_checkpoint(path)[1].extra
    assert aigc_typed("filter", str(path), "--keep", "0.1", "--by", str(perceptual_file)) == 2
    assert "between 0.3 and 1" in capsys.readouterr().err
    vae = save_final(tmp_path / "v.safetensors", tiny_model("vae"), record("vae", name="v"))
    assert aigc_typed("filter", str(vae)) == 2
    assert "only a GAN" in capsys.readouterr().err
