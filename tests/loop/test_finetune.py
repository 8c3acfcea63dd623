import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from aigc import load_model
from aigc.feedback.compare import binomial_p_value
from aigc.feedback.config import KIND_DEFAULTS
from aigc.feedback.finetune import FinetuneConfig, finetune
from aigc.feedback.reward import NotEnoughRatings
from aigc.service.errors import StudioError
from tests.gate import held_children

from .conftest import band_class, rate_by_band


@pytest.mark.heavy
def test_finetune_raises_liked_rate_and_registers_child(studio, models_dir):
    base = rate_by_band(studio, "syn-vae", liked_band=0, n=60)
    result = finetune(
        "syn-vae", studio.store, FinetuneConfig(steps=150, eval_n=200, progress=False), models_dir=models_dir
    )
    studio.refresh()
    child = studio.model(result.child)
    after = float((band_class(child.sample(300, 99)) == 0).mean())
    parent_again = float((band_class(studio.model("syn-vae").sample(300, 99)) == 0).mean())
    assert after > base + 0.3, (base, after)
    assert after > parent_again + 0.3
    version = studio.version(result.child)
    assert version.parent_id == studio.version("syn-vae").id
    assert version.metrics["mean_reward_after"] > version.metrics["mean_reward_before"]
    run = studio.store.get_run(result.run_id)
    assert run.status == "succeeded" and run.child_version_id == version.id and run.n_ratings == 60
    assert child.record.parent == "syn-vae"
    # the child is a β-VAE (KL weight 0.1 while fine-tuning) that samples its fitted prior, tilted towards the taste
    assert child.module.cfg.kl_weight == pytest.approx(0.1) and child.record.config["kl_weight"] == pytest.approx(0.1)
    prior = child.record.extra["prior"]
    assert prior["scale"] > 0 and sum(prior["weights"]) == pytest.approx(1, abs=1e-3)
    # the kept latents score at least what the child's own draws did, up to resampling noise (a child that
    # already draws only the liked band has both near 1.0); that the tilt moves a model is
    # tests/loop/test_latent_tilt.py's to show
    assert version.metrics["tilt_mean_p_drawn"] >= version.metrics["tilt_mean_p_before"] - 0.01
    assert version.metrics["tilt_mean_p_before"] > 0
    assert version.metrics["tilt_draws"] == KIND_DEFAULTS["vae"]["tilt_draws"]
    assert load_model("syn-vae", models_dir=models_dir).module.cfg.kl_weight == 1.0
    # names that say one thing: the KL weight, the reward temperature and Adam's betas each under their own key
    assert "beta" not in child.record.config and "beta" not in version.metrics
    assert version.metrics["reward_temperature"] >= 0.5 and "reward_temperature" in child.record.extra["finetune"]
    assert child.record.training["adam_betas"] == [0.9, 0.999]


def test_low_kl_weight_without_a_fitted_prior_is_refused(studio, models_dir):
    rate_by_band(studio, "syn-vae", liked_band=0, n=30)
    with pytest.raises(ValueError, match="needs fit_prior"):
        finetune(
            "syn-vae", studio.store, FinetuneConfig(steps=5, fit_prior=False, progress=False), models_dir=models_dir
        )
    assert studio.store.list_runs() == []  # refused before a run was recorded


def test_an_unknown_weighting_of_the_real_images_is_refused_before_a_run(studio, models_dir):
    rate_by_band(studio, "syn-vae", liked_band=0, n=30)
    with pytest.raises(ValueError, match="weights_by"):
        finetune(
            "syn-vae",
            studio.store,
            FinetuneConfig(steps=5, weights_by="loudest", progress=False),
            models_dir=models_dir,
        )
    assert studio.store.list_runs() == []


