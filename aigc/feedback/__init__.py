"""Closing the loop: features φ of rated images, the reward model, per-example weights, the
reward-weighted fine-tune, and the parent-vs-child effect it reports."""
