"""The field's reporting convention: PSNR and SSIM on the Y channel of YCbCr, as BasicSR computes them
(``calculate_psnr`` / ``calculate_ssim`` with ``test_y_channel=True``, no border crop), batched in torch on the
device of the images.

Images (B, C, H, W) in [0, 1]. RGB becomes Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 (ITU-R BT.601,
range [16/255, 235/255]); one-channel images are used as they are. SSIM uses an 11x11 Gaussian window with
sigma 1.5 over the valid region, C1 = (0.01 L)^2, C2 = (0.03 L)^2 for data range L = 1.
"""

from __future__ import annotations

import torch

BT601 = (65.481, 128.553, 24.966)  # RGB weights of Y, for values in [0, 1] and Y in [0, 255]
WINDOW, SIGMA = 11, 1.5


def y_channel(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float64 luma in [0, 1] of (B, 3, H, W) RGB or (B, 1, H, W) gray images in [0, 1]."""
    x = images.double()
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(BT601, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    return (16.0 + (x * weights).sum(dim=1, keepdim=True)) / 255.0


def psnr_y(out: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """PSNR (B,) in dB of the Y channels, data range 1; +inf for identical images."""
    mse = ((y_channel(out) - y_channel(clean)) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse)


def _gaussian_means(x: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted means of every 11x11 window (valid region) of the last two dims of ``x`` (float64):
    separable, one 11-tap pass per axis over sliding views (a quarter of the 2D convolution's time on the CPU,
    where float64 convolutions have no fast kernel)."""
    taps = torch.arange(WINDOW, dtype=torch.float64, device=x.device) - (WINDOW - 1) / 2
    g = torch.exp(-(taps**2) / (2 * SIGMA**2))
    g = g / g.sum()
    for dim in (-1, -2):
        x = x.unfold(dim, WINDOW, 1) @ g
    return x


def ssim_y(out: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """SSIM (B,) of the Y channels: the mean of the SSIM map over the valid region of the Gaussian window.

    Images smaller than the window (11 px) get NaN.
    """
    a, b = y_channel(out), y_channel(clean)
    if min(a.shape[-2:]) < WINDOW:
        return torch.full((a.shape[0],), float("nan"), dtype=torch.float64, device=a.device)
    mu_a, mu_b, aa, bb, ab = _gaussian_means(torch.stack([a, b, a * a, b * b, a * b]))
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean(dim=(1, 2, 3))