@pytest.mark.parametrize(
    "setting,message",
    [
        ({"lr_scale": -1.0}, "lr_scale must be a number above 0, got -1.0"),
        ({"lr_scale": float("nan")}, "lr_scale must be a number above 0, got nan"),
        ({"reward_temperature": 0.0}, "reward_temperature must be a number above 0, got 0.0"),
        ({"kl_weight": -0.5}, "kl_weight must be a number at least 0, got -0.5"),
        ({"ess_floor": 1.5}, "the ESS floor is a share of the examples, above 0 and at most 1, got 1.5"),
    ],
)
def test_a_setting_out_of_its_range_is_refused_before_a_run(studio, models_dir, setting, message):
    rate_by_band(studio, "syn-vae", liked_band=0, n=30)
    with pytest.raises(ValueError, match=re.escape(message)):
        finetune("syn-vae", studio.store, FinetuneConfig(steps=5, progress=False, **setting), models_dir=models_dir)
    assert studio.store.list_runs() == []


def test_gan_finetune_runs_end_to_end(studio, models_dir):
    rater = "anon-0123456789abcdef0123456789abcdef"  # an anonymous id: the cookie that makes a browser them
    batch = studio.sample("syn-gan", 40, 3, rater=rater)
    for i, sid in enumerate(batch.sample_ids):
        studio.rate(sid, 1.0 if i % 3 == 0 else -1.0, rater)
    cfg = FinetuneConfig(steps=20, eval_n=100, progress=False, rater=rater)
    result = finetune("syn-gan", studio.store, cfg, models_dir=models_dir)
    assert load_model(result.checkpoint).kind == "gan"
    card = result.checkpoint.with_suffix(".md").read_text()  # every visitor may read it: a recipe, not the id
    assert "aigc finetune syn-gan --steps 20 --rater RATER" in card and rater not in card
    assert "precision_all_after" in result.metrics and "fid_liked_after" in result.metrics
    assert result.metrics["tilt_realism_keep"] == 1.0  # trained without a perceptual network: nothing to judge by
    assert studio.store.get_run(result.run_id).config["weights_by"] == "chosen"  # the run says what weighed


def test_too_few_ratings_is_a_clear_message_and_no_run(studio, models_dir):
    rate_by_band(studio, "syn-vae", liked_band=0, n=10)
    with pytest.raises(NotEnoughRatings, match="more rating"):
        finetune("syn-vae", studio.store, FinetuneConfig(progress=False), models_dir=models_dir)
    assert studio.store.list_runs() == []
    assert not [v for v in studio.store.list_versions() if v.parent_id is not None]


@pytest.mark.integration
def test_killed_run_leaves_parent_intact_and_no_child(studio, models_dir, home, tmp_path):
    rate_by_band(studio, "syn-vae", liked_band=1, n=60)
    parent_path = studio.model("syn-vae").path
    parent_bytes = parent_path.read_bytes()
    cmd = [
        sys.executable,
        "-m",
        "aigc.cli",
        "finetune",
        "syn-vae",
        "--db",
        str(studio.store.url),
        "--models",
        models_dir,
        "--steps",
        "10000",  # the most the limits allow: it is killed long before
        "--json-progress",
        "--threads",
        "1",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "AIGC_HOME": str(home)}
    )
    deadline = time.time() + 60
    for line in proc.stdout:  # wait until it is really training, then kill it without warning
        if '"stage": "training"' in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    runs = studio.store.list_runs()
    assert len(runs) == 1 and runs[0].status == "running"  # nobody has noticed yet
    failed = studio.store.fail_stale_runs()
    assert failed == [runs[0].id]
    assert studio.store.get_run(runs[0].id).status == "failed"
    assert not [v for v in studio.store.list_versions() if v.parent_id is not None]
    assert parent_path.read_bytes() == parent_bytes
    assert load_model(parent_path).sample(2, 0).shape == (2, 28, 28, 1)
    # and a new run then works
    result = finetune(
        "syn-vae", studio.store, FinetuneConfig(steps=10, eval_n=50, progress=False), models_dir=models_dir
    )
    assert studio.store.get_run(result.run_id).status == "succeeded"


