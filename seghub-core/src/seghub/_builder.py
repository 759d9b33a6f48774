"""Assembling a model's parts from a validated spec: encoder, decoder, heads, and what they support.

The builder calls the encoder factory through its registry entry, checks the encoder against
the protocol, checks the decoder's declared feature rule against the encoder's declarations,
calls the decoder factory, builds the heads, and decides once what the parts support
(:class:`~seghub._protocols.Capabilities`). Every refusal is a located
:class:`~seghub.SpecError`; nothing here knows a concrete network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import nn

from ._heads import ClassificationHead, SegmentationHead
from ._protocols import (
    Capabilities,
    InputDivisor,
    PrefixTokenEncoder,
    check_decoder_attributes,
    check_encoder_attributes,
    part_checkpoints_itself,
    reads_prefix_tokens,
    requires_divisible_input,
)
from ._spec import ModelSpec
from ._validation import ResolvedSpec, SpecLike, validate_spec
from .errors import SpecError, SpecIssue

__all__ = ["ModelParts", "assemble", "decide_capabilities"]


@dataclass(frozen=True)
class ModelParts:
    """Everything a :class:`~seghub.SegmentationModel` is made of."""

    encoder: nn.Module
    decoder: nn.Module
    segmentation_head: nn.Module
    classification_head: nn.Module | None
    spec: ModelSpec
    capabilities: Capabilities


def _prefix_tokens(encoder: nn.Module, decoder_factory: Any) -> int | None:
    """How many prefix tokens the decoder gets (None: the decoder is not handed tokens)."""
    if reads_prefix_tokens(decoder_factory) and isinstance(encoder, PrefixTokenEncoder):
        return int(encoder.num_prefix_tokens)
    return None


def decide_capabilities(
    encoder: nn.Module, decoder: nn.Module, resolved: ResolvedSpec, prefix_tokens: int | None
) -> Capabilities:
    """What the parts of one model support: input divisor, smallest input, token passing,
    which parts checkpoint themselves."""
    reductions = tuple(int(r) for r in encoder.reductions)  # type: ignore[union-attr]
    divisor = int(encoder.input_divisor) if isinstance(encoder, InputDivisor) else 1
    if requires_divisible_input(decoder):
        divisor = math.lcm(divisor, max(reductions))
    constraints = resolved.decoder.constraints
    min_size = max(constraints.min_input_size(reductions), divisor)
    stride = resolved.spec.encoder.output_stride
    return Capabilities(
        input_divisor=divisor,
        min_input_size=min_size,
        min_input_reason=f"decoder {resolved.decoder.name!r} at output stride {stride}",
        prefix_tokens=prefix_tokens is not None,
        encoder_checkpoints_itself=part_checkpoints_itself(encoder),
        decoder_checkpoints_itself=part_checkpoints_itself(decoder),
    )


def _head(location: str, build: Any, *args: Any, **kwargs: Any) -> nn.Module:
    """Build a head; what it refuses (sizes torch cannot allocate, say) is located at ``location``."""
    try:
        return build(*args, **kwargs)
    except (ValueError, TypeError, RuntimeError, OverflowError, MemoryError) as exc:
        raise SpecError([SpecIssue((location,), f"cannot build the {location.replace('_', ' ')}: {exc}")]) from exc


def assemble(spec: SpecLike) -> ModelParts:
    """Validate ``spec`` and build its parts (see the module docstring)."""
    resolved = validate_spec(spec)
    model_spec = resolved.spec
    enc = model_spec.encoder
    encoder = resolved.encoder.create(
        in_channels=enc.in_channels, depth=enc.depth, output_stride=enc.output_stride, weights=enc.weights,
        params=resolved.encoder_params,
    )
    check_encoder_attributes(encoder)
    channels = tuple(int(c) for c in encoder.out_channels)
    reductions = tuple(int(r) for r in encoder.reductions)
    problem = resolved.decoder.constraints.features.problem(reductions)
    if problem:
        raise SpecError([SpecIssue(("decoder",), f"decoder {resolved.decoder.name!r} {problem}")])
    tokens = _prefix_tokens(encoder, resolved.decoder.load_factory())
    decoder = resolved.decoder.create(
        encoder_channels=channels, encoder_reductions=reductions, params=resolved.decoder_params,
        encoder_prefix_tokens=tokens,
    )
    check_decoder_attributes(decoder)

    head_spec = model_spec.segmentation_head
    if head_spec.upsampling is None:
        head_spec = head_spec.model_copy(update={"upsampling": decoder.reduction})
        model_spec = model_spec.model_copy(update={"segmentation_head": head_spec})
    segmentation_head = _head(
        "segmentation_head", SegmentationHead, decoder.out_channels, head_spec.classes,
        kernel_size=head_spec.kernel_size or 3, upsampling=head_spec.upsampling or 1, activation=head_spec.activation,
    )
    classification_head = None
    if model_spec.classification_head is not None:
        cls = model_spec.classification_head
        classification_head = _head(
            "classification_head", ClassificationHead, channels[-1], cls.classes, pooling=cls.pooling,
            dropout=cls.dropout, activation=cls.activation,
        )
    capabilities = decide_capabilities(encoder, decoder, resolved, tokens)
    return ModelParts(encoder, decoder, segmentation_head, classification_head, model_spec, capabilities)
