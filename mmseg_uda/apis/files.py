"""Image lists, image reading, output folders; they live in :mod:`mmseg_uda.deploy.files`
(torch-free, shared with the ONNX runner) and are re-exported here for the inference API."""

from ..deploy.files import (  # noqa: F401
    IMG_EXTENSIONS,
    ImageReadError,
    is_image_file,
    list_images,
    load_image,
    prepare_output_dir,
    unique_stems,
)