def test_cli_exit_code_and_message_for_too_few(studio, models_dir, home, capsys):
    from aigc.cli import main

    rate_by_band(studio, "syn-vae", liked_band=0, n=5)
    code = main(["finetune", "syn-vae", "--db", str(studio.store.url), "--models", models_dir])
    assert code == 3
    assert "need 15 more rating" in capsys.readouterr().err
    # a name that is taken is refused before any work (a run wrote over that version's card and log, then refused)
    code = main(["finetune", "syn-vae", "--name", "syn-gan", "--db", str(studio.store.url), "--models", models_dir])
    assert code == 2 and "--name syn-gan: a model of that name exists already" in capsys.readouterr().err


@pytest.mark.integration
def test_background_job_compare_and_blind_ab(studio, tmp_path):
    rate_by_band(studio, "syn-vae", liked_band=2, n=60)
    assert studio.ratings_ready("syn-vae").ready
    with held_children(tmp_path / "gate") as gate:  # the run cannot end before the second start is refused
        studio.start_finetune("syn-vae", steps=30)
        gate.wait_for_child()
        with pytest.raises(Exception, match="already running"):
            studio.start_finetune("syn-vae", steps=30)
        assert len(gate.held()) == 1  # refused before a second child was started
    status = studio.jobs.wait("syn-vae", timeout=120)
    assert status.state == "succeeded", status.message
    child = status.child
    assert child in [m.name for m in studio.models()]
    parent_imgs, child_imgs, metrics = studio.compare(child, n=4, seed=5)
    assert parent_imgs.shape == child_imgs.shape == (4, 28, 28, 1)
    assert "mean_reward_after" in metrics
    for _ in range(6):
        pair = studio.ab_pair(child, seed=11, rater="judge")
        studio.ab_pick(pair["left_id"], pair["right_id"], pair["child_id"], "judge")
    stats = studio.ab_stats(child)
    assert stats["wins"] == 6 and stats["losses"] == 0
    assert stats["p_value"] == pytest.approx(binomial_p_value(6, 0))


@pytest.mark.heavy
def test_compare_and_blind_ab_of_a_child_made_in_process(studio, models_dir):
    """The same compare / A/B path as the background-job test (integration), without a child process."""
    rate_by_band(studio, "syn-vae", liked_band=2, n=40)
    result = finetune(
        "syn-vae", studio.store, FinetuneConfig(steps=10, eval_n=50, progress=False), models_dir=models_dir
    )
    studio.refresh()
    parent_imgs, child_imgs, metrics = studio.compare(result.child, n=4, seed=5)
    assert parent_imgs.shape == child_imgs.shape == (4, 28, 28, 1) and "mean_reward_after" in metrics
    assert not np.array_equal(parent_imgs, child_imgs)  # the child's weights moved
    picks = {"child": 0, "parent": 0}
    for seed in range(6):
        pair = studio.ab_pair(result.child, seed=seed, rater="judge")
        assert {pair["left_id"], pair["right_id"]} >= {pair["child_id"]}
        parent_id = ({pair["left_id"], pair["right_id"]} - {pair["child_id"]}).pop()
        for sample_id, model in ((parent_id, "syn-vae"), (pair["child_id"], result.child)):  # each its own draw
            np.testing.assert_array_equal(studio.store.get_sample(sample_id).latent, studio.latent_of(model, seed))
        side = "child" if seed % 3 else "parent"  # 4 wins for the child, 2 losses
        studio.ab_pick(pair["left_id"], pair["right_id"], pair["child_id"] if side == "child" else parent_id, "judge")
        picks[side] += 1
    assert not np.array_equal(studio.latent_of("syn-vae", 0), studio.latent_of(result.child, 0))  # its own prior
    stats = studio.ab_stats(result.child)
    assert (stats["wins"], stats["losses"]) == (picks["child"], picks["parent"]) == (4, 2)
    assert stats["p_value"] == pytest.approx(binomial_p_value(4, 2))
    with pytest.raises(StudioError, match="no parent"):
        studio.compare("syn-vae")
    # the next fine-tune from the child reads the six picks beside the ratings (Bradley–Terry), unless told not to
    quick = {"steps": 3, "eval_n": 50, "progress": False, "tilt": False}
    again = finetune(result.child, studio.store, FinetuneConfig(**quick), models_dir=models_dir)
    assert again.metrics["n_picks"] == 6 and again.metrics["n_ratings"] == 40
    studio.refresh()
    without = finetune(result.child, studio.store, FinetuneConfig(use_picks=False, **quick), models_dir=models_dir)
    assert without.metrics["n_picks"] == 0


