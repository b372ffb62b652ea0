"""Prior-constrained restorer: a fresh encoder maps the degraded image into the frozen codebook, and the
frozen decoder renders the output, so the output is built only from clean-image content the prior knows.

Input and output (B, C, H, W) in [0, 1]; H and W are padded (reflect) to a multiple of the prior's factor.
``finetune_decoder`` un-freezes decoder and post-quant conv (the paper's fine-tuned VQGAN); ``skip`` > 0 adds
a learned, zero-initialised convolution of the input, scaled by ``skip``, to the decoded output. With
``quantize`` False (``prior.kind='ae'``) the latents skip the codebook: the same encoder-decoder, unquantised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from derain.prior.taming import Encoder
from derain.prior.vq import VQModel


class PriorRestorer(nn.Module):
    def __init__(self, prior: VQModel, finetune_decoder: bool = False, skip: float = 0.0, quantize: bool = True):
        super().__init__()
        self.prior, self.skip, self.quantize = prior, skip, quantize
        self.encoder = Encoder(prior.layout)  # fresh: learns to map degraded images into the codebook
        self.quant_conv = nn.Conv2d(prior.layout.z_channels, prior.quant_conv.out_channels, 1)
        for name, param in prior.named_parameters():
            param.requires_grad = finetune_decoder and name.startswith(("decoder.", "post_quant_conv."))
        channels = prior.layout.in_channels
        self.skip_conv = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.skip_conv.weight)
        nn.init.zeros_(self.skip_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        f = self.prior.layout.factor
        pad = (0, (-w) % f, 0, (-h) % f)
        y = F.pad(x, pad, mode="reflect") if any(pad) else x
        z = self.quant_conv(self.encoder(y * 2 - 1))
        zq = self.prior.quantize(z)[0] if self.quantize else z
        out = self.prior.decode(zq)[..., :h, :w]
        return out + self.skip * self.skip_conv(x) if self.skip else out


def frozen_parameters(model: PriorRestorer) -> dict[str, torch.Tensor]:
    """Copies of the parameters that must not change (for checks): codebook, and decoder unless fine-tuned."""
    return {n: p.detach().clone() for n, p in model.prior.named_parameters() if not p.requires_grad}
