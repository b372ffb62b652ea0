"""Counter-based per-pixel uniforms for rain seeds: a pure function of (image seed, pixel index).

The hash is Chris Wellons' lowbias32 in int32 tensor ops, applied twice with the seed's own hash mixed in, so
neighbouring pixels and images with consecutive seeds are uncorrelated (tests check moments, neighbour and
seed correlations and a chi-square). Every backend gives the same bits, and a batch is one fixed sequence of
elementwise ops: no per-image generator, no Python loop, no host sync.
"""

from __future__ import annotations

import torch

_MUL1, _MUL2 = 0x7FEB352D, 0x846CA68B  # Wellons' lowbias32 multipliers (good avalanche, 2 rounds)


def _wrap32(value: int) -> int:
    """An unsigned 32-bit constant as the int32 of the same bits."""
    return value - (1 << 32) if value >= (1 << 31) else value


def _shr(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int32 bits (torch's ``>>`` is arithmetic on signed types)."""
    return (x >> bits) & ((1 << (32 - bits)) - 1)


def hash32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 on int32 tensors, modulo 2**32 (int32 multiply wraps on every torch backend; a test pins
    the values against exact Python arithmetic). Returns a new int32 tensor of the same shape."""
    x = x ^ _shr(x, 16)  # the first op copies, so the in-place rest never touches the caller's tensor
    x.mul_(_wrap32(_MUL1))
    x.bitwise_xor_(_shr(x, 15)).mul_(_wrap32(_MUL2))
    return x.bitwise_xor_(_shr(x, 16))


def seed_noise(seeds: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Uniform [0, 1) noise (B, 1, H, W) float32 on the device of ``seeds`` (B,) int in [0, 2**31).

    Pixel (y, x) of image b is ``hash(hash(index + hash(seed)) ^ hash(seed)) >> 8`` over 2**24, with
    index = y * W + x: it depends only on seeds[b], is the same on every device, and the batch costs the same
    few ops whatever B is.
    """
    key = hash32(seeds.to(torch.int32)).view(-1, 1, 1, 1)
    index = torch.arange(height * width, device=seeds.device, dtype=torch.int32).view(1, 1, height, width)
    bits = hash32(hash32(index + key).bitwise_xor_(key))
    return _shr(bits, 8).float().mul_(1.0 / (1 << 24))
