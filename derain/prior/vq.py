"""VQ autoencoder with taming's ``VQModel`` key layout, and loading a user's taming checkpoint strictly.

``VQModel``: encoder -> quant_conv -> nearest-codebook quantisation (straight-through) -> post_quant_conv ->
decoder. Images in [0, 1] at the interface (mapped to taming's [-1, 1] inside). The quantiser guards against
codebook collapse by restarting dead codes: every ``restart_every`` training steps, codes unused since the last
restart are re-seeded from random encoder outputs of the current batch.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from derain.errors import ConfigError
from derain.prior.taming import Decoder, Encoder, Layout


class VectorQuantizer(nn.Module):
    """Codebook ``embedding`` (n_embed, embed_dim); loss = ||sg(z) - e||^2 + beta ||z - sg(e)||^2."""

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25):
        super().__init__()
        self.n_embed, self.beta = n_embed, beta
        self.embedding = nn.Embedding(n_embed, embed_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_embed, 1.0 / n_embed)
        self.register_buffer("usage", torch.zeros(n_embed), persistent=False)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (B, D, h, w) -> (quantised z (straight-through), codebook loss, indices (B, h, w)), in float32 even
        under autocast: bf16 distances (8 bits of mantissa) would pick other nearest codes than fp32 ones."""
        with torch.autocast(z.device.type, enabled=False):
            return self._quantize(z.float())

    def _quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        dist = (
            flat.pow(2).sum(1, keepdim=True)
            - 2 * flat @ self.embedding.weight.t()
            + self.embedding.weight.pow(2).sum(1)[None]
        )
        idx = dist.argmin(dim=1)
        zq = self.embedding(idx).view(z.shape[0], z.shape[2], z.shape[3], -1).permute(0, 3, 1, 2)
        loss = F.mse_loss(zq, z.detach()) + self.beta * F.mse_loss(z, zq.detach())
        if self.training:
            self.usage += torch.bincount(idx, minlength=self.n_embed).to(self.usage.dtype)
        return z + (zq - z).detach(), loss, idx.view(z.shape[0], z.shape[2], z.shape[3])

    @torch.no_grad()
    def restart_dead_codes(self, z: torch.Tensor, generator: torch.Generator) -> int:
        """Re-seed codes unused since the last call from random latents of ``z`` (B, D, h, w); returns count."""
        dead = torch.nonzero(self.usage == 0).flatten()
        if len(dead):
            flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
            pick = torch.randint(len(flat), (len(dead),), generator=generator, device=generator.device)
            self.embedding.weight.data[dead] = flat[pick.to(flat.device)].to(self.embedding.weight.dtype)
        self.usage.zero_()
        return len(dead)


class VQModel(nn.Module):
    """taming-compatible VQ autoencoder; parameter names match ``taming.models.vqgan.VQModel``."""

    def __init__(self, layout: Layout, n_embed: int, embed_dim: int, beta: float = 0.25):
        super().__init__()
        self.layout = layout
        self.encoder, self.decoder = Encoder(layout), Decoder(layout)
        self.quantize = VectorQuantizer(n_embed, embed_dim, beta)
        self.quant_conv = nn.Conv2d(layout.z_channels, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, layout.z_channels, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images [0, 1] (B, C, H, W) -> pre-quantisation latents (B, embed_dim, H/f, W/f)."""
        return self.quant_conv(self.encoder(x * 2 - 1))

    def decode(self, zq: torch.Tensor) -> torch.Tensor:
        """Quantised latents -> images in (about) [0, 1]."""
        return (self.decoder(self.post_quant_conv(zq)) + 1) / 2

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction, codebook loss, code indices)."""
        zq, loss, idx = self.quantize(self.encode(x))
        return self.decode(zq), loss, idx


_MODEL_KEYS = ("encoder.", "decoder.", "quantize.", "quant_conv.", "post_quant_conv.")


def infer_layout(state: dict[str, torch.Tensor]) -> tuple[Layout, int, int]:
    """(Layout, n_embed, embed_dim) read off a taming VQModel state dict's parameter shapes."""
    try:
        n_embed, embed_dim = state["quantize.embedding.weight"].shape
        ch, in_channels = state["encoder.conv_in.weight"].shape[:2]
        levels = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"encoder\.down\.(\d+)\.", k)))
        blocks = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"encoder\.down\.0\.block\.(\d+)\.", k)))
        mult = tuple(state[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] // ch for i in range(levels))
        attn = tuple(i for i in range(levels) if f"encoder.down.{i}.attn.0.q.weight" in state)
        z_channels = state["encoder.conv_out.weight"].shape[0]
        out_ch = state["decoder.conv_out.weight"].shape[0]
    except (KeyError, ValueError) as err:
        raise ConfigError(f"prior.checkpoint: not a taming VQModel state dict ({err})") from None
    return Layout(ch, mult, blocks, attn, z_channels, in_channels, out_ch), n_embed, embed_dim


def load_taming(path: str | Path) -> VQModel:
    """A VQModel built from and loaded strictly with a local taming checkpoint (Lightning ``state_dict``).

    Training-only entries (``loss.*``: discriminator, LPIPS) are left out; every model key must match.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"prior.checkpoint '{path}' does not exist (nothing is downloaded; pass a local file)")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure: tell the user how to fix the file
        raise ConfigError(
            f"prior.checkpoint '{path}' cannot be read with weights_only=True ({type(err).__name__}); "
            "save its state_dict alone: torch.save(ckpt['state_dict'], 'vq.pt')"
        ) from None
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else {}
    state = {k: v for k, v in state.items() if k.startswith(_MODEL_KEYS)}
    layout, n_embed, embed_dim = infer_layout(state)
    model = VQModel(layout, n_embed, embed_dim)
    model.load_state_dict(state, strict=True)
    return model
