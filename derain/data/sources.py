"""Background image sources: shipped photos and textures, procedural fields, and a user's folder.

Every source returns a list of images as uint8 numpy arrays (H, W, 3). Nothing is downloaded: ``photos`` and
``textures`` read the sample images that scikit-image ships inside its wheel, ``smooth`` and ``deadleaves``
are generated from the seed, ``folder:PATH`` reads a user's dataset (DIV2K, CelebA, Manga109, Urban100 ...).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from derain.engine.progress import Progress
from derain.errors import DataError

log = logging.getLogger(__name__)

# Natural photos shipped with scikit-image (no pooch download). Colour and grayscale mixed, as in the wild.
PHOTOS = (
    "astronaut",
    "camera",
    "cat",
    "coffee",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "rocket",
    "cell",
    "motorcycle_left",
)
# The held-out photos, never trained on: one grayscale, three colour, different content (a man with a camera, a
# cat, a cup, a rocket). The other 7 train: astronaut, coins, hubble_deep_field, immunohistochemistry, moon,
# cell, motorcycle_left.
HELDOUT_PHOTOS = ("camera", "cat", "coffee", "rocket")
TEXTURES = ("brick", "grass", "gravel")  # 512 x 512 grayscale, high-frequency: the complex end
PROCEDURAL_IMAGES = 40  # training images generated per procedural source
PROCEDURAL_HELDOUT = 10  # held-out images per procedural source, from a stream of their own
PROCEDURAL_COUNTS = (PROCEDURAL_IMAGES, PROCEDURAL_HELDOUT)
HELDOUT_STREAM = 1_000_000  # procedural image i of the held-out set draws from rng([seed, HELDOUT_STREAM + i])
MIN_IMAGES_FOR_IMAGE_SPLIT = 4  # folders with fewer images hold out bottom rows instead of whole images
BUILTIN = ("photos", "textures", "smooth", "deadleaves")


def known_sources() -> list[str]:
    return [*BUILTIN, "folder:PATH"]


def _to_rgb_u8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype != np.uint8:
        arr = np.clip(arr / (257.0 if arr.max() > 255 else 1.0), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def _skimage(names: tuple[str, ...]) -> list[np.ndarray]:
    from skimage import data

    if "motorcycle_left" in names:
        names = tuple(n for n in names if n != "motorcycle_left")
        extra = [data.stereo_motorcycle()[0]]
    else:
        extra = []
    return [_to_rgb_u8(getattr(data, n)()) for n in names] + [_to_rgb_u8(a) for a in extra]


def _smooth_image(size: int, complexity: float, rng: np.random.Generator) -> np.ndarray:
    """Band-limited colour field: white noise low-passed with a cutoff that grows with ``complexity``."""
    cutoff = 1.5 + 12.0 * complexity**2  # cycles per image: a few blobs (0) to fine mottling (1)
    fy = np.fft.fftfreq(size)[:, None] * size
    fx = np.fft.rfftfreq(size)[None, :] * size
    lowpass = np.exp(-(fy**2 + fx**2) / (2 * cutoff**2))
    channels = []
    for _ in range(3):
        field = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((size, size))) * lowpass, s=(size, size))
        field = (field - field.mean()) / (field.std() + 1e-8)
        channels.append(field)
    img = 0.5 + 0.18 * np.stack(channels, axis=-1)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _deadleaves_image(size: int, complexity: float, rng: np.random.Generator) -> np.ndarray:
    """Dead-leaves model: occluding discs, radii ~ r^-3 on [r_min, size/4]; smaller r_min = more complex.

    Vectorised: every (pixel, disc) incidence is listed once, and each pixel takes the colour of the
    front-most (lowest-index) disc covering it; enough discs are drawn to cover the image almost surely.
    """
    r_max = size / 4
    r_min = max(1.0, r_max * (1.0 - complexity) ** 2 * 0.5 + 1.0)
    mean_area = 2 * np.pi * np.log(r_max / r_min) / (r_min**-2 - r_max**-2)
    n = int(min(200_000, 10 * size * size / mean_area))
    u = rng.random(n)
    radii = (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5
    centres = rng.uniform(0, size, (n, 2))
    colours = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    pixel_ids, disc_ids = [], []
    half_boxes = np.ceil(radii).astype(int)
    for half in np.unique(half_boxes):
        idx = np.nonzero(half_boxes == half)[0]
        off = np.arange(-half, half + 1)
        py = np.floor(centres[idx, 0])[:, None, None] + off[None, :, None]
        px = np.floor(centres[idx, 1])[:, None, None] + off[None, None, :]
        inside = (py - centres[idx, 0, None, None]) ** 2 + (px - centres[idx, 1, None, None]) ** 2
        keep = (inside <= radii[idx, None, None] ** 2) & (py >= 0) & (py < size) & (px >= 0) & (px < size)
        pixel_ids.append((py * size + px)[keep].astype(np.int64))
        disc_ids.append(np.broadcast_to(idx[:, None, None], keep.shape)[keep])
    pix, disc = np.concatenate(pixel_ids), np.concatenate(disc_ids)
    order = np.lexsort((disc, pix))
    first_pix, first = np.unique(pix[order], return_index=True)
    img = np.empty((size * size, 3), np.uint8)
    img[:] = colours[-1]  # pixels no disc reached (vanishingly rare) show the back-most leaf
    img[first_pix] = colours[disc[order][first]]
    return img.reshape(size, size, 3)


def _procedural(kind: str, size: int, complexity: float, seed: int, first: int = 0, count: int = PROCEDURAL_IMAGES):
    make = _smooth_image if kind == "smooth" else _deadleaves_image
    progress = Progress(f"building {kind} backgrounds ({size} px)", count, log)
    images = []
    for i in range(count):
        images.append(make(size, complexity, np.random.default_rng([seed, first + i])))
        progress.update(i + 1)
    return images


def _split_images(images: list[np.ndarray], fraction: float, seed: int) -> tuple[list, list]:
    """(train images, held-out images): disjoint images, or disjoint rows when a source has few images."""
    if len(images) >= MIN_IMAGES_FOR_IMAGE_SPLIT:
        order = np.random.default_rng([seed, 1]).permutation(len(images))
        n_out = max(1, round(fraction * len(images)))
        return [images[i] for i in order[n_out:]], [images[i] for i in order[:n_out]]
    cut = [round(img.shape[0] * (1 - fraction)) for img in images]
    return [img[:c] for img, c in zip(images, cut, strict=True)], [img[c:] for img, c in zip(images, cut, strict=True)]


def split_source(
    source: str, min_size: int, complexity: float, seed: int, fraction: float, counts: tuple[int, int] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(training images, held-out images) of ``source``, disjoint, each at least ``min_size`` px per side.

    ``photos``: ``HELDOUT_PHOTOS`` are held out. Procedural sources: held-out images come from their own seed
    stream; with ``counts`` = (training, held-out) they are that many distinct images of exactly ``min_size``
    px, one per patch the caller cuts, so that N backgrounds are N distinct images (photos have about 11).
    ``textures`` (3 images) and small folders: the bottom ``fraction`` of every image's rows. Folders: a
    ``fraction`` of the images, drawn with ``seed``.
    """
    fits = lambda images: [img for img in images if min(img.shape[:2]) >= min_size]  # noqa: E731
    if source == "photos":
        return fits(_skimage(tuple(p for p in PHOTOS if p not in HELDOUT_PHOTOS))), fits(_skimage(HELDOUT_PHOTOS))
    if source in ("smooth", "deadleaves"):
        size, (train, held) = (min_size, counts) if counts else (max(2 * min_size, 128), PROCEDURAL_COUNTS)
        heldout = _procedural(source, size, complexity, seed, HELDOUT_STREAM, held)
        return _procedural(source, size, complexity, seed, 0, train), heldout
    train, heldout = _split_images(load_source(source, min_size, complexity, seed), fraction, seed)
    return fits(train), fits(heldout)


