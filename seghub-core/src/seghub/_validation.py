"""Validating a spec in two passes: the spec's own structure, then each chosen plugin's params.

Pass one checks the spec against :class:`~seghub.ModelSpec`; pass two looks the names up in the
plugin hub and checks each ``params`` with that plugin's own pydantic model (through the
registry entry, the same path the conformance kit takes), with locations rooted in the spec
(``decoder.params.decoder_channels``). What the decoder declares it accepts of the encoder's
settings (its output strides) is checked here too, before anything is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from ._excerpt import excerpt, shorten
from ._json_input import JSONInputError, nesting_problem, read_json_file
from ._pydantic_issues import issues_from
from ._spec import ModelSpec, check_version
from .errors import PluginConflictError, SpecError, SpecIssue, UnknownNameError
from .plugins import DecoderEntry, EncoderEntry, NeckEntry, get_hub

__all__ = ["SpecLike", "ResolvedSpec", "load_spec", "validate_spec"]

SpecLike = ModelSpec | Mapping[str, Any] | str | os.PathLike[str]


NeckChoice = Literal["auto", "none", "given"]


@dataclass(frozen=True)
class ResolvedSpec:
    """A validated spec with the plugin entries it names and their validated params.

    ``neck_choice``: ``"given"`` when the spec names a neck (``neck``, ``neck_params``),
    ``"none"`` for an explicit null, ``"auto"`` when the spec leaves it out (the builder picks).
    ``preferred``: the encoder fields the decoder's preferences filled in, not the spec.
    """

    spec: ModelSpec
    encoder: EncoderEntry
    decoder: DecoderEntry
    encoder_params: dict[str, Any]
    decoder_params: dict[str, Any]
    neck_choice: NeckChoice = "none"
    neck: NeckEntry | None = None
    neck_params: dict[str, Any] | None = None
    preferred: frozenset[str] = frozenset()


def load_spec(spec: SpecLike) -> Any:
    """The spec as plain data: a :class:`ModelSpec` dumped, a JSON file read, a mapping as it is.

    A file that cannot be read, is not UTF-8 JSON, or data nested deeper than any spec (or
    containing itself) raise :class:`SpecError`."""
    if isinstance(spec, ModelSpec):
        data = spec.model_dump()
        if "neck" not in spec.model_fields_set:
            del data["neck"]  # left out, not null: the builder still picks
        return data
    if isinstance(spec, (str, os.PathLike)):
        where = excerpt(os.fspath(spec))
        try:
            return read_json_file(spec)
        except JSONInputError as exc:
            raise SpecError([SpecIssue((), f"spec file {where} is {exc}")]) from None
        except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
            reason = getattr(exc, "strerror", None) or str(exc)
            raise SpecError([SpecIssue((), f"cannot read spec file {where}: {shorten(reason)}")]) from None
    problem = nesting_problem(spec)
    if problem:
        raise SpecError([SpecIssue((), f"the spec is {problem}")])
    return spec


def _lookup(find: Any, kind: str, name: str, provider: str | None) -> Any:
    try:
        return find(name, provider)
    except (UnknownNameError, PluginConflictError) as exc:
        raise type(exc)(f"{kind}.name: {shorten(str(exc), 2000)}") from None


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
    neck, neck_params = None, None
    if model_spec.neck is not None:
        neck = _lookup(hub.neck, "neck", model_spec.neck.name, model_spec.neck.provider)
        neck_params, neck_problems = _validated_params(neck, model_spec.neck.params)
        more += neck_problems
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
    update: dict[str, Any] = {
        "encoder": encoder_spec.model_copy(update={"params": _jsonable(encoder_params)}),
        "decoder": model_spec.decoder.model_copy(update={"name": decoder.name, "params": _jsonable(decoder_params)}),
        "segmentation_head": head,
    }
    if neck is not None and model_spec.neck is not None:
        update["neck"] = model_spec.neck.model_copy(update={"name": neck.name, "params": _jsonable(neck_params or {})})
    choice: NeckChoice = "auto" if "neck" not in model_spec.model_fields_set else ("none" if neck is None else "given")
    return ResolvedSpec(
        model_spec.model_copy(update=update), encoder, decoder, encoder_params, decoder_params,
        neck_choice=choice, neck=neck, neck_params=neck_params, preferred=frozenset(unset),
    )
