"""Test-time augmentation: predict transformed copies of the input and merge the masks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["tta", "TestTimeAugmentation", "TRANSFORM_NAMES", "TRANSFORM_SETS", "MERGE_MODES"]

Transform = Callable[[torch.Tensor], torch.Tensor]


def _rot(k: int) -> Transform:
    return lambda x: torch.rot90(x, k, dims=(-2, -1))


# name -> (transform of the input, its inverse, applied to the mask); rotations counter-clockwise
_TRANSFORMS: dict[str, tuple[Transform, Transform]] = {
    "identity": (lambda x: x, lambda x: x),
    "hflip": (lambda x: x.flip(-1), lambda x: x.flip(-1)),
    "vflip": (lambda x: x.flip(-2), lambda x: x.flip(-2)),
    "rot90": (_rot(1), _rot(3)),
    "rot180": (_rot(2), _rot(2)),
    "rot270": (_rot(3), _rot(1)),
    "transpose": (lambda x: x.transpose(-2, -1), lambda x: x.transpose(-2, -1)),  # about the main diagonal
    "transverse": (lambda x: _rot(2)(x.transpose(-2, -1)), lambda x: _rot(2)(x.transpose(-2, -1))),  # the other one
}
TRANSFORM_NAMES = tuple(_TRANSFORMS)
TRANSFORM_SETS: dict[str, tuple[str, ...]] = {
    "flips": ("identity", "hflip", "vflip", "rot180"),  # the group the two flips generate
    "d4": ("identity", "rot90", "rot180", "rot270", "hflip", "vflip", "transpose", "transverse"),
}
MERGE_MODES = ("mean", "max", "gmean")


class TestTimeAugmentation(nn.Module):
    """Wraps ``model``: ``forward(x)`` runs it on every scale and transform of ``x``, maps each
    mask back (inverse transform, resize to ``x``'s size) and merges them. Make one with
    :func:`tta`."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, model: nn.Module, transforms: tuple[str, ...], scales: tuple[float, ...], merge: str) -> None:
        super().__init__()
        self.model = model
        self.transforms = transforms
        self.scales = scales
        self.merge = merge

    @property
    def input_divisor(self) -> int:
        """The wrapped model's (1 without one): scaled inputs are rounded to multiples of it."""
        return int(getattr(self.model, "input_divisor", 1) or 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        masks = _Merger(self.merge)
        labels = _Merger(self.merge)
        size = tuple(x.shape[-2:])
        for scale in self.scales:
            scaled = self._resize(x, self._scaled_size(size, scale))
            for name in self.transforms:
                forward, inverse = _TRANSFORMS[name]
                output = self.model(forward(scaled))
                mask, label = (output[0], output[1]) if isinstance(output, (tuple, list)) else (output, None)
                masks.add(self._resize(inverse(mask), size))
                if label is not None:  # image-level outputs do not move with the pixels
                    labels.add(label)
        mask = masks.result()
        return mask if labels.count == 0 else (mask, labels.result())

    def _scaled_size(self, size: tuple[int, ...], scale: float) -> tuple[int, int]:
        if scale == 1.0:
            return size[0], size[1]
        divisor = self.input_divisor
        # nearest multiple of the divisor, halves rounded up, at least one divisor
        return tuple(max(divisor, math.floor(s * scale / divisor + 0.5) * divisor) for s in size)  # type: ignore[return-value]

    @staticmethod
    def _resize(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    def extra_repr(self) -> str:
        return f"transforms={list(self.transforms)}, scales={list(self.scales)}, merge={self.merge!r}"


class _Merger:
    """Streams the merge: a running sum, maximum or sum of logarithms, so one extra output is held."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.count = 0
        self.total: torch.Tensor | None = None

    def add(self, value: torch.Tensor) -> None:
        if self.mode == "gmean":
            if bool((value < 0).any()):
                raise ValueError(
                    "merge='gmean' needs non-negative outputs (probabilities), but the model gave negative values; "
                    "give it a sigmoid or softmax activation, or use merge='mean'"
                )
            value = value.log()
        if self.total is None:
            self.total = value.clone()
        elif self.mode == "max":
            self.total = torch.maximum(self.total, value)  # out= would refuse autograd
        else:
            self.total.add_(value)
        self.count += 1

    def result(self) -> torch.Tensor:
        assert self.total is not None
        if self.mode == "max":
            return self.total
        mean = self.total.div_(self.count)
        return mean.exp_() if self.mode == "gmean" else mean


def tta(
    model: nn.Module,
    transforms: str | Sequence[str] = "flips",
    *,
    scales: Sequence[float] = (1.0,),
    merge: str = "mean",
) -> TestTimeAugmentation:
    """Test-time augmentation around ``model``, as a module.

    Args:
        model: maps ``(N, C, H, W)`` to a mask ``(N, K, H, W)``, or to ``(mask, label)``.
        transforms: ``"flips"`` (identity, hflip, vflip, rot180: 4 passes), ``"d4"`` (the 8
            symmetries of the square: identity, rot90, rot180, rot270, hflip, vflip, transpose,
            transverse), or a list of those names. Rotations are counter-clockwise, ``transpose``
            mirrors about the main diagonal and ``transverse`` about the other one. Each mask
            gets the inverse of its input's transform.
        scales: the input is resized (bilinear) by each factor, predicted, and the mask resized
            back; a model with ``input_divisor`` gets sizes rounded to the nearest multiple of it.
        merge: ``"mean"``, ``"max"``, or ``"gmean"`` (geometric mean, for non-negative outputs
            such as probabilities) of the ``len(scales) * len(transforms)`` masks; a label from
            ``(mask, label)`` is merged the same way.

    Returns:
        A :class:`TestTimeAugmentation` module holding ``model`` (so ``.eval()``, ``.to()``
        reach it). It composes with :func:`sliding_window`:
        ``sliding_window(tta(model, "d4"), image, window=512)``. Rotations and transposes swap
        height and width, so a model given a non-square input must take both orientations.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    names = _transform_names(transforms)
    scale_values = tuple(float(s) for s in scales) if isinstance(scales, Sequence) and not isinstance(scales, str) else ()
    if not scale_values or not all(math.isfinite(s) and s > 0 for s in scale_values):
        raise ValueError(f"scales must be a non-empty sequence of positive numbers, got {scales!r}")
    if merge not in MERGE_MODES:
        raise ValueError(f"merge must be one of {', '.join(map(repr, MERGE_MODES))}, got {merge!r}")
    return TestTimeAugmentation(model, names, scale_values, merge)


def _transform_names(transforms: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(transforms, str):
        if transforms in TRANSFORM_SETS:
            return TRANSFORM_SETS[transforms]
        if transforms in _TRANSFORMS:
            return (transforms,)
        names: tuple[str, ...] = (transforms,)
    else:
        names = tuple(transforms)
    unknown = [n for n in names if n not in _TRANSFORMS]
    if unknown or not names:
        raise ValueError(
            f"transforms must be {' or '.join(map(repr, TRANSFORM_SETS))} or a non-empty list of "
            f"{', '.join(map(repr, TRANSFORM_NAMES))}; got {transforms!r}"
        )
    return names
