"""Image statistics that the generator can control, measured on unlabeled photos.

Each statistic is computed per image on its luminance (BT.601 weights on BGR) and is chosen so
that one generator setting moves it: brightness and contrast (``levels``), colour balance
(``levels``), illumination gradient (``illumination.gradient``), noise (``noise.sigma``),
sharpness (``blur.sigma``), texture scale (``zoom``) and roughness (``materials``), JPEG
quality (``jpeg.quality``, read from the file's own quantisation table). ``fit-style``
(:mod:`synthetic.fit`) turns their distribution over a folder of target photos into a style.

Plain numpy/OpenCV, no labels needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: BT.601 luminance weights in OpenCV's B, G, R channel order.
LUMA_BGR = (0.114, 0.587, 0.299)
#: Statistics of :func:`image_stats`, with what each one measures (the fit report prints these).
STATS: dict[str, str] = {
    "mean": "mean luminance (grey levels)",
    "std": "luminance standard deviation: global contrast (grey levels)",
    "gradient": "illumination gradient: relative brightness change across the image",
    "noise": "noise standard deviation, Immerkaer's estimator (grey levels)",
    "sharpness": "fine-detail share: std(I - G1*I) / std(I - G3*I) (lower = blurrier)",
    "texture_scale": "texture correlation length (px) of the band-passed surface",
    "roughness": "band-passed texture std relative to the mean luminance",
}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

# IJG (libjpeg) standard luminance quantisation table at quality 50, natural order.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)
# JPEG stores tables in zig-zag order: _ZIGZAG[k] is the natural index of the k-th entry.
_ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63])


def luminance(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) luminance of a uint8/float BGR (H, W, 3) or grey (H, W) image."""
    img = np.asarray(image)
    if img.ndim == 2:
        return img.astype(np.float32)
    b, g, r = (img[..., k].astype(np.float32) for k in range(3))
    return np.float32(LUMA_BGR[0]) * b + np.float32(LUMA_BGR[1]) * g + np.float32(LUMA_BGR[2]) * r


def illumination_gradient(lum: np.ndarray) -> float:
    """Relative illumination gradient ``g`` of an image.

    A plane ``a x + b y + c`` (x, y in [-0.5, 0.5]) is fitted to the 16x16 area-average of
    the luminance; the generator's illumination gain ``1 + 2 g (x cos t + y sin t)`` has the
    slope ``2 g c``, so ``g = hypot(a, b) / (2 c)``.
    """
    small = cv2.resize(lum, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float64)
    t = np.linspace(-0.5, 0.5, 16)
    xx, yy = np.meshgrid(t, t)
    design = np.stack([xx.ravel(), yy.ravel(), np.ones(256)], axis=1)
    (a, b, c), *_ = np.linalg.lstsq(design, small.ravel(), rcond=None)
    return float(math.hypot(a, b) / (2.0 * max(c, 1e-6)))


def noise_sigma(lum: np.ndarray) -> float:
    """Noise standard deviation by Immerkaer's fast estimator (1996).

    The 3x3 kernel (difference of two Laplacians) cancels smooth structure; the mean absolute
    response times ``sqrt(pi / 2) / 6`` estimates sigma of additive white noise. Fine texture
    counts as noise too: the fit matches this statistic, not a physical sensor noise.
    """
    h, w = lum.shape
    if h < 3 or w < 3:
        return 0.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    resp = cv2.filter2D(lum, cv2.CV_32F, kernel)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2.0) * np.abs(resp).mean() / 6.0)


def sharpness(lum: np.ndarray) -> float:
    """Share of fine detail: ``std(I - G_1 * I) / std(I - G_3 * I)`` (Gaussian blurs)."""
    fine = lum - cv2.GaussianBlur(lum, (0, 0), 1.0)
    coarse = lum - cv2.GaussianBlur(lum, (0, 0), 3.0)
    return float(fine.std() / max(float(coarse.std()), 1e-6))


