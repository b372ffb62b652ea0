"""Rain streak synthesis (DESIGN §3): ranges -> sampled parameters -> batched rendering on any device.

``RainRange`` holds the ranges of one rain type, ``RainSpec`` a union of ranges (the diversity ladder),
``RainParams`` the sampled per-image values (loggable, replayable), ``render_rain`` turns parameters into rain
layers (B, 1, H, W) in [0, 1], and ``add_rain`` composes ``clip(B + beta * R, 0, 1)``.

Angles are in degrees from vertical; a positive angle leans the top of a streak to the right. Every size in a
``RainRange`` is given for 128-px patches (the authors' setting) and rendered in proportion at other patch
sizes, so that a 48-px patch holds the same rain as a 128-px one scaled down: lengths and the blur of the
widths scale with s = height / 128, the seed density with 1 / s^2 (the same number of streaks per patch). The
width stays a label of the published list (1..13) in ``RainParams``; the renderer blurs it in proportion.
A streak's 1-px core cannot be thinner than a pixel, so below 128 px streaks are proportionally a little
thicker than at 128 px. The per-pixel seed noise is counter-based:
each pixel's uniform is a hash of (``RainParams.noise_seed``, pixel index) in int32 tensor ops, so one image's
rain does not depend on the rest of the batch, a logged parameter record replays exactly on any device, and a
whole batch takes one fixed sequence of ops. The kernel sizes come from the spec and the patch size
(``KernelBounds``), never from the sampled batch, so rendering never waits on the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from derain.degradations.seednoise import seed_noise
from derain.degradations.unions import UnionSpec, resolve_spec
from derain.errors import ConfigError

REFERENCE_SIZE_PX = 128  # lengths in RainRange are for this patch size
SEED_SMOOTHING = ((0.0, 0.1, 0.0), (0.1, 8.0, 0.1), (0.0, 0.1, 0.0))


@dataclass(frozen=True)
class RainRange:
    """Parameter ranges of one rain type (inclusive bounds)."""

    name: str
    density: tuple[float, float]  # fraction of pixels that seed a streak, in (0, 1)
    widths: tuple[int, ...]  # odd Gaussian window sizes in px (1 = no blur)
    width_probs: tuple[float, ...]  # probability of each width; sums to 1
    length_px: tuple[int, int]  # streak length at 128 px
    angle_deg: tuple[float, float]  # from vertical, positive leans right
    opacity: tuple[float, float] = (0.7, 1.0)  # beta

    def __post_init__(self) -> None:
        _check_range("density", self.density, 0.0, 1.0, open_interval=True)
        _check_range("length_px", self.length_px, 1, 10_000)
        _check_range("angle_deg", self.angle_deg, -90.0, 90.0)
        _check_range("opacity", self.opacity, 0.0, 1.0)
        if not self.widths or any(w < 1 or w % 2 == 0 for w in self.widths):
            detail = f"widths must be odd positive integers, got {self.widths}"
            raise ConfigError(f"rain '{self.name}': {detail}", field="widths", detail=detail)
        if len(self.width_probs) != len(self.widths) or abs(sum(self.width_probs) - 1.0) > 1e-6:
            raise ConfigError(f"rain '{self.name}': width_probs must match widths and sum to 1")

    def covers(self, other: RainRange) -> bool:
        """True when every parameter ``other`` can draw lies inside this range (``other`` is 'seen')."""
        inside = all(
            lo <= olo and ohi <= hi
            for (lo, hi), (olo, ohi) in (
                (self.density, other.density),
                (self.length_px, other.length_px),
                (self.angle_deg, other.angle_deg),
                (self.opacity, other.opacity),
            )
        )
        return inside and set(other.widths) <= set(self.widths)


def _check_range(field: str, bounds: tuple[float, float], lo: float, hi: float, open_interval: bool = False):
    a, b = bounds
    if a > b:
        detail = f"min {a} > max {b}"
    elif (a <= lo or b >= hi) if open_interval else (a < lo or b > hi):
        detail = f"range {tuple(bounds)} is outside " + (f"({lo}, {hi})" if open_interval else f"[{lo}, {hi}]")
    else:
        return
    raise ConfigError(f"rain {field}: {detail}", field=field, detail=detail)


RAIN_TYPES: dict[str, RainRange] = {
    "small": RainRange("small", (0.002, 0.004), (1, 3), (0.5, 0.5), (25, 35), (-10.0, 10.0)),
    "medium": RainRange("medium", (0.005, 0.007), (3, 5, 7), (0.25, 0.5, 0.25), (35, 45), (-30.0, 30.0)),
    "large": RainRange("large", (0.008, 0.010), (7, 9), (0.5, 0.5), (45, 55), (-60.0, 60.0)),
    "random": RainRange("random", (0.002, 0.010), (1, 3, 5, 7, 9), (0.2,) * 5, (25, 55), (-60.0, 60.0)),
}


@dataclass(frozen=True)
class RainSpec(UnionSpec):
    """A union of rain ranges: each image draws one component uniformly, then its parameters."""

    family = "rain"
    masked = True  # metrics split the image by the rain mask

    def apply(self, clean: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Degradation protocol: same as ``add_rain(clean, self, generator)``."""
        return add_rain(clean, self, generator)


