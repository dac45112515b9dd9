"""CIFAR-10-C-style corruptions (Hendrycks & Dietterich, ICLR 2019): 15 types x 5 severities.

Written here with numpy and PIL (the PyPI ``imagecorruptions`` package breaks with current
scikit-image). Severity parameters follow the published CIFAR-10-C settings where the
corruption is simple to state (noise levels, zoom factors, brightness, contrast, pixelation,
JPEG qualities); defocus and glass blur use slightly different parameters so that strength
grows with severity; motion blur, snow, frost, fog and the elastic warp are re-implemented
without ImageMagick or the frost photographs, so they match the published ones in kind and
strength, not pixel for pixel: numbers on this suite are comparable across models run here,
not to published CIFAR-10-C tables. Every corruption is a pure
function of (image, severity, seed): the suite seeds each image with (seed, sample index), so a
corrupted dataset is the same on every run and machine.
"""
from __future__ import annotations

from io import BytesIO
from typing import Callable

import numpy as np
from PIL import Image

Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]  # float [H,W,3] in [0,1]

NOISE = ("gaussian_noise", "shot_noise", "impulse_noise")
BLUR = ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur")
WEATHER = ("snow", "frost", "fog", "brightness")
DIGITAL = ("contrast", "elastic_transform", "pixelate", "jpeg_compression")
CORRUPTIONS = NOISE + BLUR + WEATHER + DIGITAL
SEVERITIES = (1, 2, 3, 4, 5)


def _blur(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """2-D convolution per channel with reflect padding (kernel normalised to sum 1)."""
    kernel = kernel / kernel.sum()
    kh, kw = kernel.shape
    pad = np.pad(x, ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2), (0, 0)), mode="reflect")
    out = np.zeros_like(x)
    for i in range(kh):
        for j in range(kw):
            if kernel[i, j]:
                out += kernel[i, j] * pad[i:i + x.shape[0], j:j + x.shape[1]]
    return out


def _gaussian_kernel(sigma: float) -> np.ndarray:
    r = max(1, int(np.ceil(3 * sigma)))
    ax = np.arange(-r, r + 1)
    g = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    return np.outer(g, g)


def gaussian_noise(x, s, rng):
    return x + rng.normal(scale=[0.04, 0.06, 0.08, 0.09, 0.10][s - 1], size=x.shape)


def shot_noise(x, s, rng):
    lam = [500, 250, 100, 75, 50][s - 1]
    return rng.poisson(np.clip(x, 0, 1) * lam) / lam


def impulse_noise(x, s, rng):
    amount = [0.01, 0.02, 0.03, 0.05, 0.07][s - 1]
    out = x.copy()
    hit = rng.random(x.shape) < amount
    out[hit] = rng.integers(0, 2, size=int(hit.sum()))  # salt or pepper
    return out


