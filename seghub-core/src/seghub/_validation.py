"""Validating a spec in two passes: the spec's own structure, then each chosen plugin's params.

Pass one checks the spec against :class:`~seghub.ModelSpec`; pass two looks the names up in the
plugin hub and checks each ``params`` with that plugin's own pydantic model (through the
registry entry, the same path the conformance kit takes), with locations rooted in the spec
(``decoder.params.decoder_channels``). What the decoder declares it accepts of the encoder's
settings (its output strides) is checked here too, before anything is built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._pydantic_issues import issues_from
from ._spec import ModelSpec, check_version
from .errors import PluginConflictError, SpecError, SpecIssue, UnknownNameError
from .plugins import DecoderEntry, EncoderEntry, get_hub

__all__ = ["SpecLike", "ResolvedSpec", "load_spec", "validate_spec"]

SpecLike = ModelSpec | Mapping[str, Any] | str | os.PathLike[str]


@dataclass(frozen=True)
class ResolvedSpec:
    """A validated spec with the plugin entries it names and their validated params."""

    spec: ModelSpec
    encoder: EncoderEntry
    decoder: DecoderEntry
    encoder_params: dict[str, Any]
    decoder_params: dict[str, Any]


def load_spec(spec: SpecLike) -> Any:
    """The spec as plain data: a :class:`ModelSpec` dumped, a JSON file read, a mapping as it is."""
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


def _validated_params(entry: EncoderEntry | DecoderEntry, params: dict[str, Any]) -> tuple[dict[str, Any], list[SpecIssue]]:
    try:
        return entry.validate_params(params), []
    except SpecError as exc:
        return {}, list(exc.issues)


def validate_spec(spec: SpecLike) -> ResolvedSpec:
    """Validate a spec (dict, :class:`ModelSpec` or JSON path) against the spec and the plugins.

    Raises :class:`~seghub.SpecError` listing every problem with its location, or
    :class:`~seghub.UnknownNameError` / :class:`~seghub.PluginConflictError` for names.
    """
    data = load_spec(spec)
    check_version(data)
    try:
        model_spec = ModelSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(issues_from(exc, model=ModelSpec)) from None

    hub = get_hub()
    encoder = _lookup(hub.encoder, "encoder", model_spec.encoder.name, model_spec.encoder.provider)
    decoder = _lookup(hub.decoder, "decoder", model_spec.decoder.name, model_spec.decoder.provider)

    unset = {k: v for k, v in decoder.encoder_defaults.items() if k not in model_spec.encoder.model_fields_set}
    encoder_spec = model_spec.encoder.model_copy(update={"name": encoder.name, **unset})
    try:  # the decoder's encoder defaults go through the spec's own field checks too
        encoder_spec = type(encoder_spec).model_validate(encoder_spec.model_dump())
    except ValidationError as exc:
        raise SpecError(issues_from(exc, ("encoder",))) from None

    encoder_params, problems = _validated_params(encoder, encoder_spec.params)
    decoder_params, more = _validated_params(decoder, model_spec.decoder.params)
    stride_problem = decoder.constraints.output_stride_problem(encoder_spec.output_stride)
    if stride_problem:
        more.append(SpecIssue(("encoder", "output_stride"), f"decoder {decoder.name!r} {stride_problem}"))
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
