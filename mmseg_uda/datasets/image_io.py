"""Decoding image files the one way the training pipeline and the dataset checks share.

``decode_image`` is what :class:`~mmseg_uda.datasets.transforms.LoadImageFromFile` (every
config's image loader) calls, and what :class:`~mmseg_uda.datasets.DefectDataset` calls when
it checks its files — so an image that passes the check loads in training. It differs from
``mmcv.imfrombytes`` in two ways:

* an image that cannot be decoded (a truncated JPEG, which ``cv2.imread`` half-decodes with a
  warning but ``cv2.imdecode`` refuses) raises :class:`ImageDecodeError` naming the file,
  instead of returning None;
* an image with more than 8 bits per sample (16-bit PNG / TIFF) is scaled to 8 bits by its
  *actual* bit depth — the PNG ``sBIT`` chunk when present, else the bits its largest value
  needs, or ``bit_depth`` when given — instead of OpenCV's fixed ``>> 8``, which turns 12-bit
  data into a near-black image. Floating-point images are refused with a clear error.
"""

from __future__ import annotations

import struct
from typing import Optional, Union

import cv2
import mmcv
import numpy as np

from .defect_dataset import DatasetError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CV2_FLAGS = {"color": cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH,
              "grayscale": cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH}


class ImageDecodeError(DatasetError):
    """An image file that cannot be decoded, or holds samples that cannot be scaled to 8 bits."""


def png_significant_bits(data: bytes) -> Optional[int]:
    """The largest significant-bit count of a PNG's ``sBIT`` chunk, or None without one."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"sBIT":
            values = data[pos + 8:pos + 8 + length]
            return max(values) if values else None
        if kind in (b"IDAT", b"IEND"):  # sBIT must come before the image data
            return None
        pos += 12 + length
    return None


def to_uint8(img: np.ndarray, bits: int, name: str = "image") -> np.ndarray:
    """Scale an integer image holding ``bits``-bit samples to uint8 (``max -> 255``).

    Raises:
        ImageDecodeError: if a sample exceeds ``2**bits - 1``.
    """
    top = (1 << bits) - 1
    peak = int(img.max()) if img.size else 0
    if peak > top:
        raise ImageDecodeError(f"image {name!r} has sample value {peak} above {top}, the "
                               f"largest {bits}-bit value (bit_depth={bits})")
    return np.rint(img.astype(np.float32) * (255.0 / top)).astype(np.uint8)


def decode_image(data: bytes, flag: str = "color", backend: str = "cv2",
                 bit_depth: Union[str, int] = "auto", channel_order: str = "bgr",
                 name: str = "image") -> np.ndarray:
    """Decode image bytes like ``mmcv.imfrombytes``, but refuse broken files and scale >8 bits.

    Args:
        data (bytes): the file's contents.
        flag (str): ``'color'`` (3 channels), ``'grayscale'`` or ``'unchanged'`` (as stored:
            no bit-depth scaling). Default: ``'color'``.
        backend (str): ``'cv2'``; another mmcv backend (``'pillow'``, ``'turbojpeg'``...)
            goes through ``mmcv.imfrombytes``. Default: ``'cv2'``.
        bit_depth (str | int): bits per sample of >8-bit images: ``'auto'`` (the PNG
            ``sBIT`` chunk, else the bits the largest value needs, at least 8) or a number
            such as 12. Default: ``'auto'``.
        channel_order (str): ``'bgr'`` or ``'rgb'``. Default: ``'bgr'``.
        name (str): the file's name for error messages.

    Returns:
        np.ndarray: uint8 (H, W, 3) for ``'color'``, (H, W) for ``'grayscale'``.

    Raises:
        ImageDecodeError: empty, truncated or undecodable data; float samples; samples above
            ``bit_depth``.
    """
    if not data:
        raise ImageDecodeError(f"unreadable image file {name!r}: it is empty (0 bytes)")
    if backend != "cv2" or flag not in _CV2_FLAGS:
        try:
            img = mmcv.imfrombytes(data, flag=flag, channel_order=channel_order,
                                   backend=backend)
        except Exception as exc:  # each backend has its own exception types
            raise ImageDecodeError(f"unreadable image file {name!r}: cannot decode it "
                                   f"({backend}: {' '.join(str(exc).split())})") from exc
        if img is None:
            raise ImageDecodeError(f"unreadable image file {name!r}: cannot decode it "
                                   "(truncated, not an image or an unsupported format)")
        return img
    img = cv2.imdecode(np.frombuffer(data, np.uint8), _CV2_FLAGS[flag])
    if img is None:
        raise ImageDecodeError(f"unreadable image file {name!r}: cannot decode it (truncated, "
                               "not an image or an unsupported format)")
    if img.dtype.kind == "f":
        raise ImageDecodeError(f"image {name!r} has floating-point samples ({img.dtype}); "
                               "convert it to 8- or 16-bit integers")
    if img.dtype != np.uint8:
        if bit_depth == "auto":
            bits = png_significant_bits(data) or max(8, int(img.max()).bit_length())
        else:
            bits = int(bit_depth)
        img = to_uint8(img, bits, name)
    if flag == "color" and channel_order == "rgb":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img