def rain_spec(spec: str | RainRange | RainSpec) -> RainSpec:
    """Resolve a type name, a '+'-joined union of names, a range or a spec into a ``RainSpec``."""
    return resolve_spec(spec, RainSpec, RainRange, RAIN_TYPES, "rain type")


@dataclass(frozen=True)
class RainParams:
    """Sampled per-image rain parameters, all tensors of shape (B,) on the sampling device."""

    density: torch.Tensor  # float, fraction of seed pixels at this patch size (the range's value x (128/size)^2)
    width: torch.Tensor  # int64, odd px at 128 px (the published label; the blur is scaled to the patch size)
    length_px: torch.Tensor  # int64, already scaled to the patch size
    angle_deg: torch.Tensor  # float
    opacity: torch.Tensor  # float, beta
    noise_seed: torch.Tensor  # int64 in [0, 2**31), seeds this image's seed noise

    def to(self, device: torch.device | str) -> RainParams:
        return RainParams(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))

    def as_records(self) -> list[dict[str, float]]:
        """One plain dict per image, e.g. for logging or replay."""
        cols = {f: getattr(self, f).tolist() for f in self.__dataclass_fields__}
        return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def _uniform(lo: float, hi: float, n: int, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, device=g.device, dtype=torch.float64)


def _sample_range(r: RainRange, n: int, size_px: int, g: torch.Generator) -> list[torch.Tensor]:
    widths = torch.tensor(r.widths, device=g.device)
    probs = torch.tensor(r.width_probs, device=g.device, dtype=torch.float64)
    width = widths[torch.multinomial(probs, n, replacement=True, generator=g)]
    length = torch.randint(r.length_px[0], r.length_px[1] + 1, (n,), generator=g, device=g.device)
    length = torch.clamp(torch.round(length.double() * (size_px / REFERENCE_SIZE_PX)), min=1).long()
    per_patch = (REFERENCE_SIZE_PX / size_px) ** 2  # as many streak seeds per patch as at 128 px
    return [
        (_uniform(*r.density, n, g) * per_patch).float(),
        width.long(),
        length,
        _uniform(*r.angle_deg, n, g).float(),
        _uniform(*r.opacity, n, g).float(),
    ]


def sample_rain_params(spec: str | RainSpec, batch: int, size_px: int, generator: torch.Generator) -> RainParams:
    """Draw parameters for ``batch`` images of height ``size_px`` from ``spec`` using ``generator`` only."""
    spec = rain_spec(spec)
    g = generator
    choice = torch.randint(len(spec.components), (batch,), generator=g, device=g.device)
    drawn = [_sample_range(c, batch, size_px, g) for c in spec.components]
    fields = [torch.stack([d[i] for d in drawn])[choice, torch.arange(batch, device=g.device)] for i in range(5)]
    seeds = torch.randint(0, 2**31 - 1, (batch,), generator=g, device=g.device)
    return RainParams(*fields, noise_seed=seeds)


@dataclass(frozen=True)
class KernelBounds:
    """Static sizes for rendering: the streak kernel's side and the widest Gaussian window, both odd px."""

    kernel_px: int
    blur_px: int

    @staticmethod
    def of_spec(spec: RainSpec, height: int, width: int) -> KernelBounds:
        """The bounds any image drawn from ``spec`` at this patch size fits in; known before sampling."""
        longest = max(_scaled_length(c.length_px[1], height) for c in spec.components)
        widest = max(max(c.widths) for c in spec.components)
        return KernelBounds._clamped(longest, blur_window(widest, height), height, width)

    @staticmethod
    def of_params(params: RainParams, height: int, width: int) -> KernelBounds:
        """Bounds of an already sampled batch (reads two numbers back from the device: replay only)."""
        blur = blur_window(int(params.width.max()), height)
        return KernelBounds._clamped(int(params.length_px.max()), blur, height, width)

    @staticmethod
    def _clamped(length: int, blur: int, height: int, width: int) -> KernelBounds:
        return KernelBounds(min(length | 1, (min(height, width) - 1) | 1), blur | 1)


