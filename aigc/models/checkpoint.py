"""Checkpoints: one safetensors file holding the weights and, in its header, a JSON record.

Why one file: a save is then a single atomic rename, so a killed save leaves either the old
checkpoint or the new one, never a weights file paired with the wrong config. The JSON record
(kind, model config, dataset, training stats, parent, content hash) rides in the safetensors
header's metadata, which is plain text and parsed without executing anything. Pickles are
never loaded: `torch.load` is not a security boundary.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load_bytes
from safetensors.torch import save as st_save_bytes

from aigc.models import CONFIGS, MODELS, AnyModel

FORMAT = "aigc-checkpoint/1"
SUFFIX = ".safetensors"


class CheckpointError(RuntimeError):
    """A checkpoint could not be read or does not fit; the message names the file and the fix."""


@dataclass
class CheckpointRecord:
    """What travels with the weights."""

    kind: str
    config: dict[str, Any]
    name: str = ""
    dataset: str | None = None
    parent: str | None = None
    training: dict[str, Any] = field(default_factory=dict)  # steps, epochs, wall time, final losses, command
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. VAE latent importance, metrics
    weights_sha256: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """A content hash of the weights alone (names, dtypes, shapes, bytes), independent of the header."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_tensors(
    path: str | os.PathLike,
    tensors: dict[str, torch.Tensor],
    record: CheckpointRecord,
    extra_meta: dict[str, str] | None = None,
) -> Path:
    """Save tensors + record atomically; returns the path written."""
    path = Path(path)
    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    record.weights_sha256 = tensors_sha256(clean)
    metadata = {"format": FORMAT, "aigc": record.to_json(), **(extra_meta or {})}
    atomic_write_bytes(path, st_save_bytes(clean, metadata=metadata))
    return path


def save_model(path: str | os.PathLike, model: AnyModel, record: CheckpointRecord) -> Path:
    record.kind = model.kind
    record.config = asdict(model.cfg)
    return save_tensors(path, model.state_dict(), record)


# ---------------------------------------------------------------- loading


def _looks_like_safetensors(payload: bytes) -> bool:
    """u64 little-endian header length, then a JSON object that fits in the file."""
    if len(payload) < 9:
        return False
    header_len = struct.unpack("<Q", payload[:8])[0]
    return payload[8:9] == b"{" and header_len <= len(payload) - 8


