"""Datasets and transforms registered into mmseg's registries."""

from . import transforms
from .defect_dataset import DEFAULT_CLASSES, IMG_EXTENSIONS, DatasetError, DefectDataset
from .uda_dataset import UDADataset

__all__ = ["transforms", "DEFAULT_CLASSES", "IMG_EXTENSIONS", "DatasetError", "DefectDataset",
           "UDADataset"]
