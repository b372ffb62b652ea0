"""SwinIR-light style restorer: conv head, residual Swin transformer groups (window attention with relative
position bias, alternating shifted windows), conv tail, global residual.

Input and output (B, C, H, W); H and W are padded (reflect) to a multiple of the window and cropped back.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


def _partition(x: torch.Tensor, w: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/w * W/w, w*w, C)."""
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, c)


def _merge(windows: torch.Tensor, w: int, b: int, h: int, wd: int) -> torch.Tensor:
    """Inverse of ``_partition``: -> (B, H, W, C)."""
    x = windows.view(b, h // w, wd // w, w, w, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, wd, -1)


@functools.lru_cache(maxsize=16)
def _shift_mask(h: int, wd: int, w: int, shift: int, device: torch.device) -> torch.Tensor:
    """(nW, w*w, w*w) additive mask keeping attention inside the regions a cyclic shift brought together."""
    region = torch.zeros(1, h, wd, 1, device=device)
    cuts = (slice(0, -w), slice(-w, -shift), slice(-shift, None))
    for i, (hs, ws) in enumerate((hs, ws) for hs in cuts for ws in cuts):
        region[:, hs, ws, :] = i
    ids = _partition(region, w).squeeze(-1)
    return torch.where(ids[:, None, :] == ids[:, :, None], 0.0, -100.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside w x w windows with a learned relative position bias."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer("rel_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        bw, n, c = x.shape
        q, k, v = self.qkv(x).view(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.bias_table[self.rel_index.view(-1)].view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            bias = (bias.unsqueeze(1) + mask.unsqueeze(1).unsqueeze(0)).expand(bw // nw, -1, -1, -1, -1)
            bias = bias.reshape(bw, self.heads, n, n)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """LayerNorm -> (shifted) window attention -> residual; LayerNorm -> MLP -> residual. x (B, H, W, C)."""

    def __init__(self, dim: int, window: int, heads: int, shift: int, mlp_ratio: float = 2.0):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, wd, _ = x.shape
        y = self.norm1(x)
        mask = None
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), dims=(1, 2))
            mask = _shift_mask(h, wd, self.window, self.shift, x.device)
        y = _merge(self.attn(_partition(y, self.window), mask), self.window, b, h, wd)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class ResidualSwinGroup(nn.Module):
    """Two Swin blocks (plain, shifted) and a 3x3 conv, added to the group input. x (B, C, H, W)."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.blocks = nn.Sequential(SwinBlock(dim, window, heads, 0), SwinBlock(dim, window, heads, window // 2))
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.blocks(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x + self.conv(y.contiguous())


class SwinIRLight(nn.Module):
    """``depth`` residual Swin groups of embedding ``width``, ``heads`` heads and ``window`` px windows."""

    vmappable = False  # torch.func.vmap cannot trace its attention's learned bias (derain.engine.ensemble)

    def __init__(self, channels: int = 3, width: int = 48, depth: int = 4, window: int = 8, heads: int = 4):
        super().__init__()
        self.window = window
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.groups = nn.Sequential(*(ResidualSwinGroup(width, window, heads) for _ in range(depth)))
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad = (0, (-w) % self.window, 0, (-h) % self.window)
        y = F.pad(x, pad, mode="reflect") if any(pad) else x
        feats = self.head(y)
        return x + self.tail(self.groups(feats) + feats)[..., :h, :w]