def _sniff(path: Path, payload: bytes) -> None:
    """Refuse what is obviously not safetensors, with a message that says what it is."""
    if _looks_like_safetensors(payload):
        return
    if payload[:1] == b"\x80" or path.suffix in {".pkl", ".pickle"}:
        raise CheckpointError(
            f"{path}: this is a Python pickle. AIGC Studio never unpickles files (a pickle can run "
            "arbitrary code). Re-save the weights with safetensors.torch.save_file()."
        )
    if payload[:2] == b"PK" or path.suffix in {".pt", ".pth", ".ckpt", ".bin"}:
        raise CheckpointError(
            f"{path}: this looks like a torch.save() file (a zip of pickles). AIGC Studio loads only "
            "safetensors weights; convert it with safetensors.torch.save_file(state_dict, 'x.safetensors')."
        )


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], CheckpointRecord, dict[str, str]]:
    """Read tensors and record, verifying format and content hash; every failure names the file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; pass the .safetensors file inside it")
    payload = path.read_bytes()
    _sniff(path, payload)
    if len(payload) < 8:
        raise CheckpointError(f"{path}: file is {len(payload)} bytes; truncated or empty")
    header_len = struct.unpack("<Q", payload[:8])[0]
    if header_len > len(payload) - 8 or payload[8:9] != b"{":
        raise CheckpointError(f"{path}: not a safetensors file, or truncated (header claims {header_len} bytes)")
    try:
        tensors = st_load_bytes(payload)
        header = json.loads(payload[8 : 8 + header_len])
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({exc})") from exc
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT or "aigc" not in meta:
        raise CheckpointError(
            f"{path}: a safetensors file, but not an AIGC Studio checkpoint (no '{FORMAT}' record); "
            "it has no model config to rebuild the network from"
        )
    try:
        raw = json.loads(meta["aigc"])
        record = CheckpointRecord(**raw)
        record.config = current_config(record.kind, record.config)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: checkpoint record is unreadable ({exc})") from exc
    if record.weights_sha256 and tensors_sha256(tensors) != record.weights_sha256:
        raise CheckpointError(f"{path}: weights do not match the hash recorded at save time; the file is corrupt")
    return tensors, record, meta


def peek_record(path: str | os.PathLike) -> CheckpointRecord | None:
    """A checkpoint's record from its header alone, without reading the weights; None for anything else.

    Why: finding one small file among the models (a perceptual network by its hash) should not load
    every VAE beside it. Nothing is verified here: a caller that uses the file reads it with `read_checkpoint`."""
    try:
        with open(path, "rb") as handle:
            header_len = struct.unpack("<Q", handle.read(8))[0]
            if header_len > 100_000_000:
                return None
            meta = json.loads(handle.read(header_len)).get("__metadata__") or {}
        if meta.get("format") != FORMAT or "aigc" not in meta:
            return None
        return CheckpointRecord(**json.loads(meta["aigc"]))
    except (OSError, struct.error, ValueError, TypeError, AttributeError):
        return None


def find_by_weights(weights_sha256: str, kind: str, folders: list[Path]) -> Path | None:
    """The first `.safetensors` file of `kind` in `folders` whose tensors hash to `weights_sha256`, or None.

    Why by hash: a model that reads another network (a VAE's perceptual term, a GAN's acceptance rule) must
    read exactly the one it was made with, whatever the file is called on this machine."""
    for folder in folders:
        for candidate in sorted(Path(folder).glob(f"*{SUFFIX}")) if Path(folder).is_dir() else []:
            found = peek_record(candidate)
            if found is not None and found.kind == kind and found.weights_sha256 == weights_sha256:
                return candidate
    return None


# Config keys renamed since checkpoints were first written (the shipped VAE says "beta"): old → new, per kind.
RENAMED_CONFIG_KEYS: dict[str, dict[str, str]] = {"vae": {"beta": "kl_weight"}}


def current_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A model config with old key names replaced by today's, so every checkpoint ever written still loads."""
    renames = RENAMED_CONFIG_KEYS.get(kind, {})
    out = {renames.get(key, key): value for key, value in config.items() if key not in renames}
    for old, new in renames.items():
        if old in config:
            out.setdefault(new, config[old])  # a record naming both keeps the new one
    return out


def build_model(record: CheckpointRecord, path: Path | str = "<record>") -> AnyModel:
    if record.kind not in MODELS:
        raise CheckpointError(f"{path}: unknown model kind {record.kind!r} (expected one of {sorted(MODELS)})")
    try:
        cfg = CONFIGS[record.kind](**current_config(record.kind, record.config))
        return MODELS[record.kind](cfg)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: model config does not fit this version of AIGC Studio ({exc})") from exc


def load_module(path: str | os.PathLike, prefix: str = "model.") -> tuple[AnyModel, CheckpointRecord]:
    """Rebuild the nn.Module a checkpoint describes and load its weights, strictly."""
    path = Path(path)
    tensors, record, _ = read_checkpoint(path)
    model = build_model(record, path)
    state = (
        {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if any(k.startswith(prefix) for k in tensors)
        else tensors
    )
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        detail = "; ".join(
            filter(
                None,
                [
                    f"missing {missing[:3]}" if missing else "",
                    f"unexpected {unexpected[:3]}" if unexpected else "",
                    f"shape mismatch {wrong[:3]}" if wrong else "",
                ],
            )
        )
        raise CheckpointError(f"{path}: weights do not match the config {record.config} ({detail})")
    model.load_state_dict(state)
    model.eval()
    return model, record