def _image_files(folder: Path) -> list[Path]:
    extensions = {ext.lower() for ext in Image.registered_extensions()}
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions)


def check_folder(path: str) -> list[Path]:
    """Image files under ``path`` (recursive); DataError naming the folder if missing or without images."""
    folder = Path(os.path.expanduser(path))
    if not folder.is_dir():
        raise DataError(f"background folder '{path}' does not exist or is not a directory")
    files = _image_files(folder)
    if not files:
        raise DataError(f"background folder '{path}' contains no image files (searched recursively)")
    return files


SKIPPED = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)


def _read_image(path: Path) -> np.ndarray:
    """RGB uint8 (H, W, 3). 16- and 32-bit integers map 0..65535 to 0..255 (kept as is when all <= 255);
    float images (mode F, e.g. float32 TIFF) map 0..1 to 0..255 when all values lie in [0, 1], else are
    clipped to 0..255. Images over PIL's decompression-bomb limit raise ``Image.DecompressionBombError``."""
    with Image.open(path) as im:
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, dtype=np.float64)
            return _to_rgb_u8(arr * (255.0 / 65535.0) if arr.max() > 255 else arr)
        if im.mode == "F":
            arr = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
            return _to_rgb_u8(arr * 255.0 if arr.min() >= 0 and arr.max() <= 1 else arr)
        return _to_rgb_u8(np.asarray(im.convert("RGB")))


