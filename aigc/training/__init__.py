"""The one training loop (`loop.train`) for training and fine-tuning, its per-kind objectives,
optimizer state in safetensors, and the torchrun (data-parallel) plumbing."""
