"""Datasets and transforms registered into mmseg's registries."""

from . import transforms
from .defect_dataset import DEFAULT_CLASSES, IMG_EXTENSIONS, DatasetError, DefectDataset
from .uda_dataset import UDADataset
from .unlabeled_image_dataset import UnlabeledImageDataset

__all__ = ["transforms", "DEFAULT_CLASSES", "IMG_EXTENSIONS", "DatasetError", "DefectDataset",
           "UDADataset", "UnlabeledImageDataset"]
