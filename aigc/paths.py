"""Where AIGC Studio keeps its files (placeholder: filled by the paths work)."""
