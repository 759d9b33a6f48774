"""Sliding-window inference: predict an image of any size window by window and blend the windows."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ._windows import BLEND_MODES, AxisPlan, importance_map, plan_axis

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["sliding_window", "PAD_MODES"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")


@torch.no_grad()
def sliding_window(
    model: nn.Module,
    image: torch.Tensor,
    *,
    window: int | tuple[int, int],
    overlap: float | tuple[float, float] = 0.25,
    blend: str = "constant",
    sigma_scale: float | tuple[float, float] = 0.125,
    batch_size: int = 4,
    pad_mode: str = "constant",
    pad_value: float = 0.0,
    device: torch.device | str | None = None,
    progress: bool | str = False,
) -> torch.Tensor:
    """Predict ``image`` window by window with ``model`` and blend the windows into one mask.

    Args:
        model: maps ``(B, C, h, w)`` to ``(B, K, h, w)``, or to a tuple whose first item is that
            mask (a model with a classification head gives ``(mask, label)``). A model with an
            ``input_divisor`` attribute (every :class:`seghub.SegmentationModel`) gets each window
            padded to multiples of it, and its output cropped back, so any window size works.
            It runs without autograd in the mode it is in: call ``model.eval()`` first.
        image: ``(N, C, H, W)`` or ``(C, H, W)``, floating point, of any height and width.
        window: window height and width (one int for a square window).
        overlap: fraction of a window shared with the next one along each axis, in ``[0, 1)``.
        blend: ``"constant"`` averages overlapping windows; ``"gaussian"`` weights each window's
            pixels by a gaussian centred on it, so window borders count less.
        sigma_scale: the gaussian's standard deviation as a fraction of the window size.
        batch_size: windows per model call.
        pad_mode: how to pad an image smaller than the window, and a window to the model's
            ``input_divisor``: ``"constant"`` (with ``pad_value``), ``"reflect"``,
            ``"replicate"`` or ``"circular"`` (as :func:`torch.nn.functional.pad`).
        pad_value: the value of ``"constant"`` padding.
        device: where the blended output is accumulated and returned; default the image's
            device. Windows are moved to the model's device (that of its first parameter or
            buffer, else the image's) one batch at a time, so a large image on the CPU can be
            predicted by a model on a GPU.
        progress: show a tqdm progress bar over the windows (on stderr); a string is the bar's
            label (default ``"sliding window"``).

    Returns:
        The blended mask, ``(N, K, H, W)`` (``(K, H, W)`` for a 3-d image), in the image's dtype,
        on ``device``.

    The defaults, window placement, padding, gaussian and normalisation are those of MONAI 1.x's
    ``sliding_window_inference`` with its defaults (``mode="constant"``, ``sigma_scale=0.125``,
    ``padding_mode="constant"``, ``cval=0``): both give the same result within float rounding.
    Memory beyond the image and the output is one batch of windows (and of their masks) and
    two strips of blending weights a window high; the image is never padded or copied whole.
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    squeeze = image.dim() == 3
    images = image.unsqueeze(0) if squeeze else image
    settings = _Settings.checked(images, window, overlap, blend, sigma_scale, batch_size, pad_mode)
    out_device = torch.device(device) if device is not None else images.device
    model_device = _device_of(model, images.device)
    divisor = int(getattr(model, "input_divisor", 1) or 1)
    rows = plan_axis(images.shape[-2], settings.window[0], settings.overlap[0])
    cols = plan_axis(images.shape[-1], settings.window[1], settings.overlap[1])
    # the accumulation runs where the output lives; only the windows travel to the model
    weights = importance_map(settings.window, blend=blend, sigma_scale=settings.sigma_scale, dtype=images.dtype, device=out_device)
    cutter = _WindowCutter(images, rows, cols, divisor, pad_mode, pad_value, model_device, batch_size)

    output: torch.Tensor | None = None
    bar = _progress_bar(cutter.count, progress)
    try:
        for batch in cutter.batches():
            with torch.inference_mode():  # lighter than no_grad; the output itself stays a normal tensor
                raw = model(cutter.buffer[: len(batch)])
            mask = _mask_of(raw, cutter.buffer.shape, len(batch))
            mask = mask.to(device=out_device, dtype=images.dtype)  # one transfer per batch
            if output is None:
                output = torch.zeros((images.shape[0], mask.shape[1], *images.shape[-2:]), dtype=images.dtype, device=out_device)
            for index, placed in enumerate(batch):
                _accumulate(output, mask[index], weights, blend == "constant", placed, cutter.margin)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    assert output is not None  # at least one window always exists
    _normalise(output, rows, cols, weights)
    return output[0] if squeeze else output


