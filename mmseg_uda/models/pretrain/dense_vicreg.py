"""Dense VICReg: a joint-embedding (non-contrastive) objective on matched feature cells.

The alternative to masked image modelling (``SimMIM``) that ``tools/pretrain.py`` offers. Two
views of a photo (``TwoViewCrops``: different boxes, scales, flips and lighting) go through the
MiT encoder; its four stage maps are fused on one grid (stride 8) and a small expander
(1x1 convolutions) maps every cell to an embedding. The cells of view 1 are matched with the
points of view 2 that show the same place of the photo (from the recorded boxes), and the loss
is VICReg's, per cell (as VICRegL's local term, with matching by location):

- *invariance*: mean squared distance between the embeddings of matched cells;
- *variance*: a hinge keeping every embedding dimension's standard deviation over all cells
  of the batch at 1 or more (no collapse to a constant);
- *covariance*: the squared off-diagonal covariances of the dimensions (no redundant ones).

Why this is the objective to compare with SimMIM: it needs no negatives and no large batch
(the variance / covariance statistics are taken over every cell of the batch, thousands with a
batch of 8), no momentum teacher (collapse is prevented by the variance term), and it learns
what segmentation reads: per-location features that stay the same under scale, flip and
lighting changes — the changes between a generated and a real photo of a surface.
docs/pretrain.md has the measurement against SimMIM.

With ``mim_weight > 0`` the same forward pass also does SimMIM's masked image modelling on the
first view of each pair (``configs/pretrain/vicreg_mim_mit-b0_cpu.py``): the two objectives
keep different things (VICReg: line-like structure that survives view changes; SimMIM: local
brightness and texture), and one pretraining with both avoids choosing per defect type.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS
from torch import Tensor

from .masking import encode_masked, masked_l1, patch_normalize, random_patch_mask, upsample_mask
from .simmim import simmim_parts


def view_grid(src: Tensor, dst: Tensor, grid: Tuple[int, int],
              crop: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """Where the cells of one view lie in another view of the same image.

    Args:
        src (Tensor): (B, 6) boxes of the source views (``TwoViewCrops.VIEW_COLUMNS``: x0, y0,
            width, height in original pixels, flip_h, flip_v).
        dst (Tensor): (B, 6) boxes of the destination views.
        grid (tuple[int, int]): (h, w) of the source feature grid (its cells' centres are
            mapped).
        crop (tuple[int, int]): (H, W) pixels of every view.

    Returns:
        tuple[Tensor, Tensor]: (B, h, w, 2) coordinates (x, y) of the source cells in the
        destination view, normalised for ``F.grid_sample(align_corners=False)``, and a
        (B, h, w) bool mask of the cells that lie inside the destination view.
    """
    (gh, gw), (ch, cw) = grid, crop
    src, dst = src.float(), dst.float()
    ys = (torch.arange(gh, dtype=torch.float32, device=src.device) + 0.5) * (ch / gh)
    xs = (torch.arange(gw, dtype=torch.float32, device=src.device) + 0.5) * (cw / gw)
    vy, vx = torch.meshgrid(ys, xs, indexing="ij")  # pixel centres in the source view
    vx, vy = vx.unsqueeze(0), vy.unsqueeze(0)

    def col(box, k):
        return box[:, k].view(-1, 1, 1)

    vx = torch.where(col(src, 4) > 0, cw - vx, vx)
    vy = torch.where(col(src, 5) > 0, ch - vy, vy)
    ox = col(src, 0) + vx * col(src, 2) / cw  # original image pixels
    oy = col(src, 1) + vy * col(src, 3) / ch
    dx = (ox - col(dst, 0)) * cw / col(dst, 2)  # destination view pixels
    dy = (oy - col(dst, 1)) * ch / col(dst, 3)
    dx = torch.where(col(dst, 4) > 0, cw - dx, dx)
    dy = torch.where(col(dst, 5) > 0, ch - dy, dy)
    coords = torch.stack([2.0 * dx / cw - 1.0, 2.0 * dy / ch - 1.0], dim=-1)
    inside = (coords.abs() < 1.0).all(dim=-1)
    return coords, inside


def variance_term(z: Tensor, eps: float = 1e-4) -> Tensor:
    """VICReg's variance hinge for (N, D) embeddings: mean over dimensions of
    ``relu(1 - std)``, the standard deviation taken over the N rows."""
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f"variance_term needs an (N >= 2, D) tensor, got {tuple(z.shape)}")
    return F.relu(1.0 - torch.sqrt(z.var(dim=0) + eps)).mean()


def covariance_term(z: Tensor) -> Tensor:
    """VICReg's covariance penalty for (N, D) embeddings: the squared off-diagonal entries of
    their covariance matrix, summed and divided by D."""
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f"covariance_term needs an (N >= 2, D) tensor, got {tuple(z.shape)}")
    z = z - z.mean(dim=0)
    cov = (z.T @ z) / (z.shape[0] - 1)
    return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / z.shape[1]


@MODELS.register_module()
class DenseVICReg(BaseModel):
    """Dense VICReg around a MiT encoder (see the module docstring).

    Inputs are the side-by-side view pairs of ``TwoViewCrops`` (B, 3, H, 2W) with each data
    sample's ``views`` metainfo.

    Args:
        backbone (dict): a ``MixVisionTransformer`` config (the segmentors' backbone).
        data_preprocessor (dict, optional): the segmentors' ``SegDataPreProcessor``.
        feature_stride (int): the grid the four stage maps are fused on (resampled to it and
            concatenated). Default: 8.
        expander_channels (int): width of the expander's layers and of the embedding.
            Default: 512.
        invariance_weight, variance_weight, covariance_weight (float): VICReg's weights.
            Default: 25, 25, 1 (VICReg's).
        max_cells (int): cells per view set used for the variance / covariance statistics
            (a random subset when there are more; all matched cells count for invariance).
            Default: 4096.
        mim_weight (float): > 0 adds masked image modelling (SimMIM's, on the same forward
            pass): the first view of each pair is masked (``mask_ratio`` of its
            ``mask_patch_size`` squares, their stage-1 tokens replaced by a learned token), a
            light decoder reconstructs its masked squares, standardised per square
            (``SimMIM(norm_target=True)``), and the L1 is added with this weight; the
            invariance term then also asks the masked cells of view 1 to match view 2's
            unmasked ones. 0: dense VICReg alone. Default: 0.
        mask_patch_size (int): see ``SimMIM``. Default: 32.
        mask_ratio (float): see ``SimMIM``. Default: 0.6.
        init_cfg (dict, optional): MMEngine init config. Default: None.
    """

    def __init__(self, backbone: dict, data_preprocessor: Optional[dict] = None,
                 feature_stride: int = 8, expander_channels: int = 512,
                 invariance_weight: float = 25.0, variance_weight: float = 25.0,
                 covariance_weight: float = 1.0, max_cells: int = 4096,
                 mim_weight: float = 0.0, mask_patch_size: int = 32, mask_ratio: float = 0.6,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if not hasattr(self.backbone, "layers") or not hasattr(self.backbone, "num_heads"):
            raise TypeError(f"DenseVICReg needs a MixVisionTransformer backbone, got "
                            f"{type(self.backbone).__name__}")
        if feature_stride < 1:
            raise ValueError(f"feature_stride must be >= 1, got {feature_stride}")
        if max_cells < 2:
            raise ValueError(f"max_cells must be >= 2, got {max_cells}")
        self.feature_stride = int(feature_stride)
        self.weights = dict(invariance=float(invariance_weight),
                            variance=float(variance_weight),
                            covariance=float(covariance_weight))
        self.max_cells = int(max_cells)
        channels = sum(self.backbone.embed_dims * h for h in self.backbone.num_heads)
        width = int(expander_channels)
        self.expander = nn.Sequential(
            nn.Conv2d(channels, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 1))
        if mim_weight < 0:
            raise ValueError(f"mim_weight must be >= 0, got {mim_weight}")
        self.mim_weight = float(mim_weight)
        if self.mim_weight > 0:
            _, self.mask_token, self.decoder = simmim_parts(self.backbone, mask_patch_size,
                                                            mask_ratio)
            self.mask_patch_size, self.mask_ratio = int(mask_patch_size), float(mask_ratio)

    # ------------------------------------------------------------------ parts
    def fuse(self, stage_maps: List[Tensor], size: Tuple[int, int]) -> Tensor:
        """The stage maps resampled to the (h, w) grid ``size`` and concatenated."""
        maps = []
        for x in stage_maps:
            if x.shape[-2:] == size:
                maps.append(x)
            elif x.shape[-2] > size[0]:
                maps.append(F.adaptive_avg_pool2d(x, size))
            else:
                maps.append(F.interpolate(x, size=size, mode="bilinear", align_corners=False))
        return torch.cat(maps, dim=1)

    def _grid(self, inputs: Tensor) -> Tuple[int, int]:
        return (max(1, inputs.shape[-2] // self.feature_stride),
                max(1, inputs.shape[-1] // self.feature_stride))

    def dense_features(self, inputs: Tensor) -> Tensor:
        """(B, C, H/s, W/s): the four stage maps resampled to ``feature_stride`` s and
        concatenated (C = 512 for MiT-b0)."""
        return self.fuse(self.backbone(inputs), self._grid(inputs))

    def embed(self, inputs: Tensor) -> Tensor:
        """(B, D, H/s, W/s) embeddings of every cell."""
        return self.expander(self.dense_features(inputs))

    @staticmethod
    def split_views(inputs: Tensor) -> Tuple[Tensor, Tensor]:
        if inputs.shape[-1] % 2:
            raise ValueError(f"DenseVICReg expects two views side by side (TwoViewCrops), "
                             f"got an odd width {inputs.shape[-1]}")
        width = inputs.shape[-1] // 2
        return inputs[..., :width], inputs[..., width:]

    @staticmethod
    def _views(data_samples, device) -> Tensor:
        try:
            views = [torch.as_tensor(s.metainfo["views"], dtype=torch.float32)
                     for s in data_samples]
        except (KeyError, TypeError) as err:
            raise ValueError("DenseVICReg needs each sample's 'views' (the pipeline must use "
                             "TwoViewCrops, and PackSegInputs must keep 'views' in its "
                             "meta_keys)") from err
        return torch.stack(views).to(device)

    def _sample(self, z: Tensor) -> Tensor:
        if z.shape[0] <= self.max_cells:
            return z
        return z[torch.randperm(z.shape[0], device=z.device)[:self.max_cells]]

    # ------------------------------------------------------------------ BaseModel
    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = "tensor") -> Union[Dict[str, Tensor], list, Tensor]:
        """``'loss'``: the weighted VICReg terms; ``'tensor'``: the (B, D, h, w) cell
        embeddings of the inputs (any images, e.g. one view); ``'predict'``: the same, a
        list per image."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "tensor":
            return self.embed(inputs)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        raise ValueError(f"DenseVICReg.forward: unknown mode {mode!r} (loss, predict, tensor)")

    def loss(self, inputs: Tensor, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        first, second = self.split_views(inputs)
        views = self._views(data_samples, inputs.device)
        batch, crop = inputs.shape[0], tuple(first.shape[-2:])
        pairs = torch.cat([first, second])
        mask = None
        if self.mim_weight > 0:  # the first views masked, the second ones seen whole
            mask = random_patch_mask(batch, crop, self.mask_patch_size, self.mask_ratio,
                                     device=inputs.device)
            mask = torch.cat([mask, torch.zeros_like(mask)])
        stage_maps = encode_masked(self.backbone, pairs, mask,
                                   getattr(self, "mask_token", None))
        z = self.expander(self.fuse(stage_maps, self._grid(first)))
        per_view = (z[:batch], z[batch:])
        grid = tuple(z.shape[-2:])

        def rows(t: Tensor) -> Tensor:  # (B, D, h, w) -> (B*h*w, D)
            return t.permute(0, 2, 3, 1).reshape(-1, z.shape[1])

        cells = [rows(t) for t in per_view]
        pairs_a, pairs_b = [], []
        for src, dst in ((0, 1), (1, 0)):
            coords, inside = view_grid(views[:, src], views[:, dst], grid, crop)
            matched = F.grid_sample(per_view[dst], coords.to(z.dtype), mode="bilinear",
                                    padding_mode="border", align_corners=False)
            keep = inside.flatten()
            pairs_a.append(cells[src][keep])
            pairs_b.append(rows(matched)[keep])
        pa, pb = torch.cat(pairs_a), torch.cat(pairs_b)
        if pa.shape[0] < 2:  # views that share no cell (tiny crops): no invariance pairs
            pa, pb = cells[0][:2] * 0, cells[0][:2] * 0
        sets = [self._sample(c) for c in cells]
        variance = sum(variance_term(c) for c in sets) / 2
        covariance = sum(covariance_term(c) for c in sets) / 2
        losses = dict(loss_invariance=self.weights["invariance"] * F.mse_loss(pa, pb),
                      loss_variance=self.weights["variance"] * variance,
                      loss_covariance=self.weights["covariance"] * covariance)
        if self.mim_weight > 0:
            pred = self.decoder(stage_maps[-1][:batch])[..., :crop[0], :crop[1]]
            target = patch_normalize(first, self.mask_patch_size)
            weight = upsample_mask(mask[:batch], crop, self.mask_patch_size)
            losses["loss_mim"] = self.mim_weight * masked_l1(pred, target, weight)
        return losses

    def predict(self, inputs: Tensor, data_samples: Optional[list] = None) -> List[Tensor]:
        return list(self.embed(inputs))
