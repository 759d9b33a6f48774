"""The Encoder and Decoder protocols, and runtime checks that tell a plugin author what is off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from .errors import ProtocolError

__all__ = ["Encoder", "Decoder", "check_encoder", "check_decoder", "check_encoder_output", "check_decoder_output"]


@runtime_checkable
class Encoder(Protocol):
    """An ``nn.Module`` that turns an image batch into feature maps, fine to coarse.

    ``out_channels[i]`` and ``reductions[i]`` describe the i-th map ``forward`` returns; a
    reduction is the map's stride relative to the input and never decreases along the list.
    """

    in_channels: int
    out_channels: tuple[int, ...]
    reductions: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]: ...


@runtime_checkable
class Decoder(Protocol):
    """An ``nn.Module`` that fuses encoder features into one map for the segmentation head.

    ``out_channels`` is the channel count of that map and ``reduction`` its stride relative
    to the model input.
    """

    out_channels: int
    reduction: int

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor: ...


def _owner(module: object, what: str) -> str:
    return f"{what} {type(module).__module__}.{type(module).__qualname__}"


def check_encoder(encoder: object) -> None:
    """Check an encoder's declared attributes; raise :class:`ProtocolError` naming what is wrong."""
    who = _owner(encoder, "encoder")
    if not isinstance(encoder, nn.Module):
        raise ProtocolError(f"{who} must be a torch.nn.Module")
    for attr in ("in_channels", "out_channels", "reductions"):
        if not hasattr(encoder, attr):
            raise ProtocolError(f"{who} has no attribute {attr!r}; set it in __init__")
    in_channels = encoder.in_channels  # type: ignore[attr-defined]
    if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
        raise ProtocolError(f"{who}.in_channels must be a positive int, got {in_channels!r}")
    out_channels = _int_tuple(encoder.out_channels, f"{who}.out_channels")  # type: ignore[attr-defined]
    reductions = _int_tuple(encoder.reductions, f"{who}.reductions")  # type: ignore[attr-defined]
    if not out_channels:
        raise ProtocolError(f"{who}.out_channels is empty; an encoder returns at least one feature map")
    if len(out_channels) != len(reductions):
        raise ProtocolError(
            f"{who} declares {len(out_channels)} out_channels {out_channels} but "
            f"{len(reductions)} reductions {reductions}; they need one entry per feature map"
        )
    for i in range(1, len(reductions)):
        if reductions[i] < reductions[i - 1]:
            raise ProtocolError(
                f"{who}.reductions {reductions} decrease at index {i}; features must be ordered fine to coarse"
            )


def check_encoder_output(encoder: nn.Module, x: torch.Tensor, features: object) -> None:
    """Check what an encoder returned for ``x`` against its declared channels and reductions."""
    who = _owner(encoder, "encoder")
    out_channels = tuple(encoder.out_channels)  # type: ignore[arg-type]
    reductions = tuple(encoder.reductions)  # type: ignore[arg-type]
    if not isinstance(features, (list, tuple)):
        raise ProtocolError(f"{who}.forward must return a list of tensors, got {type(features).__name__}")
    if len(features) != len(out_channels):
        raise ProtocolError(
            f"{who}.forward returned {len(features)} feature maps but declares {len(out_channels)} "
            f"(out_channels {out_channels})"
        )
    height, width = x.shape[-2:]
    for i, (feature, channels, reduction) in enumerate(zip(features, out_channels, reductions)):
        if not isinstance(feature, torch.Tensor) or feature.ndim != 4:
            raise ProtocolError(f"{who}.forward: feature {i} must be a 4-d NCHW tensor")
        if feature.shape[1] != channels:
            raise ProtocolError(
                f"{who}.forward: feature {i} has {feature.shape[1]} channels, declared {channels}"
            )
        expected = (-(-height // reduction), -(-width // reduction))
        if tuple(feature.shape[-2:]) != expected:
            raise ProtocolError(
                f"{who}.forward: feature {i} is {tuple(feature.shape[-2:])} for a {height}x{width} "
                f"input; reduction {reduction} means {expected}"
            )


def check_decoder(decoder: object) -> None:
    """Check a decoder's declared attributes; raise :class:`ProtocolError` naming what is wrong."""
    who = _owner(decoder, "decoder")
    if not isinstance(decoder, nn.Module):
        raise ProtocolError(f"{who} must be a torch.nn.Module")
    for attr in ("out_channels", "reduction"):
        if not hasattr(decoder, attr):
            raise ProtocolError(f"{who} has no attribute {attr!r}; set it in __init__")
        value = getattr(decoder, attr)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ProtocolError(f"{who}.{attr} must be a positive int, got {value!r}")


def check_decoder_output(decoder: nn.Module, x: torch.Tensor, output: object) -> None:
    """Check a decoder's output for model input ``x`` against its declared channels and reduction."""
    who = _owner(decoder, "decoder")
    if not isinstance(output, torch.Tensor) or output.ndim != 4:
        raise ProtocolError(f"{who}.forward must return one 4-d NCHW tensor, got {type(output).__name__}")
    if output.shape[1] != decoder.out_channels:
        raise ProtocolError(f"{who}.forward returned {output.shape[1]} channels, declared {decoder.out_channels}")
    height, width = x.shape[-2:]
    reduction = int(decoder.reduction)  # type: ignore[arg-type]
    expected = (-(-height // reduction), -(-width // reduction))
    if tuple(output.shape[-2:]) != expected:
        raise ProtocolError(
            f"{who}.forward returned {tuple(output.shape[-2:])} for a {height}x{width} input; "
            f"reduction {reduction} means {expected}"
        )


def _int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ProtocolError(f"{what} must be a tuple of positive ints, got {value!r}")
    items = tuple(value)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items):
        raise ProtocolError(f"{what} must hold positive ints, got {items!r}")
    return items