@dataclass(frozen=True)
class _Settings:
    window: tuple[int, int]
    overlap: tuple[float, float]
    sigma_scale: tuple[float, float]

    @classmethod
    def checked(
        cls,
        images: torch.Tensor,
        window: int | tuple[int, int],
        overlap: float | tuple[float, float],
        blend: str,
        sigma_scale: float | tuple[float, float],
        batch_size: int,
        pad_mode: str,
    ) -> _Settings:
        if images.dim() != 4:
            raise ValueError(f"image must be a tensor of shape (N, C, H, W) or (C, H, W), got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise TypeError(f"image must be floating point, got {images.dtype}; convert it, e.g. image.float() / 255")
        windows = _pair(window, "window", int)
        if min(windows) < 1:
            raise ValueError(f"window must be positive, got {window!r}")
        overlaps = _pair(overlap, "overlap", float)
        if not all(0.0 <= o < 1.0 for o in overlaps):
            raise ValueError(f"overlap must be in [0, 1), got {overlap!r}")
        scales = _pair(sigma_scale, "sigma_scale", float)
        if not min(scales) > 0:
            raise ValueError(f"sigma_scale must be positive, got {sigma_scale!r}")
        if blend not in BLEND_MODES:
            raise ValueError(f"blend must be one of {', '.join(map(repr, BLEND_MODES))}, got {blend!r}")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {', '.join(map(repr, PAD_MODES))}, got {pad_mode!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        return cls(windows, overlaps, scales)  # type: ignore[arg-type]


def _pair(value: object, name: str, kind: type) -> tuple:
    values = tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else (value, value)
    ok = len(values) == 2 and all(
        isinstance(v, (int, float) if kind is float else int) and not isinstance(v, bool) for v in values
    )
    if not ok:
        raise TypeError(f"{name} must be one {kind.__name__} or a pair (height, width) of them, got {value!r}")
    return tuple(kind(v) for v in values)


def _device_of(model: nn.Module, default: torch.device) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return default


@dataclass(frozen=True)
class _Placed:
    """One window: image ``n``, top-left corner ``(y, x)`` in image coordinates (negative or
    overhanging where the image is padded)."""

    n: int
    y: int
    x: int


class _WindowCutter:
    """Cuts windows out of the image into one reusable buffer on the model's device, padding
    only the windows that reach outside the image, and each to the model's divisor."""

    def __init__(
        self,
        images: torch.Tensor,
        rows: AxisPlan,
        cols: AxisPlan,
        divisor: int,
        pad_mode: str,
        pad_value: float,
        device: torch.device,
        batch_size: int,
    ) -> None:
        self.images, self.rows, self.cols = images, rows, cols
        self.pad_mode, self.pad_value = pad_mode, pad_value
        height, width = rows.window, cols.window
        extra_h, extra_w = math.ceil(height / divisor) * divisor - height, math.ceil(width / divisor) * divisor - width
        # (top, left): where the window sits in the divisor-padded buffer, half the padding before
        self.margin = (extra_h // 2, extra_w // 2)
        self.divisor_pad = (extra_w // 2, extra_w - extra_w // 2, extra_h // 2, extra_h - extra_h // 2)
        self.count = images.shape[0] * len(rows.starts) * len(cols.starts)
        self.batch_size = min(batch_size, self.count)
        shape = (self.batch_size, images.shape[1], height + extra_h, width + extra_w)
        self.buffer = torch.empty(shape, dtype=images.dtype, device=device)

    def batches(self) -> Iterator[list[_Placed]]:
        """Fill the buffer with the next windows and yield where they came from."""
        size = self.batch_size
        placed = [
            _Placed(n, y, x) for n in range(self.images.shape[0]) for y in self.rows.starts for x in self.cols.starts
        ]
        for first in range(0, self.count, size):
            batch = placed[first : first + size]
            for slot, where in zip(self.buffer, batch):
                self._cut(slot, where)
            yield batch

    def _cut(self, slot: torch.Tensor, where: _Placed) -> None:
        height, width = self.images.shape[-2:]
        top, left = max(where.y, 0), max(where.x, 0)
        bottom, right = min(where.y + self.rows.window, height), min(where.x + self.cols.window, width)
        crop = self.images[where.n, :, top:bottom, left:right]
        image_pad = (left - where.x, where.x + self.cols.window - right, top - where.y, where.y + self.rows.window - bottom)
        if not any(image_pad) and not any(self.divisor_pad):
            slot.copy_(crop)
        elif self.pad_mode == "constant":  # one fill and one copy, no padded temporary
            slot.fill_(self.pad_value)
            y0, x0 = self.margin[0] + image_pad[2], self.margin[1] + image_pad[0]
            slot[:, y0 : y0 + crop.shape[-2], x0 : x0 + crop.shape[-1]].copy_(crop)
        else:  # pad to the window as MONAI pads the image, then the window to the divisor
            slot.copy_(self._pad(self._pad(crop, image_pad), self.divisor_pad))

    def _pad(self, tensor: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
        if not any(pad):
            return tensor
        try:
            return F.pad(tensor, pad, mode=self.pad_mode)
        except (RuntimeError, NotImplementedError) as exc:
            raise ValueError(
                f"pad_mode={self.pad_mode!r} cannot pad {tuple(tensor.shape[-2:])} pixels by {pad} (left, right, top, "
                f"bottom): {exc}. Use pad_mode='replicate' or 'constant', or a smaller window"
            ) from exc


def _mask_of(output: object, window_shape: torch.Size, count: int) -> torch.Tensor:
    mask = output[0] if isinstance(output, (tuple, list)) and output else output
    if not isinstance(mask, torch.Tensor) or mask.dim() != 4 or mask.shape[0] != count or mask.shape[-2:] != window_shape[-2:]:
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(
            f"the model must map windows of shape {(count, *window_shape[1:])} to masks of shape "
            f"({count}, K, {window_shape[-2]}, {window_shape[-1]}), got {got}"
        )
    return mask


def _accumulate(
    output: torch.Tensor,
    mask: torch.Tensor,
    weights: torch.Tensor,
    uniform: bool,
    where: _Placed,
    margin: tuple[int, int],
) -> None:
    """Add ``mask * weights``, the part inside the image, to ``output`` in place: one fused
    multiply-add, no weighted temporary; a plain add when the weights are all ones."""
    height, width = output.shape[-2:]
    win_h, win_w = weights.shape
    top, left = max(where.y, 0), max(where.x, 0)
    bottom, right = min(where.y + win_h, height), min(where.x + win_w, width)
    wy, wx = top - where.y, left - where.x
    part = (slice(wy, wy + bottom - top), slice(wx, wx + right - left))
    piece = mask[:, margin[0] + part[0].start : margin[0] + part[0].stop, margin[1] + part[1].start : margin[1] + part[1].stop]
    target = output[where.n, :, top:bottom, left:right]
    if uniform:
        target.add_(piece)
    else:
        target.addcmul_(piece, weights[part])


def _normalise(output: torch.Tensor, rows: AxisPlan, cols: AxisPlan, weights: torch.Tensor) -> None:
    """Divide ``output`` by the summed weights of the windows covering each pixel, one band of
    rows (a window high) at a time, so the full weight map is never held.

    Every row of windows spreads the same weights along a strip a window high, so the strip is
    summed once and each band adds the two or three strips that cross it: a few large
    operations instead of one per window and band."""
    height, width = output.shape[-2:]
    win_h, win_w = weights.shape
    strip = torch.zeros((win_h, width), dtype=output.dtype, device=output.device)
    for x in cols.starts:
        left, right = max(x, 0), min(x + win_w, width)
        strip[:, left:right] += weights[:, left - x : right - x]
    total = torch.empty((min(win_h, height), width), dtype=output.dtype, device=output.device)
    for band_top in range(0, height, win_h):
        band_bottom = min(band_top + win_h, height)
        band = total[: band_bottom - band_top].zero_()
        for y in rows.starts:
            top, bottom = max(y, band_top), min(y + win_h, band_bottom)
            if top < bottom:
                band[top - band_top : bottom - band_top] += strip[top - y : bottom - y]
        output[:, :, band_top:band_bottom].div_(band)


def _progress_bar(total: int, progress: bool | str) -> tqdm | None:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=progress if isinstance(progress, str) else "sliding window", unit="window")