def texture(lum: np.ndarray, max_lag: int = 32) -> tuple[float, float]:
    """``(texture_scale, roughness)`` of the band-passed luminance.

    The band (Gaussian blurs of sigma 1 and 8: noise and illumination removed) is correlated
    with itself through the FFT; ``texture_scale`` is the radius (px, interpolated) at which the
    radially averaged autocorrelation falls to 0.5; ``roughness`` is the band's std divided by
    the mean luminance.
    """
    band = cv2.GaussianBlur(lum, (0, 0), 1.0) - cv2.GaussianBlur(lum, (0, 0), 8.0)
    roughness = float(band.std() / max(float(lum.mean()), 1e-6))
    side = min(256, *band.shape)
    y0, x0 = (band.shape[0] - side) // 2, (band.shape[1] - side) // 2
    crop = band[y0:y0 + side, x0:x0 + side].astype(np.float64)
    crop -= crop.mean()
    spec = np.fft.rfft2(crop, s=(2 * side, 2 * side))
    acf = np.fft.irfft2(spec * np.conj(spec), s=(2 * side, 2 * side))
    acf = np.fft.fftshift(acf)
    centre = side
    if acf[centre, centre] <= 0:
        return 0.0, roughness
    acf /= acf[centre, centre]
    lags = min(max_lag, side - 1)
    yy, xx = np.mgrid[-lags:lags + 1, -lags:lags + 1]
    rr = np.rint(np.hypot(yy, xx)).astype(int)
    win = acf[centre - lags:centre + lags + 1, centre - lags:centre + lags + 1]
    radial = np.bincount(rr.ravel(), win.ravel()) / np.maximum(np.bincount(rr.ravel()), 1)
    for r in range(1, min(lags, radial.size - 1) + 1):
        if radial[r] < 0.5:
            prev = radial[r - 1]
            return float(r - 1 + (prev - 0.5) / max(prev - radial[r], 1e-9)), roughness
    return float(lags), roughness


def is_grey(image: np.ndarray, tolerance: float = 2.0) -> bool:
    """True if the three channels differ by at most ``tolerance`` grey levels on average."""
    img = np.asarray(image)
    if img.ndim == 2 or img.shape[2] == 1:
        return True
    f = img.astype(np.float32)
    return bool(max(np.abs(f[..., 0] - f[..., 1]).mean(),
                    np.abs(f[..., 1] - f[..., 2]).mean()) <= tolerance)


