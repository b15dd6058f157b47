"""The torch-free copies of two constants agree with the training side's."""

from mmseg_uda.datasets.defect_dataset import IMG_EXTENSIONS
from mmseg_uda.deploy.files import IMG_EXTENSIONS as DEPLOY_IMG_EXTENSIONS
from mmseg_uda.deploy.thresholds import DEFAULT_MIN_AREA as DEPLOY_MIN_AREA
from mmseg_uda.evaluation import DEFAULT_MIN_AREA


def test_constants_agree():
    assert DEPLOY_IMG_EXTENSIONS == IMG_EXTENSIONS
    assert DEPLOY_MIN_AREA == DEFAULT_MIN_AREA
