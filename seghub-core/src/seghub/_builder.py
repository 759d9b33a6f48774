"""Assembling a model's parts from a validated spec: encoder, neck, decoder, heads, and what they support.

The builder calls the encoder factory through its registry entry, checks the encoder against
the protocol, puts the neck the spec names (or, when the spec leaves it out and the decoder
cannot use the encoder's features, the first registered neck that makes them fit) between
encoder and decoder, checks the decoder's declared feature rule against what it will see,
calls the decoder factory, builds the heads, and decides once what the parts support
(:class:`~seghub._protocols.Capabilities`). Every refusal is a located
:class:`~seghub.SpecError`; nothing here knows a concrete network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from ._excerpt import error_text
from ._heads import ClassificationHead, SegmentationHead
from ._protocols import (
    Capabilities,
    InputDivisor,
    PrefixTokenEncoder,
    check_decoder_attributes,
    check_encoder_attributes,
    check_neck_attributes,
    part_checkpoints_itself,
    reads_prefix_tokens,
    requires_divisible_input,
)
from ._spec import ModelSpec, NeckSpec
from ._validation import ResolvedSpec, SpecLike, validate_spec
from ._warn import warn_user
from .errors import PluginError, SpecError, SpecIssue
from .plugins import NeckEntry, get_hub
from .plugins._entries import BUILD_ERRORS

__all__ = ["ModelParts", "assemble", "decide_capabilities"]

NATIVE_OUTPUT_STRIDE = 32
"""The output stride that asks an encoder for no dilation at all."""


@dataclass(frozen=True)
class ModelParts:
    """Everything a :class:`~seghub.SegmentationModel` is made of."""

    encoder: nn.Module
    neck: nn.Module | None
    decoder: nn.Module
    segmentation_head: nn.Module
    classification_head: nn.Module | None
    spec: ModelSpec
    capabilities: Capabilities


@dataclass(frozen=True)
class _Middle:
    """A neck (or none) and the decoder built on what it gives."""

    neck: nn.Module | None
    neck_spec: NeckSpec | None
    decoder: nn.Module
    prefix_tokens: int | None


def _layout(part: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(int(c) for c in part.out_channels), tuple(int(r) for r in part.reductions)


def _create_encoder(resolved: ResolvedSpec) -> tuple[nn.Module, ResolvedSpec]:
    """The encoder; when it cannot give an output stride only the decoder preferred (the spec left
    it unset), it is built at its native stride instead, with a warning, and the spec says so."""
    enc = resolved.spec.encoder

    def create(output_stride: int) -> nn.Module:
        return resolved.encoder.create(
            in_channels=enc.in_channels, depth=enc.depth, output_stride=output_stride, weights=enc.weights,
            params=resolved.encoder_params,
        )

    try:
        return create(enc.output_stride), resolved
    except SpecError as exc:
        preferred_only = "output_stride" in resolved.preferred and enc.output_stride != NATIVE_OUTPUT_STRIDE
        if not (preferred_only and isinstance(exc.__cause__, ValueError)):
            raise
        try:
            encoder = create(NATIVE_OUTPUT_STRIDE)
        except SpecError:
            raise exc from None
        why = exc.__cause__
    warn_user(
        f"encoder {enc.name!r} cannot give output stride {enc.output_stride}, which decoder "
        f"{resolved.decoder.name!r} prefers ({why}); built at its native stride, and model.spec records "
        f"encoder.output_stride={NATIVE_OUTPUT_STRIDE}. Set encoder.output_stride to silence this.",
    )
    spec = resolved.spec.model_copy(update={"encoder": enc.model_copy(update={"output_stride": NATIVE_OUTPUT_STRIDE})})
    return encoder, replace(resolved, spec=spec)


def _prefix_tokens(encoder: nn.Module, neck: nn.Module | None, decoder_factory: Any) -> int | None:
    """How many prefix tokens the decoder gets (None: it is not handed tokens). Tokens pass a
    neck only when the neck keeps the encoder's features' channels (one token set per feature)."""
    if not (reads_prefix_tokens(decoder_factory) and isinstance(encoder, PrefixTokenEncoder)):
        return None
    if neck is not None and _layout(neck)[0] != _layout(encoder)[0]:
        return None
    return int(encoder.num_prefix_tokens)


def _decoder_on(
    resolved: ResolvedSpec, encoder: nn.Module, neck: nn.Module | None, neck_name: str = ""
) -> tuple[nn.Module, int | None]:
    """The decoder built on the features ``neck`` (or, without one, the encoder) gives."""
    channels, reductions = _layout(neck if neck is not None else encoder)
    problem = resolved.decoder.constraints.features.problem(reductions)
    if problem:
        if neck is not None:
            problem = problem.replace("the encoder's reductions", f"neck {neck_name!r} gives reductions")
        raise SpecError([SpecIssue(("decoder",), f"decoder {resolved.decoder.name!r} {problem}")])
    tokens = _prefix_tokens(encoder, neck, resolved.decoder.load_factory())
    decoder = resolved.decoder.create(
        encoder_channels=channels, encoder_reductions=reductions, params=resolved.decoder_params,
        encoder_prefix_tokens=tokens,
    )
    return decoder, tokens


def _create_neck(
    entry: NeckEntry, params: dict[str, Any], encoder: nn.Module, output_reductions: tuple[int, ...] | None = None
) -> nn.Module:
    channels, reductions = _layout(encoder)
    neck = entry.create(
        encoder_channels=channels, encoder_reductions=reductions, params=params, output_reductions=output_reductions
    )
    check_neck_attributes(neck)
    return neck


def _on_neck(
    resolved: ResolvedSpec, encoder: nn.Module, entry: NeckEntry, params: dict[str, Any]
) -> tuple[nn.Module, nn.Module, int | None]:
    """The neck and the decoder on it. A neck that can build only some outputs is rebuilt with
    just those the decoder reads (no branch without a gradient)."""
    neck = _create_neck(entry, params, encoder)
    decoder, tokens = _decoder_on(resolved, encoder, neck, entry.name)
    reductions = _layout(neck)[1]
    read = resolved.decoder.constraints.features.read(reductions)
    if entry.selectable_outputs and len(read) < len(reductions):
        neck = _create_neck(entry, params, encoder, read)
        decoder, tokens = _decoder_on(resolved, encoder, neck, entry.name)
    return neck, decoder, tokens


def _refused(exc: SpecError) -> bool:
    """Whether a decoder refused the features it was offered (as opposed to crashing)."""
    return exc.__cause__ is None or isinstance(exc.__cause__, ValueError)


def _middle(resolved: ResolvedSpec, encoder: nn.Module) -> _Middle:
    """The neck the spec asks for (or none), or, when it leaves that to the builder, no neck if
    the decoder can use the encoder's features, else the first registered neck that makes them fit."""
    if resolved.neck_choice == "given":
        assert resolved.neck is not None and resolved.spec.neck is not None
        neck, decoder, tokens = _on_neck(resolved, encoder, resolved.neck, resolved.neck_params or {})
        return _Middle(neck, resolved.spec.neck, decoder, tokens)
    try:
        decoder, tokens = _decoder_on(resolved, encoder, None)
        return _Middle(None, None, decoder, tokens)
    except SpecError as exc:
        if resolved.neck_choice == "none" or not _refused(exc):
            raise
        refusal = exc
    tried = []
    for entry in get_hub().necks():
        try:
            params = entry.validate_params({})
            neck, decoder, tokens = _on_neck(resolved, encoder, entry, params)
        except PluginError as exc:  # a broken third-party neck must not stop the others
            tried.append(f"{entry.name} (broken: {exc})")
            continue
        except SpecError as exc:
            if _refused(exc):
                tried.append(entry.name)
                continue
            raise
        neck_spec = NeckSpec(name=entry.name, params=_plain(params))
        return _Middle(neck, neck_spec, decoder, tokens)
    hint = (
        f" No registered neck makes them fit (tried {', '.join(tried)})." if tried
        else " No neck is registered that could adapt them (seghub-decoders ships some)."
    )
    raise SpecError([SpecIssue(i.loc, i.message.rstrip(".") + "." + hint) for i in refusal.issues]) from refusal.__cause__


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def decide_capabilities(
    encoder: nn.Module, neck: nn.Module | None, decoder: nn.Module, resolved: ResolvedSpec, prefix_tokens: int | None
) -> Capabilities:
    """What the parts of one model support: input divisor, smallest input, token passing,
    which parts checkpoint themselves."""
    _, reductions = _layout(encoder)
    seen = _layout(neck)[1] if neck is not None else reductions
    divisor = int(encoder.input_divisor) if isinstance(encoder, InputDivisor) else 1
    if requires_divisible_input(decoder) or neck is not None:
        # sizes map exactly only when the input divides by every reduction on the way: the
        # encoder's, the neck's, and the decoder's output one (Segformer's 4 on a patch-14 ViT)
        divisor = math.lcm(divisor, max(reductions), max(seen), int(decoder.reduction))
    min_size = max(resolved.decoder.constraints.min_input_size(seen), divisor)
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
    except BUILD_ERRORS as exc:
        raise SpecError([SpecIssue((location,), f"cannot build the {location.replace('_', ' ')}: {error_text(exc)}")]) from exc


def assemble(spec: SpecLike) -> ModelParts:
    """Validate ``spec`` and build its parts (see the module docstring)."""
    resolved = validate_spec(spec)
    encoder, resolved = _create_encoder(resolved)
    check_encoder_attributes(encoder)
    middle = _middle(resolved, encoder)
    decoder = middle.decoder
    check_decoder_attributes(decoder)

    model_spec = resolved.spec.model_copy(update={"neck": middle.neck_spec})  # what was built, neck or none
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
            "classification_head", ClassificationHead, _layout(encoder)[0][-1], cls.classes, pooling=cls.pooling,
            dropout=cls.dropout, activation=cls.activation,
        )
    capabilities = decide_capabilities(encoder, middle.neck, decoder, resolved, middle.prefix_tokens)
    return ModelParts(encoder, middle.neck, decoder, segmentation_head, classification_head, model_spec, capabilities)
