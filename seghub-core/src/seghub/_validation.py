"""Assembling a model from a spec: load, validate in two passes, resolve plugins, build.

Pass one validates the spec's own structure; pass two validates each chosen plugin's
``params`` with its own pydantic model, reporting locations from the spec root
(``decoder.params.decoder_channels``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ._hub import get_hub
from ._registry import DecoderEntry, EncoderEntry
from ._spec import SPEC_VERSION, ModelSpec
from .errors import PluginConflictError, SpecError, SpecIssue, UnknownNameError, WeightsError

__all__ = ["build_model", "validate_spec", "preprocessing_params", "ResolvedSpec"]

SpecLike = ModelSpec | Mapping[str, Any] | str | os.PathLike[str]


@dataclass(frozen=True)
class ResolvedSpec:
    """A validated spec with the plugin entries it names and their validated params."""

    spec: ModelSpec
    encoder: EncoderEntry
    decoder: DecoderEntry
    encoder_params: dict[str, Any]
    decoder_params: dict[str, Any]


def _load(spec: SpecLike) -> Any:
    if isinstance(spec, ModelSpec):
        return spec.model_dump()
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError([SpecIssue((), f"cannot read spec file {str(path)!r}: {exc.strerror or exc}")]) from exc
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError([SpecIssue((), f"{path} is not valid JSON: {exc}")]) from exc
    return spec


def _issues(error: ValidationError, root: tuple[str | int, ...] = ()) -> list[SpecIssue]:
    found = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key; remove it (see `seghub schema` for the allowed keys)"
        elif "input" in item and item["type"] not in ("missing",):
            message = f"{message} (got {item['input']!r})"
        found.append(SpecIssue(root + tuple(item["loc"]), message))
    return found


def _check_version(data: Any) -> None:
    if isinstance(data, Mapping):
        version = data.get("version", SPEC_VERSION)
        if isinstance(version, int) and not isinstance(version, bool) and version > SPEC_VERSION:
            raise SpecError(
                [SpecIssue(("version",), f"spec version {version} is newer than this seghub understands "
                           f"({SPEC_VERSION}); upgrade seghub-core")]
            )


def _validate_params(
    entry: EncoderEntry | DecoderEntry, params: dict[str, Any], root: tuple[str, ...]
) -> tuple[dict[str, Any], list[SpecIssue]]:
    model = entry.load_params_model()
    if model is None:
        return dict(params), []
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise SpecError([SpecIssue(root, f"plugin {entry.plugin.label!r} declares a params model that is not a pydantic model")])
    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        return {}, _issues(exc, root)
    return validated.model_dump(), []


def validate_spec(spec: SpecLike) -> ResolvedSpec:
    """Validate a spec (dict, :class:`ModelSpec` or JSON path) against the spec and the plugins.

    Raises :class:`~seghub.SpecError` listing every problem with its location, or
    :class:`~seghub.UnknownNameError` / :class:`~seghub.PluginConflictError` for names.
    """
    data = _load(spec)
    _check_version(data)
    try:
        model_spec = ModelSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_issues(exc)) from None

    hub = get_hub()
    encoder = _lookup(hub.encoder, "encoder", model_spec.encoder.name, model_spec.encoder.provider)
    decoder = _lookup(hub.decoder, "decoder", model_spec.decoder.name, model_spec.decoder.provider)

    unset = {k: v for k, v in decoder.encoder_defaults.items() if k not in model_spec.encoder.model_fields_set}
    encoder_spec = model_spec.encoder.model_copy(update={"name": encoder.name, **unset})
    try:  # the decoder's encoder defaults go through the spec's own field checks too
        encoder_spec = type(encoder_spec).model_validate(encoder_spec.model_dump())
    except ValidationError as exc:
        raise SpecError(_issues(exc, ("encoder",))) from None

    encoder_params, problems = _validate_params(encoder, encoder_spec.params, ("encoder", "params"))
    decoder_params, more = _validate_params(decoder, model_spec.decoder.params, ("decoder", "params"))
    if problems or more:
        raise SpecError(problems + more)

    head = model_spec.segmentation_head
    head = head.model_copy(
        update={
            "kernel_size": head.kernel_size or decoder.head_defaults.get("kernel_size", 3),
            "upsampling": head.upsampling or decoder.head_defaults.get("upsampling"),
        }
    )
    resolved = model_spec.model_copy(
        update={
            "encoder": encoder_spec.model_copy(update={"params": _jsonable(encoder_params)}),
            "decoder": model_spec.decoder.model_copy(update={"name": decoder.name, "params": _jsonable(decoder_params)}),
            "segmentation_head": head,
        }
    )
    return ResolvedSpec(resolved, encoder, decoder, encoder_params, decoder_params)


def _lookup(find: Any, kind: str, name: str, provider: str | None) -> Any:
    try:
        return find(name, provider)
    except (UnknownNameError, PluginConflictError) as exc:
        raise type(exc)(f"{kind}.name: {exc}") from None


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Tuples become lists so the stored spec is what a JSON round trip gives back."""
    def convert(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return {k: convert(v) for k, v in params.items()}


def _call_factory(what: str, factory: Any, **kwargs: Any) -> Any:
    try:
        return factory(**kwargs)
    except (ValueError, TypeError) as exc:
        raise SpecError([SpecIssue((what,), str(exc))]) from exc


def build_model(spec: SpecLike) -> Any:
    """Build a :class:`~seghub.SegmentationModel` from a spec: a dict, a :class:`ModelSpec`,
    or the path of a JSON file. The model keeps the validated, fully resolved spec as
    ``model.spec``; building from it gives the same architecture."""
    from ._heads import ClassificationHead, SegmentationHead
    from ._model import SegmentationModel
    from ._protocols import check_decoder, check_encoder

    resolved = validate_spec(spec)
    model_spec = resolved.spec
    enc = model_spec.encoder
    encoder = _call_factory(
        "encoder",
        resolved.encoder.load_factory(),
        name=enc.name,
        in_channels=enc.in_channels,
        depth=enc.depth,
        output_stride=enc.output_stride,
        weights=enc.weights,
        **resolved.encoder_params,
    )
    check_encoder(encoder)
    decoder_factory = resolved.decoder.load_factory()
    token_kwargs = {}
    if getattr(decoder_factory, "uses_prefix_tokens", False) and hasattr(encoder, "forward_with_tokens"):
        token_kwargs["encoder_prefix_tokens"] = int(getattr(encoder, "num_prefix_tokens", 0))
    decoder = _call_factory(
        "decoder",
        decoder_factory,
        encoder_channels=tuple(encoder.out_channels),
        encoder_reductions=tuple(encoder.reductions),
        **token_kwargs,
        **resolved.decoder_params,
    )
    check_decoder(decoder)

    head_spec = model_spec.segmentation_head
    if head_spec.upsampling is None:
        head_spec = head_spec.model_copy(update={"upsampling": decoder.reduction})
        model_spec = model_spec.model_copy(update={"segmentation_head": head_spec})
    segmentation_head = SegmentationHead(
        decoder.out_channels,
        head_spec.classes,
        kernel_size=head_spec.kernel_size or 3,
        upsampling=head_spec.upsampling or 1,
        activation=head_spec.activation,
    )
    classification_head = None
    if model_spec.classification_head is not None:
        cls = model_spec.classification_head
        classification_head = ClassificationHead(
            encoder.out_channels[-1], cls.classes, pooling=cls.pooling, dropout=cls.dropout, activation=cls.activation
        )
    model = SegmentationModel(encoder, decoder, segmentation_head, classification_head, spec=model_spec)
    if enc.checkpointing or model_spec.decoder.checkpointing:
        model.set_grad_checkpointing(encoder=enc.checkpointing, decoder=model_spec.decoder.checkpointing)
    return model


def preprocessing_params(encoder_name: str, weights: str = "imagenet", *, provider: str | None = None) -> dict[str, Any]:
    """How to normalise inputs for an encoder's pretrained weights, as smp's
    ``get_preprocessing_params`` gives it: ``mean``, ``std``, ``input_range``, ``input_space``."""
    entry = get_hub().encoder(encoder_name, provider)
    table = entry.weights_table()
    if weights not in table:
        available = ", ".join(sorted(table)) or "none"
        raise WeightsError(f"encoder {encoder_name!r} has no weights {weights!r}; available: {available}")
    return table[weights].preprocessing.as_dict()
