"""The Encoder and Decoder protocols, the optional extensions a part may implement, and runtime
checks that tell a plugin author what is off.

The required protocols are :class:`Encoder` and :class:`Decoder`. Everything else a part may
offer is declared here too, as runtime-checkable protocols, and read in one place: the builder
decides once what the parts of a model support (:class:`Capabilities`) and hands that to the
model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from .errors import ProtocolError

__all__ = [
    "Encoder",
    "Decoder",
    "Neck",
    "InputDivisor",
    "DivisibleInputRule",
    "PrefixTokenEncoder",
    "PrefixTokenDecoder",
    "GradCheckpointable",
    "SmpStateDictConverter",
    "SmpModelStateDictConverter",
    "Capabilities",
    "part_checkpoints_itself",
    "reads_prefix_tokens",
    "requires_divisible_input",
    "check_encoder_attributes",
    "check_decoder_attributes",
    "check_neck_attributes",
    "check_encoder_output",
    "check_decoder_output",
]


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


# -- optional extensions ------------------------------------------------------------------------


@runtime_checkable
class Neck(Protocol):
    """An ``nn.Module`` between encoder and decoder: built from the encoder's declarations, it maps
    the encoder's feature maps to new ones and declares them as an encoder does, so the decoder
    sees it as the encoder."""

    out_channels: tuple[int, ...]
    reductions: tuple[int, ...]

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]: ...


@runtime_checkable
class InputDivisor(Protocol):
    """An encoder whose input height and width must also divide by ``input_divisor`` (a patch
    size, a window size)."""

    input_divisor: int


@runtime_checkable
class DivisibleInputRule(Protocol):
    """A decoder (class) that says whether the model must refuse inputs whose height or width do
    not divide by the encoder's largest reduction. Without it: True. Set False only when the
    output is right for any size."""

    requires_divisible_input: bool


@runtime_checkable
class PrefixTokenEncoder(Protocol):
    """An encoder that also returns its class/register tokens, for decoders that read them out:
    one ``(N, num_prefix_tokens, C_i)`` tensor per feature, or None."""

    num_prefix_tokens: int

    def forward_with_tokens(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]: ...


@runtime_checkable
class PrefixTokenDecoder(Protocol):
    """A decoder (class) that reads prefix tokens: with a :class:`PrefixTokenEncoder` and
    ``uses_prefix_tokens = True``, its factory gets ``encoder_prefix_tokens=<int>`` and the
    model calls ``decoder(features, prefix_tokens)``."""

    uses_prefix_tokens: bool


@runtime_checkable
class GradCheckpointable(Protocol):
    """A part that checkpoints its own stages or blocks (timm's convention); a part without it is
    checkpointed as a whole."""

    def set_grad_checkpointing(self, enable: bool = True) -> None: ...


@runtime_checkable
class SmpStateDictConverter(Protocol):
    """A part whose state-dict keys differ from smp's: renames an smp checkpoint's keys, relative
    to the part, for :mod:`seghub.compat.smp`."""

    def smp_state_dict_to_seghub(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...


@runtime_checkable
class SmpModelStateDictConverter(Protocol):
    """A decoder that owns part of what smp calls the head: rewrites whole-model smp keys first."""

    def smp_model_state_dict_to_seghub(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...


@dataclass(frozen=True)
class Capabilities:
    """What the parts of one model support, decided once by the builder.

    ``input_divisor``: height and width must divide by it. ``min_input_size``: the smallest
    height and width (at least 1), and ``min_input_reason`` who needs it ("decoder 'pan' at
    output stride 16"). ``prefix_tokens``: the decoder reads the encoder's prefix tokens (the
    model calls ``encoder.forward_with_tokens``). ``encoder_checkpoints_itself`` /
    ``decoder_checkpoints_itself``: the part implements :class:`GradCheckpointable`.
    """

    input_divisor: int = 1
    min_input_size: int = 1
    min_input_reason: str = ""
    prefix_tokens: bool = False
    encoder_checkpoints_itself: bool = False
    decoder_checkpoints_itself: bool = False


def part_checkpoints_itself(part: Any) -> bool:
    """Whether ``part`` implements :class:`GradCheckpointable` (a callable method, not a flag)."""
    return isinstance(part, GradCheckpointable) and callable(part.set_grad_checkpointing)


def reads_prefix_tokens(decoder: Any) -> bool:
    """Whether a decoder (or its factory) declares ``uses_prefix_tokens = True``."""
    return isinstance(decoder, PrefixTokenDecoder) and bool(decoder.uses_prefix_tokens)


def requires_divisible_input(decoder: Any) -> bool:
    """Whether a decoder needs inputs divisible by the encoder's largest reduction (the default)."""
    return not isinstance(decoder, DivisibleInputRule) or bool(decoder.requires_divisible_input)


# -- runtime checks -------------------------------------------------------------------------------


def _owner(module: object, what: str) -> str:
    return f"{what} {type(module).__module__}.{type(module).__qualname__}"


def check_encoder_attributes(encoder: object) -> None:
    """Check an encoder's declared attributes; raise :class:`ProtocolError` naming what is wrong."""
    who = _owner(encoder, "encoder")
    _check_feature_declarations(encoder, who, ("in_channels", "out_channels", "reductions"))
    in_channels = encoder.in_channels  # type: ignore[attr-defined]
    if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
        raise ProtocolError(f"{who}.in_channels must be a positive int, got {in_channels!r}")


def check_neck_attributes(neck: object) -> None:
    """Check a neck's declared attributes; raise :class:`ProtocolError` naming what is wrong."""
    _check_feature_declarations(neck, _owner(neck, "neck"), ("out_channels", "reductions"))


def _check_feature_declarations(module: object, who: str, attributes: tuple[str, ...]) -> None:
    """``out_channels`` and ``reductions``: one positive int per feature map, reductions not decreasing."""
    if not isinstance(module, nn.Module):
        raise ProtocolError(f"{who} must be a torch.nn.Module")
    for attr in attributes:
        if not hasattr(module, attr):
            raise ProtocolError(f"{who} has no attribute {attr!r}; set it in __init__")
    out_channels = _int_tuple(module.out_channels, f"{who}.out_channels")  # type: ignore[attr-defined]
    reductions = _int_tuple(module.reductions, f"{who}.reductions")  # type: ignore[attr-defined]
    if not out_channels:
        raise ProtocolError(f"{who}.out_channels is empty; declare at least one feature map")
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


def check_encoder_output(encoder: nn.Module, x: torch.Tensor, features: object, *, kind: str = "encoder") -> None:
    """Check what an encoder (or a neck: ``kind="neck"``) returned for model input ``x`` against
    its declared channels and reductions."""
    who = _owner(encoder, kind)
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


def check_decoder_attributes(decoder: object) -> None:
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
