import os
import sys
import tempfile

# Tiny models: OpenMP threads only contend (4x slower on a busy 2-core machine). Set before
# torch is imported; the tools the tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The dataset check cache (DefectDataset) of the tests' generated folders: not in ~/.cache.
os.environ.setdefault("MMSEG_UDA_CACHE_DIR", tempfile.mkdtemp(prefix="mmseg_uda_test_cache_"))

import pytest  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

from mmengine.registry import init_default_scope  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (compat fixes before any mmseg import in the tests)
from helpers import write_dataset  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _mmseg_scope():
    init_default_scope("mmseg")


@pytest.fixture
def crack_dataset(tmp_path):
    """A 9-image binary crack set (6 train / 3 test) of 64x64 PNGs."""
    return write_dataset(str(tmp_path / "cracks"), num=9, size=(64, 64))
