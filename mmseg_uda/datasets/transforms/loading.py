"""The image loader of every config: MMCV's ``LoadImageFromFile`` on :func:`decode_image`."""

from __future__ import annotations

from typing import Optional, Union

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmseg.registry import TRANSFORMS

from ..image_io import decode_image


# Registered under MMCV's name in mmseg's registry, so that the configs' unchanged
# ``dict(type='LoadImageFromFile')`` (default scope 'mmseg') resolves to this class; MMCV's
# registry, and configs that ask for ``'mmcv.LoadImageFromFile'``, keep the original.
@TRANSFORMS.register_module(name="LoadImageFromFile")
class LoadImageFromFile(MMCVLoadImageFromFile):
    """MMCV's ``LoadImageFromFile`` that names undecodable files and scales >8-bit images.

    Same arguments and outputs as :class:`mmcv.transforms.LoadImageFromFile`, plus:

    Args:
        bit_depth (str | int): bits per sample of 16-bit images, e.g. 12; ``'auto'`` reads
            the PNG ``sBIT`` chunk, else the bits the largest value needs (see
            :func:`~mmseg_uda.datasets.image_io.decode_image`). Default: ``'auto'``.
    """

    def __init__(self, *args, bit_depth: Union[str, int] = "auto", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if bit_depth != "auto" and not (isinstance(bit_depth, int) and 8 <= bit_depth <= 16):
            raise ValueError(f"LoadImageFromFile: bit_depth must be 'auto' or an int in "
                             f"8..16, got {bit_depth!r}")
        self.bit_depth = bit_depth

    def read(self, filename: str) -> np.ndarray:
        """Read and decode one image file (what the dataset check calls, too)."""
        if self.file_client_args is not None:
            client = fileio.FileClient.infer_client(self.file_client_args, filename)
            data = client.get(filename)
        else:
            data = fileio.get(filename, backend_args=self.backend_args)
        return decode_image(data, flag=self.color_type, backend=self.imdecode_backend,
                            bit_depth=self.bit_depth, name=filename)

    def transform(self, results: dict) -> Optional[dict]:
        filename = results["img_path"]
        try:
            img = self.read(filename)
        except Exception:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", bit_depth={self.bit_depth!r})"
