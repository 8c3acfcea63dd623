"""Images in and out: datasets (IDX, image folders, uploads, synthetic) and PIL/PNG/GIF helpers.

The bottom of the engine: no models, no training, only torch tensors and PIL images.
"""
