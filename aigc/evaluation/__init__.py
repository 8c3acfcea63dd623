"""Measuring models against real data: the judge classifier's features, FID, precision/recall,
simulated raters. Used by `aigc evaluate`, the feedback loop's effect report and the benchmarks."""