@functools.lru_cache(maxsize=32)
def first_usable_image(path: str, min_size: int) -> Path:
    """The first image under folder ``path`` that opens and is at least ``min_size`` px per side: the check a
    sweep makes before Ray starts. DataError naming the counts of what was skipped and why otherwise."""
    corrupt = small = 0
    for file in check_folder(path):
        try:
            img = _read_image(file)
        except SKIPPED:
            corrupt += 1
            continue
        if min(img.shape[:2]) >= min_size:
            return file
        small += 1
    raise DataError(
        f"no usable image in folder '{path}' ({corrupt} unreadable or too large to decode, "
        f"{small} smaller than {min_size} px)"
    )


def load_folder(path: str, min_size: int) -> list[np.ndarray]:
    """Every readable image under ``path`` at least ``min_size`` px on each side, as RGB uint8.

    Unreadable/corrupt files and too-small images are skipped and counted in one warning; DataError if
    nothing usable remains.
    """
    images, corrupt, small = [], 0, 0
    files = check_folder(path)
    progress = Progress(f"reading folder '{path}'", len(files), log)
    for done, file in enumerate(files, 1):
        progress.update(done)
        try:
            img = _read_image(file)
        except SKIPPED:  # corrupt, not an image, or a decompression bomb
            corrupt += 1
            continue
        if min(img.shape[:2]) < min_size:
            small += 1
            continue
        images.append(img)
    if corrupt or small:
        log.warning(
            "folder '%s': skipped %d unreadable or too-large file(s), %d image(s) smaller than %d px",
            path,
            corrupt,
            small,
            min_size,
        )
    if not images:
        raise DataError(
            f"no usable image in folder '{path}' ({corrupt} unreadable or too large to decode, "
            f"{small} smaller than {min_size} px)"
        )
    return images


def load_source(source: str, min_size: int, complexity: float = 0.5, seed: int = 0) -> list[np.ndarray]:
    """All images of ``source`` as RGB uint8 arrays (H, W, 3), each at least ``min_size`` px per side."""
    if source.startswith("folder:"):
        return load_folder(source.removeprefix("folder:"), min_size)
    if source == "photos":
        images = _skimage(PHOTOS)
    elif source == "textures":
        images = _skimage(TEXTURES)
    elif source in ("smooth", "deadleaves"):
        images = _procedural(source, max(2 * min_size, 128), complexity, seed)
    else:
        raise DataError(f"unknown background source '{source}' (known: {', '.join(known_sources())})")
    return [img for img in images if min(img.shape[:2]) >= min_size]
