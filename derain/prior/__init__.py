"""Generative content prior (DESIGN §7): VQ autoencoder in taming's layout, pre-training, cache, restorer.

``build_prior_restorer(cfg, device)`` returns the prior-constrained restorer for ``cfg`` (pre-training the
prior into the store on a miss, or loading ``prior.checkpoint``), with the prior's ``prior/*`` metrics.
"""

from __future__ import annotations

import torch

from derain.config.schema import Config
from derain.engine.seeding import seeded
from derain.prior.restorer import PriorRestorer
from derain.prior.store import ensure_prior
from derain.prior.vq import load_taming

KINDS = ("none", "vq", "ae")  # prior.kind: no prior, or one of the two restorers below


def build_prior_restorer(cfg: Config, device: torch.device | str = "cpu") -> tuple[PriorRestorer, dict[str, float]]:
    """(restorer with a frozen prior, prior metrics). ``cfg.prior.kind`` 'vq' quantises the encoder's output
    to the codebook; 'ae' feeds it to the same frozen decoder unquantised (the baseline that separates the
    codebook from any autoencoder bottleneck)."""
    if cfg.prior.checkpoint:
        prior, metrics = load_taming(cfg.prior.checkpoint), {"prior/from_checkpoint": 1.0}
    else:
        prior, metrics, hit = ensure_prior(cfg, device)
        metrics = {**metrics, "prior/cache_hit": float(hit)}
    model = seeded(
        cfg.seed,
        lambda: PriorRestorer(prior, cfg.prior.finetune_decoder, cfg.prior.skip, quantize=cfg.prior.kind == "vq"),
    )
    return model, metrics
