"""Small helpers for drawing parameters from option ranges.

Options in styles and defect types are either a scalar (used as is) or a ``(low,
high)`` pair (sampled uniformly). Sampled values are rounded so that the parameters
recorded in ``meta.json`` stay short and JSON-serialisable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    Range = float | int | tuple[float, float] | Sequence[float]


def uniform(rng: np.random.Generator, value: Range) -> float:
    """Scalar ``value`` as is, or a uniform sample from a ``(low, high)`` pair."""
    if isinstance(value, (int, float)):
        return float(value)
    lo, hi = value
    if hi <= lo:
        return float(lo)
    return float(rng.uniform(lo, hi))


def log_uniform(rng: np.random.Generator, value: Range) -> float:
    """Like :func:`uniform` but log-uniform (for scale-like quantities > 0)."""
    if isinstance(value, (int, float)):
        return float(value)
    lo, hi = value
    if hi <= lo:
        return float(lo)
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def integer(rng: np.random.Generator, value: Range) -> int:
    """Scalar ``value`` as int, or a uniform integer from an inclusive ``(low, high)``."""
    if isinstance(value, (int, float)):
        return int(value)
    lo, hi = int(value[0]), int(value[1])
    if hi <= lo:
        return lo
    return int(rng.integers(lo, hi + 1))


def chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p`` (always draws one number, so streams stay aligned)."""
    return bool(rng.random() < p)


def weighted_choice(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    """Key of ``weights`` drawn with probability proportional to its value."""
    keys = [k for k, v in weights.items() if v > 0]
    if not keys:
        raise ValueError(f"no positive weight in {dict(weights)!r}")
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def sub_seed(rng: np.random.Generator) -> int:
    """A fresh 31-bit seed for a detail generator (stored in the parameters)."""
    return int(rng.integers(0, 2**31 - 1))


def rounded(value: Any, digits: int = 4) -> Any:
    """Recursively round floats (and numpy scalars/arrays) for compact JSON."""
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.ndarray):
        return rounded(value.tolist(), digits)
    if isinstance(value, Mapping):
        return {str(k): rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value
