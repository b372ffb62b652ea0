"""The prior store: pre-trained priors cached on disk by the hash of what determines them.

A sweep pre-trains each distinct prior once (``ensure_prior``), before its trials; every trial, on any node that
sees the store, then loads the same weights. Concurrent requests for one prior take a file lock, so only one
process trains it. The key covers the prior's own settings and the data that shape its pool (patch size,
channels, data seed — which also seeds pre-training —, pool size, held-out fraction, procedural complexity), never
the training seed or the restorer-only options.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import torch

from derain.config.schema import Config, to_dict
from derain.prior.pretrain import layout_for, pretrain
from derain.prior.vq import VQModel

RESTORER_ONLY = ("kind", "finetune_decoder", "skip", "store", "checkpoint")
DATA_KEYS = ("patch_size", "channels", "seed", "pool_size", "heldout_fraction", "complexity", "heldout_images")


def prior_key(cfg: Config) -> str:
    """16-hex digest of everything that determines the pre-trained prior."""
    prior = {k: v for k, v in to_dict(cfg.prior).items() if k not in RESTORER_ONLY}
    data = {k: getattr(cfg.data, k) for k in DATA_KEYS}
    blob = json.dumps({"prior": prior, "data": data}, sort_keys=True)  # data.seed seeds pre-training
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def store_root(cfg: Config) -> Path:
    return Path(cfg.prior.store or Path.cwd() / "runs" / "priors").expanduser().resolve()


def _load(folder: Path, cfg: Config) -> tuple[VQModel, dict[str, float]]:
    model = VQModel(layout_for(cfg), cfg.prior.codebook_size, cfg.prior.embed_dim, cfg.prior.beta)
    model.load_state_dict(torch.load(folder / "prior.pt", map_location="cpu", weights_only=True))
    return model.eval(), json.loads((folder / "metrics.json").read_text())


def ensure_prior(cfg: Config, device: torch.device | str = "cpu") -> tuple[VQModel, dict[str, float], bool]:
    """(prior on CPU, its metrics, whether it came from the cache). Pre-trains and stores it on a miss."""
    folder = store_root(cfg) / prior_key(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one trainer per prior; the others wait, then hit the cache
        if (folder / "prior.pt").exists():
            model, metrics = _load(folder, cfg)
            return model, metrics, True
        model, metrics = pretrain(cfg, torch.device(device))
        tmp = folder / "prior.pt.tmp"
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (folder / "config.json").write_text(json.dumps(to_dict(cfg.prior), indent=2))
        os.replace(tmp, folder / "prior.pt")  # the weights appear last, complete
        return model.cpu(), metrics, False
