"""What a fine-tuning run measured, in words for the page: the parent-vs-child figures, how sure they are,
the features the reward read, the advice before training. Text only (no Gradio): the fine-tune tab shows it.
"""

from __future__ import annotations

FIGURES = [  # (metric key stem, label, better, what it means in one line)
    (
        "mean_reward",
        "estimated share you would like",
        "higher",
        "graded by reward models that each left out some of your ratings, never the one that steered the run",
    ),
    (
        "precision_all",
        "precision vs all real images (still realistic?)",
        "higher",
        "share of generated images that look like some real image",
    ),
    (
        "fid_liked",
        "FID vs real images weighted by taste",
        "lower",
        "distance from the real images you would like; lower is closer",
    ),
    (
        "recall_liked",
        "recall vs real images weighted by taste (variety)",
        "higher",
        "share of the liked kinds of real image the model still makes",
    ),
    ("fid_all", "FID vs all real images", "context", "no reward model involved; rises when a model specialises"),
]
# runs before issue 13 graded mean_reward with the reward model that steered them: say so
OLD_MEAN_REWARD = (
    "mean predicted P(liked)",
    "how likely the reward model that steered the run thinks you like an image",
)
CONFIDENCE_ICON = {"high": "🟢", "medium": "🟡", "low": "🔴"}