def defocus_blur(x, s, rng):
    # published CIFAR-10-C: (0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1), not monotone in blur
    # strength with this disk rasterisation; these keep the same range and grow with severity
    radius, alias = [(0.5, 0.4), (0.75, 0.5), (1, 0.5), (1.5, 0.3), (2, 0.2)][s - 1]
    r = max(3, int(np.ceil(radius)) * 2 + 1)
    ax = np.arange(-(r // 2), r // 2 + 1)
    xx, yy = np.meshgrid(ax, ax)
    disk = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float64)
    disk = _blur(disk[..., None], _gaussian_kernel(alias))[..., 0] if alias else disk
    return _blur(x, disk)


def glass_blur(x, s, rng):
    """Blur, shuffle each pixel with a random neighbour (the frosted-glass texture), blur again."""
    sigma, delta, iterations = [(0.3, 1, 1), (0.4, 1, 2), (0.5, 2, 1), (0.6, 2, 2), (0.7, 3, 2)][s - 1]
    out = _blur(x, _gaussian_kernel(sigma))
    h, w = x.shape[:2]
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    for _ in range(iterations):
        dy, dx = rng.integers(-delta, delta + 1, size=(2, h, w))
        out = out[np.clip(yy + dy, 0, h - 1), np.clip(xx + dx, 0, w - 1)]
    return _blur(out, _gaussian_kernel(sigma))


def motion_blur(x, s, rng):
    radius, sigma = [(10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)][s - 1]
    length = max(2, int(round(radius * sigma / 4)))  # 32x32 images: a short streak
    angle = rng.uniform(-45, 45)
    k = np.zeros((2 * length + 1, 2 * length + 1))
    t = np.linspace(0, length, 4 * length + 1)
    g = np.exp(-(t ** 2) / (2 * (sigma * length / radius * 2) ** 2))
    cy = length - np.round(t * np.sin(np.deg2rad(angle))).astype(int)
    cx = length + np.round(t * np.cos(np.deg2rad(angle))).astype(int)
    np.add.at(k, (cy, cx), g)  # a one-sided streak, as ImageMagick's motion blur
    return _blur(x, k)


def zoom_blur(x, s, rng):
    zooms = np.arange(1, [1.06, 1.11, 1.16, 1.21, 1.26][s - 1], 0.01)
    h, w = x.shape[:2]
    img = Image.fromarray(np.uint8(np.clip(x, 0, 1) * 255))
    out = x.copy()
    for z in zooms[1:]:
        zh, zw = int(np.ceil(h * z)), int(np.ceil(w * z))
        big = np.asarray(img.resize((zw, zh), Image.BILINEAR), dtype=np.float64) / 255
        top, left = (zh - h) // 2, (zw - w) // 2
        out += big[top:top + h, left:left + w]
    return out / len(zooms)


def _plasma(size: int, wibble: float, rng) -> np.ndarray:
    """Diamond-square fractal noise in [0, 1] (the fog texture)."""
    n = 1 << int(np.ceil(np.log2(max(size, 2))))
    grid = np.zeros((n + 1, n + 1))
    step, scale = n, wibble
    while step > 1:
        half = step // 2
        corners = grid[0:n + 1:step, 0:n + 1:step]
        centre = (corners[:-1, :-1] + corners[1:, :-1] + corners[:-1, 1:] + corners[1:, 1:]) / 4
        grid[half:n:step, half:n:step] = centre + rng.uniform(-scale, scale, centre.shape)
        for (oy, ox) in ((0, half), (half, 0)):
            ys, xs = np.arange(oy, n + 1, step), np.arange(ox, n + 1, step)
            yy, xx = np.meshgrid(ys, xs, indexing="ij")
            acc = np.zeros(yy.shape)
            cnt = np.zeros(yy.shape)
            for dy, dx in ((-half, 0), (half, 0), (0, -half), (0, half)):
                ny, nx = yy + dy, xx + dx
                ok = (ny >= 0) & (ny <= n) & (nx >= 0) & (nx <= n)
                acc[ok] += grid[ny[ok], nx[ok]]
                cnt[ok] += 1
            grid[yy, xx] = acc / cnt + rng.uniform(-scale, scale, yy.shape)
        step, scale = half, scale / 2
    grid = grid[:size, :size]
    return (grid - grid.min()) / (np.ptp(grid) + 1e-12)


def fog(x, s, rng):
    strength, wibble = [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][s - 1]
    top = x.max()
    texture = _plasma(max(x.shape[:2]), wibble, rng)[: x.shape[0], : x.shape[1], None]
    out = x + strength * texture * 0.5
    return out * top / (top + strength * 0.5)


def frost(x, s, rng):
    """Ice crystals: sparse bright specks grown into short random streaks, blended over the image."""
    amount = [0.2, 0.3, 0.4, 0.45, 0.55][s - 1]
    h, w = x.shape[:2]
    crystals = (rng.random((h, w)) < 0.08).astype(np.float64)[..., None]
    streak = np.zeros((5, 5))
    np.fill_diagonal(streak, 1)
    texture = _blur(crystals, streak + np.fliplr(streak) + 0.2) * 3
    texture = np.clip(texture + 0.35 * _plasma(max(h, w), 1.5, rng)[:h, :w, None], 0, 1)
    ice = 0.55 + 0.45 * np.repeat(texture, 3, axis=2) * np.array([0.85, 0.92, 1.0])  # pale blue-white
    return (1 - amount) * x + amount * ice


def snow(x, s, rng):
    mean, std, zoom, threshold, length, sigma, blend = [
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)][s - 1]
    h, w = x.shape[:2]
    flakes = rng.normal(mean, std, size=(int(h / zoom) + 1, int(w / zoom) + 1))
    flakes = np.asarray(Image.fromarray(flakes.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))
    flakes = np.where(flakes < threshold, 0, flakes)[..., None]
    k = np.zeros((length // 2 * 2 + 1,) * 2)
    k[np.arange(k.shape[0]), np.arange(k.shape[0])[::-1]] = 1  # falling streaks
    flakes = np.clip(_blur(flakes, k) * (1 + sigma / 10), 0, 1)
    grey = x.mean(axis=2, keepdims=True) * 1.5 + 0.5
    base = blend * x + (1 - blend) * np.maximum(x, grey)
    return base + flakes + np.rot90(flakes, k=2)


def brightness(x, s, rng):
    c = [0.05, 0.1, 0.15, 0.2, 0.3][s - 1]
    hsv = np.asarray(Image.fromarray(np.uint8(np.clip(x, 0, 1) * 255)).convert("HSV"), dtype=np.float64) / 255
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return np.asarray(Image.fromarray(np.uint8(np.round(hsv * 255)), mode="HSV").convert("RGB"), dtype=np.float64) / 255


def contrast(x, s, rng):
    c = [0.75, 0.5, 0.4, 0.3, 0.15][s - 1]
    means = x.mean(axis=(0, 1), keepdims=True)
    return (x - means) * c + means


def elastic_transform(x, s, rng):
    h, w = x.shape[:2]
    alpha, sigma = [(0.0, 0.08), (0.05, 0.2), (0.08, 0.06), (0.1, 0.04), (0.1, 0.03)][s - 1]
    field_sigma = max(w * sigma, 0.8)
    dx = _blur(rng.uniform(-1, 1, (h, w, 1)), _gaussian_kernel(field_sigma))[..., 0]
    dy = _blur(rng.uniform(-1, 1, (h, w, 1)), _gaussian_kernel(field_sigma))[..., 0]
    scale = (alpha * w + 1.0) / max(np.abs(np.stack([dx, dy])).max(), 1e-6) * (0.6 + 0.1 * s)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    sy = np.clip(yy + dy * scale, 0, h - 1)
    sx = np.clip(xx + dx * scale, 0, w - 1)
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (sy - y0)[..., None], (sx - x0)[..., None]
    return ((1 - fy) * ((1 - fx) * x[y0, x0] + fx * x[y0, x1]) + fy * ((1 - fx) * x[y1, x0] + fx * x[y1, x1]))


def pixelate(x, s, rng):
    c = [0.95, 0.9, 0.85, 0.75, 0.65][s - 1]
    h, w = x.shape[:2]
    img = Image.fromarray(np.uint8(np.clip(x, 0, 1) * 255))
    small = img.resize((max(1, int(w * c)), max(1, int(h * c))), Image.BOX)
    return np.asarray(small.resize((w, h), Image.BOX), dtype=np.float64) / 255


def jpeg_compression(x, s, rng):
    quality = [80, 65, 58, 50, 40][s - 1]
    buf = BytesIO()
    Image.fromarray(np.uint8(np.clip(x, 0, 1) * 255)).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.float64) / 255


FUNCTIONS: dict[str, Corruption] = {name: globals()[name] for name in CORRUPTIONS}


def corrupt(image: np.ndarray, name: str, severity: int, seed: int | tuple[int, ...]) -> np.ndarray:
    """``uint8 [H, W, 3]`` in, the corrupted ``uint8 [H, W, 3]`` out; same inputs, same output.
    ``seed`` may be a tuple such as ``(suite seed, sample index)``."""
    if name not in FUNCTIONS:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError("severity must be 1..5")
    seeds = list(seed) if isinstance(seed, (tuple, list)) else [seed]
    rng = np.random.default_rng([*seeds, CORRUPTIONS.index(name), severity])
    x = image.astype(np.float64) / 255
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    out = FUNCTIONS[name](x, severity, rng)
    return np.uint8(np.clip(np.round(np.clip(out, 0, 1) * 255), 0, 255))
