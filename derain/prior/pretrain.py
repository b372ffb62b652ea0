"""Pre-training the VQ content prior on clean patches of a generic pool (held-out images excluded).

Reconstruction L1 + codebook/commitment loss, dead-code restarts against collapse, and optionally a
VQGAN-style patch-discriminator hinge loss. Reports ``prior/*`` metrics: reconstruction PSNR on held-out
patches, codebook perplexity and usage, losses and wall time.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from derain.config.schema import Config
from derain.data.banks import banks_for
from derain.data.sources import BUILTIN
from derain.engine.loop import bf16_dtype
from derain.engine.progress import Progress
from derain.engine.seeding import seeded
from derain.evaluation.metrics import psnr
from derain.prior.taming import Layout
from derain.prior.vq import VQModel

log = logging.getLogger(__name__)


def layout_for(cfg: Config) -> Layout:
    p, c = cfg.prior, cfg.data.channels
    mult = (1,) + (2,) * (p.levels - 1)
    return Layout(
        ch=p.width, ch_mult=mult, num_res_blocks=p.res_blocks, z_channels=p.embed_dim, in_channels=c, out_ch=c
    )


def pretrain_pools(cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """(training patches, held-out patches), uint8 (P, C, S, S), over the pre-training sources."""
    sources = BUILTIN if cfg.prior.pretrain_source == "generic" else (cfg.prior.pretrain_source,)
    banks = [banks_for(replace(cfg.data, source=s)) for s in sources]
    return torch.cat([b[0].patches for b in banks]), torch.cat([b[1].patches for b in banks])


class PatchDiscriminator(nn.Module):
    """Small PatchGAN: (B, C, H, W) in [0, 1] -> (B, 1, H/4, W/4) real/fake logits."""

    def __init__(self, channels: int, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.GroupNorm(8, 2 * width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


@torch.no_grad()
def codebook_stats(model: VQModel, patches: torch.Tensor, device: torch.device) -> dict[str, float]:
    """Reconstruction PSNR, perplexity and usage of ``model`` on uint8 ``patches``."""
    model.eval()
    x = patches.to(device).float() / 255
    rec, _, idx = model(x)
    counts = torch.bincount(idx.flatten(), minlength=model.quantize.n_embed).double()
    prob = counts / counts.sum()
    entropy = -(prob[prob > 0] * prob[prob > 0].log()).sum().item()
    return {
        "prior/recon_psnr": psnr(rec.clamp(0, 1), x).mean().item(),
        "prior/perplexity": math.exp(entropy),
        "prior/usage": (counts > 0).double().mean().item(),
    }


def _batch(pool: torch.Tensor, size: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
    x = pool[torch.randint(len(pool), (size,), generator=g)].to(device).float() / 255
    flip = torch.rand(size, 1, 1, 1, generator=g).to(device) < 0.5
    return torch.where(flip, x.flip(-1), x).contiguous(memory_format=torch.channels_last)


def _gan_losses(disc: nn.Module, x: torch.Tensor, rec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(generator loss, discriminator hinge loss)."""
    d_loss = F.relu(1 - disc(x)).mean() + F.relu(1 + disc(rec.detach())).mean()
    return -disc(rec).mean(), d_loss


def _networks(cfg: Config) -> tuple[VQModel, PatchDiscriminator | None]:
    """The VQ autoencoder and (with ``prior.gan``) its discriminator, freshly initialised."""
    p = cfg.prior
    model = VQModel(layout_for(cfg), p.codebook_size, p.embed_dim, p.beta)
    return model, PatchDiscriminator(cfg.data.channels) if p.gan else None


def pretrain(cfg: Config, device: torch.device) -> tuple[VQModel, dict[str, float]]:
    """Pre-train the prior of ``cfg.prior`` and return it with its metrics.

    Seeded by the data seed, not the training seed: like a downloaded VQGAN, one prior serves every trial of a
    sweep, whatever seed each trial trains its restorer with. With ``train.amp`` the encoder and decoder run in
    bf16 where ``loop.amp_dtype`` gives bf16 (CUDA, a CPU with AMX: 170 vs 274 ms per cpu-preset step on one
    core); the codebook lookup stays in float32.
    """
    p, start = cfg.prior, time.perf_counter()
    train_pool, heldout = pretrain_pools(cfg)
    g = torch.Generator().manual_seed(cfg.data.seed)
    model, disc = seeded(cfg.data.seed, lambda: _networks(cfg))
    model, disc = model.to(device, memory_format=torch.channels_last), disc.to(device) if disc is not None else None
    amp = bf16_dtype(device, cfg.train.amp)
    opt = torch.optim.Adam(model.parameters(), lr=p.pretrain_lr)
    opt_d = torch.optim.Adam(disc.parameters(), lr=p.pretrain_lr) if disc else None
    l1: list[float] = []
    progress = Progress("prior pre-training", p.pretrain_iterations, log)
    for step in range(1, p.pretrain_iterations + 1):
        model.train()
        x = _batch(train_pool, p.pretrain_batch, g, device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            z = model.encode(x)
            zq, qloss, _ = model.quantize(z)  # in float32 (VectorQuantizer)
            rec = model.decode(zq).float()
        loss = F.l1_loss(rec, x) + qloss
        if disc is not None and step > p.gan_start * p.pretrain_iterations:
            g_loss, d_loss = _gan_losses(disc, x, rec)
            loss = loss + p.gan_weight * g_loss
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward(inputs=list(disc.parameters()), retain_graph=True)
            opt_d.step()
        opt.zero_grad(set_to_none=True)
        loss.backward(inputs=list(model.parameters()))
        opt.step()
        l1.append(F.l1_loss(rec, x).item())
        progress.update(step, l1=l1[-1])
        if p.restart_every and step % p.restart_every == 0 and step < p.pretrain_iterations:
            model.quantize.restart_dead_codes(z.detach(), g)
    tenth = max(1, len(l1) // 10)  # means over the first and last tenth: single batches are noisy
    metrics = {
        **codebook_stats(model, heldout, device),
        "prior/l1_first": sum(l1[:tenth]) / tenth,
        "prior/l1_last": sum(l1[-tenth:]) / tenth,
        "prior/pretrain_s": time.perf_counter() - start,
    }
    log.info("prior pre-trained: %s", "  ".join(f"{k} {v:.3g}" for k, v in metrics.items()))
    return model.eval(), metrics