def test_binomial_p_value():
    assert binomial_p_value(9, 1) == pytest.approx(2 * 11 / 1024)
    assert binomial_p_value(5, 5) == 1.0
    assert binomial_p_value(0, 0) == 1.0


def test_taste_direction_separates_liked_latents(studio):
    rate_by_band(studio, "syn-vae", liked_band=0, n=60)
    direction = studio.taste("syn-vae")
    assert direction is not None and direction.shape == (8,)
    rated = studio.store.ratings_for_lineage(studio.version("syn-vae").id)
    proj = np.array([r.latent @ direction for r in rated])
    scores = np.array([r.score for r in rated])
    assert proj[scores > 0].mean() > proj[scores < 0].mean()


def _with_perceptual_stage(models_dir: str, tmp_path, kind: str = "vae") -> tuple[str, str]:
    """A model whose last stage read a perceptual network saved among the models, as both shipped ones do."""
    import torch

    from aigc.data.datasets import synthetic_dataset
    from aigc.models import Classifier, ClassifierConfig
    from aigc.models.checkpoint import CheckpointRecord, load_module
    from aigc.training.loop import TrainConfig, finish_record, save_final, train
    from aigc.training.perceptual import provenance

    data = synthetic_dataset(n=256, classes=4)
    torch.manual_seed(1)
    clf = Classifier(ClassifierConfig(width=8, embed_dim=16))
    clf_record = CheckpointRecord(kind="classifier", config={}, name="syn-perceptual", dataset=data.name)
    clf_cfg = TrainConfig(out_dir=str(tmp_path / "clf"), steps=30, batch_size=64, progress=False, sample_every=0)
    finish_record(clf_record, train(clf, data, clf_cfg, clf_record), clf_cfg, command="make the network")
    network = str(save_final(f"{models_dir}/syn-perceptual.safetensors", clf, clf_record))
    module, record = load_module(f"{models_dir}/syn-{kind}.safetensors")
    record.name = f"syn-{kind}-p"
    cfg = TrainConfig(
        out_dir=str(tmp_path / "p"), steps=10, batch_size=64, progress=False, sample_every=0,
        perceptual=network, perceptual_weight=5.0,
    )  # fmt: skip
    finish_record(record, train(module, data, cfg, record), cfg, perceptual_network=provenance(network, 5.0))
    save_final(f"{models_dir}/syn-{kind}-p.safetensors", module, record)
    return f"syn-{kind}-p", network


@pytest.mark.heavy
@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_a_child_keeps_the_perceptual_term_its_parent_was_trained_with(studio, models_dir, tmp_path, kind):
    """Fine-tuning such a parent without the term undid it (a VAE's children on the ELBO alone, and a GAN's, drew
    less precisely than their parent; figures: the README, step 4 of the loop): the child continues with the same
    network and weight, found among the models by its hash."""
    parent, network = _with_perceptual_stage(models_dir, tmp_path, kind)
    studio.refresh()
    rate_by_band(studio, parent, liked_band=0, n=40)
    config = FinetuneConfig(steps=10, eval_n=100, tilt=False, progress=False)
    child = load_model(finetune(parent, studio.store, config, models_dir=models_dir).checkpoint)
    assert child.record.training["config"]["perceptual"] == network
    assert child.record.training["config"]["perceptual_weight"] == 5.0
    assert {"vae": "perceptual", "gan": "nearest"}[kind] in child.record.training["final_losses"]  # the term's loss
    kept = child.record.training["perceptual_network"]
    assert (
        kept["weights_sha256"]
        == load_model(parent, models_dir=models_dir).record.training["perceptual_network"]["weights_sha256"]
    )
    off = FinetuneConfig(steps=10, eval_n=100, tilt=False, progress=False, perceptual=False)
    plain = load_model(finetune(parent, studio.store, off, models_dir=models_dir).checkpoint)
    assert plain.record.training["config"]["perceptual"] is None and "perceptual_network" not in plain.record.training
    os.remove(network)  # the network gone: the child trains without the term, and nothing fails
    gone = load_model(finetune(parent, studio.store, config, models_dir=models_dir).checkpoint)
    assert gone.record.training["config"]["perceptual"] is None