def kinds_markdown(metrics: dict) -> str:
    """The parent's and child's samples per class (or cluster) side by side: a collapse onto one kind shows."""
    names, before, after = metrics.get("kinds_names"), metrics.get("kinds_before"), metrics.get("kinds_after")
    if not names or not before or not after:
        return ""
    label = metrics.get("kinds_label", "kind")
    rows = [f"| {label} | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for who, counts in (("parent", before), ("child", after)):
        rows.append(f"| {who} | " + " | ".join(str(v) for v in counts) + " |")
    share = metrics.get("largest_kind_share_after", 0.0)
    warn = (
        f"\n\n⚠️ The child draws one {label} in {share:.0%} of its samples: it may have collapsed onto one kind."
        if share >= 0.6 and share > metrics.get("largest_kind_share_before", 0.0) + 0.1
        else ""
    )
    return f"\n\n**Samples per {label}** ({metrics.get('eval_n', '?')} each, same seeds)\n\n" + "\n".join(rows) + warn


BLOCK_WORDS = {
    "learned": "learned view",
    "kinds": "class probabilities",
    "stats": "pixel statistics",
    "layout": "7×7 layout",
}
# The pixel statistics (aigc/feedback/appearance.py's STAT_NAMES) in a person's words; others read as their names
STAT_WORDS = {
    "brightness": "overall brightness",
    "contrast": "contrast",
    "ink_area": "how much of the frame the item fills",
    "ink_brightness": "item brightness",
    "ink_texture": "grey-level spread within the item",
    "bbox_height": "height",
    "bbox_width": "width",
    "log_aspect": "proportions (height to width)",
    "edge_energy": "edge strength",
    "fine_texture": "fine texture",
    "lr_asymmetry": "left-right asymmetry",
    "tb_asymmetry": "top-bottom asymmetry",
    "centre_row": "vertical position",
    "centre_col": "horizontal position",
    "spread_row": "vertical spread",
    "spread_col": "horizontal spread",
    "bright_share": "share of bright pixels",
    "ink_roughness": "surface roughness",
}


def features_words(used: str) -> str:
    """What the reward model read, in the words a person would use for a taste: `kinds+stats` → class probabilities
    + pixel statistics; `stats:ink_brightness` → item brightness alone (one of the pixel statistics)."""
    parts = [p for p in used.split("+") if p] if used else []
    words = []
    for part in parts:
        block, _, column = part.partition(":")
        if column:
            alone = " alone" if len(parts) == 1 else ""
            name = STAT_WORDS.get(column, column.replace("_", " ")) if block == "stats" else column
            words.append(f"{name}{alone} (one of the {BLOCK_WORDS.get(block, block)})")
        else:
            words.append(BLOCK_WORDS.get(block, block))
    return " + ".join(words) or "?"


def honesty_markdown(metrics: dict) -> str:
    """How sure the figures are: the reward model's held-out accuracy and calibration, in plain words."""
    if "reward_heldout_accuracy" not in metrics:
        return ""
    icon = CONFIDENCE_ICON.get(metrics.get("confidence", ""), "")
    flip = metrics.get("reward_flip", 0.0)
    careless = f" · assumed {flip:.0%} of thumbs contradict the taste" if flip else ""
    auc = metrics.get("reward_heldout_auc")
    ranking = "" if auc is None else f" · a liked rating ranked above a disliked one in {auc:.0%} of pairs (AUC)"
    # nested: each rating predicted by a reward fitted, choices and all, without it (aigc/feedback/nested.py)
    which = "Held-out (nested)" if metrics.get("reward_heldout_nested") else "Held-out"
    return (
        f"\n\n{icon} **How sure:** {metrics.get('confidence_text', '')}\n\n"
        f"{which}: accuracy **{metrics['reward_heldout_accuracy']:.0%}** (always guessing the commoner thumb: "
        f"{metrics.get('reward_heldout_majority_accuracy', float('nan')):.0%}) · Brier "
        f"{metrics.get('reward_heldout_brier', float('nan')):.3f} · calibration error (ECE) "
        f"{metrics.get('reward_heldout_ece', float('nan')):.3f}{ranking}{careless} · read: "
        f"{features_words(metrics.get('reward_features_used', ''))}"
    )


def advice_markdown(advice: dict) -> str:
    """Before training: how sure a run from these ratings would be, and what to watch for."""
    if not advice or advice.get("level") in (None, "unknown"):
        return ""
    lines = [f"{CONFIDENCE_ICON.get(advice['level'], '')} **Before you train:** {advice['text']}"]
    lines += [f"⚠️ {w}" for w in advice.get("warnings", [])]
    return "\n\n".join(lines)


def for_reader(text: str, taste_of: str) -> str:
    """FIGURES' words for whoever reads them: "you" is the rater; others read "its rater" or "all raters"."""
    if taste_of == "you":
        return text
    owners = f"{taste_of}'" if taste_of.endswith("s") else f"{taste_of}'s"
    likes = "like" if taste_of.endswith("s") else "likes"
    for mine, theirs in (
        ("some of your ratings", f"some of {owners} ratings"),
        ("you would like", f"{taste_of} would like"),
        ("you like", f"{taste_of} {likes}"),
    ):
        text = text.replace(mine, theirs)
    return text


def figures_markdown(metrics: dict) -> str:
    """Parent vs child table from a version's stored metrics (`taste_of`, from `Studio.compare`, names whose)."""
    if not metrics or "mean_reward_after" not in metrics:
        return "_No measured effect for this version (it was not made by a fine-tuning run)._"
    taste_of = metrics.get("taste_of", "you")
    rows = ["| figure | what it means | parent | child | better |", "|---|---|---|---|---|"]
    for key, label, better, meaning in (
        (k, for_reader(la, taste_of), b, for_reader(m, taste_of)) for k, la, b, m in FIGURES
    ):
        before, after = metrics.get(f"{key}_before"), metrics.get(f"{key}_after")
        if before is None or after is None:
            continue
        if key == "mean_reward" and "reward_heldout_accuracy" not in metrics:
            label, meaning = (for_reader(text, taste_of) for text in OLD_MEAN_REWARD)
        improved = (after > before) if better == "higher" else (after < before)
        mark = "" if better == "context" else (" ✅" if improved else " ⚠️")
        rows.append(f"| {label} | {meaning} | {before:.3f} | {after:.3f}{mark} | {better} |")
    # versions fine-tuned before the rename stored the reward temperature as "beta"
    temperature = metrics.get("reward_temperature", metrics.get("beta", float("nan")))
    extra = (
        f"\n\nReward model held-out accuracy **{metrics.get('reward_cv_accuracy', float('nan')):.0%}** "
        f"on {metrics.get('n_ratings', '?')} ratings{picks_words(metrics)} · β = {temperature:.3g} · effective sample "
        f"size {metrics.get('ess_fraction', float('nan')):.0%} of {metrics.get('train_examples', '?')} examples · "
        f"{metrics.get('eval_n', '?')} samples per model · trained in {metrics.get('wall_time_s', '?')} s"
    )
    if "tilt_centres" in metrics:
        extra += f" · the child draws near {metrics['tilt_centres']} of its own latents the reward model liked"
    return "\n".join(rows) + extra + honesty_markdown(metrics) + kinds_markdown(metrics) + NEXT_STEPS


def picks_words(metrics: dict) -> str:
    """' and 12 blind A/B picks' when the run's reward read picks beside the ratings; '' otherwise."""
    n = metrics.get("n_picks") or 0
    return f" and {n} blind A/B pick{'s' if n != 1 else ''}" if n else ""


NEXT_STEPS = (
    "\n\n**What next:** the two grids above are the same seeds from parent and child; judge them blind with "
    "the A/B below (its picks also teach the next run), or rate the child's images in 🎨 Generate & rate and "
    "fine-tune the child in turn."
)
