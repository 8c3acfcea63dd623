"""The feedback loop judged by a classifier the loop never reads: is the effect real or a judge pleased?

Why: in `feedback_loop.py` the rater's classes, the real images' classes and the effect's figures
(precision, recall and FID in feature space, the class histogram) all come from the shipped classifier,
and the loop's reward model reads that same classifier (its embedding and class probabilities). A child
that drew pictures only that network calls trousers would score as a success there. Here the rater's
class calls and every figure come instead from the second judge of `cross_judge.py` (another width, seed
and embedding, trained on the same labels, cached): nothing in the loop was trained against it or reads
it. The loop itself is unchanged (its reward model, tilt and own report still read the shipped
classifier); only the simulated person's eyes and the measuring tape change. The appearance tastes'
thresholds are numpy on the pictures, so only the class and mixed tastes' ratings change; every taste's
figures do. Same flags as `feedback_loop.py`; each JSON line carries `"judge": "cross"`.

    python benchmarks/feedback_cross_judge.py --models fashion-gan,fashion-vae --prefs 1,5,7 --tastes tuning,held-out
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

import feedback_loop
from cross_judge import cross_judge

from aigc.data.datasets import load_dataset, to_uint8
from aigc.evaluation import metrics

JUDGE_NAME = "cross"


def install(judge: torch.nn.Module) -> None:
    """Point the benchmark's rater and reference at `judge`; the loop's own code keeps the shipped one."""
    shipped_classify = metrics.classify

    def classify(images, judge_: torch.nn.Module | None = None, batch: int = metrics.CONV_CHUNK) -> torch.Tensor:
        return shipped_classify(images, judge_ or judge, batch)

    # raters.TasteRater.likes imports metrics.classify when it is called: the rater now sees with `judge`
    metrics.classify = classify  # type: ignore[assignment]

    def reference() -> feedback_loop.Reference:
        images = to_uint8(load_dataset(None, split="test").images)
        feats = metrics.embed(images, judge)
        return feedback_loop.Reference(
            images, feats, shipped_classify(images, judge).numpy(), lambda x: metrics.embed(x, judge)
        )

    measure, run = feedback_loop.judge, feedback_loop.run

    def judged(model, rater, ref, n: int, seed: int) -> dict:
        """feedback_loop.judge with the class histogram called by `judge` (its head on its features)."""
        shipped_features = metrics.classify_features
        metrics.classify_features = lambda feats: judge.head(feats).argmax(1)  # type: ignore[assignment]
        try:
            return measure(model, rater, ref, n, seed)
        finally:
            metrics.classify_features = shipped_features

    feedback_loop.fashion_reference = reference
    feedback_loop.judge = judged
    feedback_loop.run = lambda *args, **kwargs: {**run(*args, **kwargs), "judge": JUDGE_NAME}


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the flags, before the judge trains (it trained first: ~1 min)
        raise SystemExit(feedback_loop.main())
    install(cross_judge(load_dataset(None, split="train")))
    raise SystemExit(feedback_loop.main())