@pytest.mark.heavy
def test_a_gan_child_filters_its_draws_as_its_filtering_parent_does(studio, models_dir, tmp_path):
    """A parent with an acceptance rule (aigc filter) has a child with one of its own: the same keep share and
    network, thresholds of the child's discriminator, and the child's samples pass it."""
    import torch

    from aigc.data.datasets import synthetic_dataset
    from aigc.models import Classifier, ClassifierConfig
    from aigc.models.acceptance import score
    from aigc.models.checkpoint import CheckpointRecord, read_checkpoint, save_tensors
    from aigc.models.filter_rule import fit_rule
    from aigc.models.pipeline import discriminator
    from aigc.training.loop import TrainConfig, save_final, train

    torch.manual_seed(2)
    clf = Classifier(ClassifierConfig(width=8, embed_dim=16))
    clf_record = CheckpointRecord(kind="classifier", config={}, name="syn-judge-not", dataset="synthetic")
    clf_cfg = TrainConfig(out_dir=str(tmp_path / "clf"), steps=20, batch_size=64, progress=False, sample_every=0)
    train(clf, synthetic_dataset(n=256, classes=4), clf_cfg, clf_record)
    save_final(f"{models_dir}/syn-judge-not.safetensors", clf, clf_record)
    sha = read_checkpoint(f"{models_dir}/syn-judge-not.safetensors")[1].weights_sha256
    tensors, record, _ = read_checkpoint(f"{models_dir}/syn-gan.safetensors")
    record.extra["acceptance"] = fit_rule(
        load_model("syn-gan", models_dir=models_dir), clf, sha, 0.6, 1000, 5, {2: 0.9}
    )
    record.name = "syn-gan-f"
    save_tensors(f"{models_dir}/syn-gan-f.safetensors", tensors, record)
    studio.refresh()
    batch = studio.sample("syn-gan-f", 40, 3, rater="r")
    for i, sid in enumerate(batch.sample_ids):
        studio.rate(sid, 1.0 if i % 3 == 0 else -1.0, "r")
    config = FinetuneConfig(steps=10, eval_n=100, progress=False)
    child = load_model(
        finetune("syn-gan-f", studio.store, config, models_dir=models_dir).checkpoint, models_dir=models_dir
    )
    rule = child.record.extra["acceptance"]
    assert rule["keep"] == 0.6 and rule["classifier_sha256"] == sha and rule["draws"] > 0
    assert rule["class_keep"] == {"2": 0.9}  # the parent's rule whole: a class's own share too
    assert rule["thresholds"] != record.extra["acceptance"]["thresholds"]  # its own discriminator's, not copied
    made = child.generate(30, seed=1)
    with torch.inference_mode():
        logits, classes = score(
            discriminator(child), child.acceptance_classifier, child.module.decode(torch.from_numpy(made.latents))
        )
    assert child.acceptance.kept(logits, classes).all()
    config = FinetuneConfig(steps=10, eval_n=100, progress=False, child_filter=False)
    plain = load_model(
        finetune("syn-gan-f", studio.store, config, models_dir=models_dir).checkpoint, models_dir=models_dir
    )
    assert plain.acceptance is None and "acceptance" not in plain.record.extra  # every draw of it is a sample