def image_stats(image: np.ndarray) -> dict[str, Any]:
    """Every statistic of :data:`STATS` of one BGR uint8 image, plus its colour balance.

    Returns:
        dict with the :data:`STATS` keys (floats), ``balance`` (the B, G, R channel means
        divided by the mean luminance: (1, 1, 1) for a neutral grey image), ``grey`` (bool)
        and ``size`` ([width, height]).
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = cv2.merge([img, img, img])
    lum = luminance(img)
    mean = float(lum.mean())
    scale, rough = texture(lum)
    ch = [float(img[..., k].mean()) for k in range(3)]
    return {
        "mean": mean,
        "std": float(lum.std()),
        "gradient": illumination_gradient(lum),
        "noise": noise_sigma(lum),
        "sharpness": sharpness(lum),
        "texture_scale": scale,
        "roughness": rough,
        "balance": [c / max(mean, 1e-6) for c in ch],
        "grey": is_grey(img),
        "size": [int(img.shape[1]), int(img.shape[0])],
    }


def jpeg_quality(data: bytes) -> int | None:
    """IJG-equivalent quality of a JPEG file from its luminance quantisation table.

    Args:
        data: The file's bytes.

    Returns:
        Quality in [1, 100], or None if the bytes are not a JPEG or hold no table 0.
    """
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDB:  # DQT: one or more tables
            j, end = i + 4, i + 2 + length
            while j < end:
                pq, tq = data[j] >> 4, data[j] & 0x0F
                n = 128 if pq else 64
                if j + 1 + n > len(data):
                    return None
                if pq:
                    vals = np.frombuffer(data[j + 1:j + 1 + n], ">u2").astype(np.float64)
                else:
                    vals = np.frombuffer(data[j + 1:j + 1 + n], np.uint8).astype(np.float64)
                if tq == 0:
                    table = np.empty(64)
                    table[_ZIGZAG] = vals
                    return _quality_from_table(table)
                j += 1 + n
        if marker == 0xDA:  # start of scan: no table 0 before the image data
            return None
        i += 2 + length
    return None


def _quality_from_table(table: np.ndarray) -> int:
    # libjpeg: table = clip(floor((base * S + 50) / 100), 1, 255) with S = 5000/q (q < 50)
    # or 200 - 2q; invert S by least squares over the entries that are not clipped.
    ok = (table > 1) & (table < 255)
    if not ok.any():
        return 100 if table.max() <= 1 else 1
    s = float(np.median(table[ok] * 100.0 / _IJG_LUMA[ok]))
    q = 5000.0 / s if s > 100 else (200.0 - s) / 2.0
    return int(min(100, max(1, round(q))))


def list_images(root: str | Path, split: str | None = None) -> list[Path]:
    """Image files of ``root`` (``root/images`` if present), or those named in a split file.

    Args:
        root: A dataset root (with ``images/``) or a plain folder of images.
        split: A split file (``train.txt``; relative to ``root`` or a path) with one image
            name (stem) per line. Default: every image.

    Raises:
        FileNotFoundError: Missing folder or split file, or a name of the split without an
            image (the message names it).
        ValueError: No image in the folder / split.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {str(root)!r}")
    folder = root / "images" if (root / "images").is_dir() else root
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                   and not p.name.startswith("."))
    if split:
        split_path = Path(split) if Path(split).is_file() else root / split
        if not split_path.is_file():
            raise FileNotFoundError(f"split file not found: {str(split_path)!r}")
        by_stem = {p.stem: p for p in files}
        names = [ln.strip() for ln in split_path.read_text().splitlines() if ln.strip()]
        missing = [n for n in names if n not in by_stem]
        if missing:
            raise FileNotFoundError(f"{split_path}: {len(missing)} name(s) without an image in "
                                    f"{folder}, first {missing[0]!r}")
        files = [by_stem[n] for n in names]
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {str(folder)!r}"
                         + (f" for split {split!r}" if split else ""))
    return files


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to BGR uint8 (H, W, 3); 16-bit images are scaled to 8 bits.

    Raises:
        ValueError: If the file cannot be decoded (the message names it).
    """
    data = np.fromfile(str(path), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ValueError(f"cannot decode image {str(path)!r} (corrupt or not an image)")
    if img.dtype == np.uint16:
        top = int(img.max())
        bits = max(8, top.bit_length())
        img = (img.astype(np.float32) * (255.0 / ((1 << bits) - 1)) + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f"image {str(path)!r}: unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = cv2.merge([img, img, img])
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def summarize(values: Sequence[float]) -> dict[str, float]:
    """``median``, ``p10`` and ``p90`` of a list of numbers."""
    a = np.asarray(values, np.float64)
    return {"median": float(np.median(a)), "p10": float(np.percentile(a, 10)),
            "p90": float(np.percentile(a, 90))}


def folder_stats(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Per-image statistics of image files and their summaries.

    Returns:
        ``{"per_image": [...], "summary": {stat: {median, p10, p90}}, "jpeg_quality": [...],
        "grey": bool, "sizes": [[w, h], ...]}``.
    """
    per_image, qualities = [], []
    for p in paths:
        data = Path(p).read_bytes()
        img = read_image(p)
        s = image_stats(img)
        s["name"] = Path(p).stem
        per_image.append(s)
        q = jpeg_quality(data)
        if q is not None:
            qualities.append(q)
    return summarize_stats(per_image, qualities)


def summarize_stats(per_image: Sequence[Mapping[str, Any]],
                    qualities: Sequence[int] = ()) -> dict[str, Any]:
    """Summaries of :func:`image_stats` dictionaries (see :func:`folder_stats`)."""
    summary = {k: summarize([s[k] for s in per_image]) for k in STATS}
    return {"per_image": list(per_image), "summary": summary, "jpeg_quality": list(qualities),
            "grey": all(s["grey"] for s in per_image),
            "sizes": [list(s["size"]) for s in per_image]}