def _scaled_length(length_px: int, size_px: int) -> int:
    """A 128-px length scaled to ``size_px``, rounded half to even like ``torch.round``, at least 1."""
    return max(1, round(length_px * size_px / REFERENCE_SIZE_PX))


def blur_window(width_px: int, size_px: int) -> int:
    """The odd Gaussian window (px) that a 128-px streak width ``width_px`` spans at ``size_px``: its half-width
    (w - 1) / 2 scaled in proportion, rounded down (so at 48 px a width of 3 is no blur, 13 a 5-px window)."""
    return 2 * math.floor((width_px - 1) / 2 * size_px / REFERENCE_SIZE_PX + 1e-9) + 1


def streak_kernels(
    params: RainParams, size: int, blur_px: int | None = None, patch_px: int = REFERENCE_SIZE_PX
) -> torch.Tensor:
    """Blurred, rotated line kernels (B, 1, size, size), ``size`` odd and >= max length; ``blur_px`` (odd,
    >= every scaled window; default: read from ``params``) sizes the blur window; ``patch_px`` is the patch
    height the widths are scaled to.

    Each kernel is the L x L diagonal line (bilinear, as a warp of an identity matrix) rotated so that
    angle 0 is vertical, Gaussian-blurred with a w x w window (OpenCV's default sigma for w) - both scaled by
    patch_px / 128 - and clipped to its L x L box. Not normalised.
    """
    dev = params.angle_deg.device
    half = size // 2
    coords = torch.arange(-half, half + 1, device=dev, dtype=torch.float32)
    y, x = coords.view(1, -1, 1), coords.view(1, 1, -1)
    phi = torch.deg2rad(params.angle_deg.float() + 45.0).view(-1, 1, 1)
    length = params.length_px.float().view(-1, 1, 1)
    centre = (length - 1) / 2
    u = centre + torch.cos(phi) * x + torch.sin(phi) * y
    v = centre - torch.sin(phi) * x + torch.cos(phi) * y
    line = torch.zeros_like(u)
    for k in (torch.floor(u), torch.floor(u) + 1):
        valid = (k >= 0) & (k <= length - 1)
        line += valid * torch.clamp(1 - (u - k).abs(), min=0) * torch.clamp(1 - (v - k).abs(), min=0)
    blur_px = blur_window(int(params.width.max()), patch_px) if blur_px is None else blur_px
    blurred = _gaussian_blur(line.unsqueeze(1), params.width, blur_px, patch_px / REFERENCE_SIZE_PX)
    box = ((x.abs() <= length / 2) & (y.abs() <= length / 2)).unsqueeze(1)
    return blurred * box


