"""Encoder and decoder in the layout of taming-transformers' VQGAN (``taming/modules/diffusionmodules/model.py``).

The module and parameter names match taming's exactly, so a ``VQModel`` checkpoint (e.g. the public f16 /
1024-code ImageNet model that a user downloaded) loads strictly by key. The same layout, at a small width,
is this project's own content prior. Images are (B, C, H, W) in [-1, 1]; latents (B, z, H/f, W/f) with
f = 2 ** (len(ch_mult) - 1). Channel counts must be multiples of 32 (GroupNorm with 32 groups, as taming).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Layout:
    """taming's ``ddconfig``: the shapes that fix every parameter's name and size."""

    ch: int = 32
    ch_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attn_levels: tuple[int, ...] = ()  # levels (0 = full resolution) with attention, as taming's attn_resolutions
    z_channels: int = 32
    in_channels: int = 3
    out_ch: int = 3

    @property
    def factor(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)


class GroupNorm32(nn.GroupNorm):
    """GroupNorm in float32 on a contiguous tensor, (B, C, H, W) back in the input's memory format.

    Under autocast its input comes in bf16 (a convolution's output): CUDA's autocast runs group_norm in float32
    anyway, the CPU's does not, and oneDNN's bf16 channels_last GroupNorm backward took 55 % of a bf16 step of
    the cpu preset's prior restorer (334 ms per step, against 248 ms in fp32; 154 ms with this). Same
    parameters as ``nn.GroupNorm``, so stored priors load unchanged; fp32 inputs take ``nn.GroupNorm``'s path.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return super().forward(x)
        with torch.autocast(x.device.type, enabled=False):
            y = F.group_norm(x.float().contiguous(), self.num_groups, self.weight, self.bias, self.eps)
        last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        return y.contiguous(memory_format=torch.channels_last) if last else y


def _norm(channels: int) -> nn.GroupNorm:
    return GroupNorm32(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1, self.conv1 = _norm(in_channels), nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2, self.conv2 = _norm(out_channels), nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class AttnBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(channels, channels, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (m(y).flatten(2).transpose(1, 2) for m in (self.q, self.k, self.v))  # (B, HW, C)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # taming's asymmetric padding


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _mid(channels: int) -> nn.Module:
    mid = nn.Module()
    mid.block_1, mid.attn_1, mid.block_2 = (
        ResnetBlock(channels, channels),
        AttnBlock(channels),
        ResnetBlock(channels, channels),
    )
    return mid


def _stage(stage: nn.Module, h: torch.Tensor, resample: str) -> torch.Tensor:
    """One resolution level: residual blocks (each followed by its attention block, if the level has them),
    then the level's down/upsampling layer if it has one."""
    for i, block in enumerate(stage.block):
        h = block(h)
        if len(stage.attn):
            h = stage.attn[i](h)
    return getattr(stage, resample)(h) if hasattr(stage, resample) else h


class Encoder(nn.Module):
    """Image (B, in_channels, H, W) -> latent (B, z_channels, H/f, W/f)."""

    def __init__(self, lay: Layout):
        super().__init__()
        self.conv_in = nn.Conv2d(lay.in_channels, lay.ch, 3, 1, 1)
        self.down = nn.ModuleList()
        block_in = lay.ch
        for level, mult in enumerate(lay.ch_mult):
            stage = nn.Module()
            stage.block, stage.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(lay.num_res_blocks):
                stage.block.append(ResnetBlock(block_in, lay.ch * mult))
                block_in = lay.ch * mult
                if level in lay.attn_levels:
                    stage.attn.append(AttnBlock(block_in))
            if level != len(lay.ch_mult) - 1:
                stage.downsample = Downsample(block_in)
            self.down.append(stage)
        self.mid = _mid(block_in)
        self.norm_out, self.conv_out = _norm(block_in), nn.Conv2d(block_in, lay.z_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for stage in self.down:
            h = _stage(stage, h, "downsample")
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """Latent (B, z_channels, h, w) -> image (B, out_ch, h*f, w*f)."""

    def __init__(self, lay: Layout):
        super().__init__()
        block_in = lay.ch * lay.ch_mult[-1]
        self.conv_in = nn.Conv2d(lay.z_channels, block_in, 3, 1, 1)
        self.mid = _mid(block_in)
        stages: list[nn.Module] = []
        for level in reversed(range(len(lay.ch_mult))):
            stage = nn.Module()
            stage.block, stage.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(lay.num_res_blocks + 1):
                stage.block.append(ResnetBlock(block_in, lay.ch * lay.ch_mult[level]))
                block_in = lay.ch * lay.ch_mult[level]
                if level in lay.attn_levels:
                    stage.attn.append(AttnBlock(block_in))
            if level != 0:
                stage.upsample = Upsample(block_in)
            stages.insert(0, stage)
        self.up = nn.ModuleList(stages)
        self.norm_out, self.conv_out = _norm(block_in), nn.Conv2d(block_in, lay.out_ch, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for stage in reversed(self.up):
            h = _stage(stage, h, "upsample")
        return self.conv_out(F.silu(self.norm_out(h)))