def _gaussian_blur(images: torch.Tensor, widths: torch.Tensor, wmax: int, scale: float = 1.0) -> torch.Tensor:
    """Separable per-image Gaussian blur with zero borders: the OpenCV window of each 128-px width ``widths``
    (B,) with its sigma and half-width times ``scale``; ``wmax`` (odd) bounds every scaled window."""
    if wmax <= 1:
        return images
    taps = torch.arange(-(wmax // 2), wmax // 2 + 1, device=images.device, dtype=torch.float32)
    w = widths.float().view(-1, 1)
    sigma = (0.3 * ((w - 1) * 0.5 - 1) + 0.8) * scale
    kern = torch.exp(-(taps**2) / (2 * sigma**2)) * (taps.abs() <= (w - 1) / 2 * scale + 1e-6)
    kern = kern / kern.sum(dim=1, keepdim=True)
    b = images.shape[0]
    flat = images.view(1, b, *images.shape[-2:])
    flat = F.conv2d(flat, kern.view(b, 1, 1, wmax), padding=(0, wmax // 2), groups=b)
    flat = F.conv2d(flat, kern.view(b, 1, wmax, 1), padding=(wmax // 2, 0), groups=b)
    return flat.view_as(images)


def _fft_size(n: int) -> int:
    """The smallest 5-smooth integer >= n (FFT lengths pocketfft and cuFFT handle fastest)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _reflect_filter(images: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Seed smoothing then per-image centred streak filtering, each with reflect-101 borders (OpenCV's
    ``filter2D`` default, as the authors' generator runs it).

    images (B, 1, H, W), kernels (B, 1, S, S) with S odd and < H, W. Both filters run as one product of
    spectra over the image reflect-padded by S // 2 + 1 and zero-filled to a 5-smooth size. Padding then
    smoothing equals smoothing then padding, because the smoothing kernel is symmetric and so keeps the mirror
    symmetry about the edge pixels. The uncentred kernels shift the result by S // 2 + 1 and the circular
    wrap only reaches rows and columns that are cropped away; periodic borders instead would let streaks
    re-enter at the opposite edge (medium and large rain 7-10 % denser than the authors'). Plain 2D transforms:
    splitting them by axis to skip zero rows measured slower on the CPU (strided copies).
    """
    h, w = images.shape[-2:]
    pad = kernels.shape[-1] // 2 + 1
    padded = F.pad(images, (pad,) * 4, mode="reflect")
    fh, fw = _fft_size(padded.shape[-2]), _fft_size(padded.shape[-1])
    smoothing = torch.tensor(SEED_SMOOTHING, device=images.device, dtype=images.dtype)
    kernel_spectrum = torch.fft.rfft2(kernels, s=(fh, fw)) * torch.fft.rfft2(smoothing, s=(fh, fw))
    spectrum = torch.fft.rfft2(padded, s=(fh, fw)).mul_(kernel_spectrum)
    return torch.fft.irfft2(spectrum, s=(fh, fw))[..., 2 * pad : 2 * pad + h, 2 * pad : 2 * pad + w]


def render_rain(params: RainParams, height: int, width: int, bounds: KernelBounds | None = None) -> torch.Tensor:
    """Rain layers (B, 1, H, W) in [0, 1] on the device of ``params``; all-zero where density is 0.

    ``bounds`` (from ``KernelBounds.of_spec``) fixes the kernel sizes without reading the batch; without it
    they are read from ``params`` (one host sync), as a replay of logged records does.
    """
    bounds = bounds or KernelBounds.of_params(params, height, width)
    uniform = seed_noise(params.noise_seed, height, width)
    seeds = uniform * (uniform > 1 - params.density.view(-1, 1, 1, 1))
    kernels = streak_kernels(params, bounds.kernel_px, bounds.blur_px, height)
    layer = _reflect_filter(seeds, kernels).clamp_min(0)
    lo = layer.amin(dim=(-2, -1), keepdim=True)
    span = layer.amax(dim=(-2, -1), keepdim=True) - lo
    normalised = torch.where(span > 1e-12, (layer - lo) / span.clamp_min(1e-12), torch.zeros_like(layer))
    # 8-bit levels, truncated, as the authors' generator stores the layer (cv2.normalize to 0..255, uint8).
    return torch.floor(normalised * 255) / 255


def composite(clean: torch.Tensor, layer: torch.Tensor, opacity: torch.Tensor) -> torch.Tensor:
    """``clip(clean + beta * layer, 0, 1)``; clean (B, C, H, W), layer (B, 1, H, W), opacity (B,)."""
    return torch.clamp(clean + opacity.view(-1, 1, 1, 1).to(clean.dtype) * layer.to(clean.dtype), 0.0, 1.0)


def add_rain(
    clean: torch.Tensor, spec: str | RainSpec, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add rain of ``spec`` to every image.

    Args:
        clean: (B, C, H, W) float in [0, 1], any device.
        spec: a type name ('small'), a union ('small+medium') or a RainSpec.
        generator: the only source of randomness; same state -> bit-identical output.

    Returns:
        (rainy (B, C, H, W) in [0, 1], rain_layer (B, 1, H, W) in [0, 1]), on ``clean``'s device.
    """
    if clean.dim() != 4:
        raise ValueError(f"clean must be (B, C, H, W), got shape {tuple(clean.shape)}")
    spec = rain_spec(spec)
    height, width = clean.shape[-2:]
    params = sample_rain_params(spec, clean.shape[0], height, generator).to(clean.device)
    layer = render_rain(params, height, width, KernelBounds.of_spec(spec, height, width)).to(clean.dtype)
    return composite(clean, layer, params.opacity), layer


def dominant_angle_deg(layer: torch.Tensor) -> torch.Tensor:
    """Streak orientation (B,) in degrees from vertical (positive leans right), from the structure tensor.

    The gradient (cos g, sin g) in (x, y-down) coordinates is perpendicular to a streak running along
    (-sin t, cos t), so the streak angle t equals the dominant gradient direction g modulo 180 degrees.
    """
    gy, gx = torch.gradient(layer[:, 0].double(), dim=(-2, -1))
    jxx, jyy, jxy = (gx * gx).sum((-2, -1)), (gy * gy).sum((-2, -1)), (gx * gy).sum((-2, -1))
    grad_dir = 0.5 * torch.atan2(2 * jxy, jxx - jyy)
    return torch.rad2deg((grad_dir + math.pi / 2) % math.pi - math.pi / 2).float()
