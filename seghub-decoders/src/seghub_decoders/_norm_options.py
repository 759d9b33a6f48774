"""What ``decoder_use_norm`` accepts, and its pydantic field type (smp 0.6's semantics; no torch).

Everything is checked when the spec is: the name, the dict form's layer options (each type's
own keys, strict types, ``eps >= 0``, a momentum in [0, 1]; no ``device`` or ``dtype``, which
follow the model) and, for ``"inplace"``, that the inplace_abn package is installed. A value that
passes builds its layer.
"""

from __future__ import annotations

import difflib
import importlib.util
from reprlib import repr as short_repr
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictBool, ValidationError, WithJsonSchema

__all__ = ["NORM_TYPES", "NormOption", "norm_config", "inplace_abn_installed"]

NORM_TYPES: tuple[str, ...] = ("batchnorm", "identity", "layernorm", "instancenorm", "inplace")
"""Normalisation names ``decoder_use_norm`` accepts (as a string or a dict's ``"type"``)."""

_INPLACE_DEFAULTS: dict[str, Any] = {"activation": "leaky_relu", "activation_param": 0.0}
_FOLLOW_THE_MODEL = ("device", "dtype")

Eps = Annotated[float, Field(strict=True, ge=0.0, allow_inf_nan=False, description="Added to the variance.")]
Momentum = Annotated[float, Field(strict=True, ge=0.0, le=1.0, description="Running statistics' update rate.")]


class _Options(BaseModel):
    """The layer options a dict may give; the defaults are the layers' own."""

    model_config = ConfigDict(extra="forbid")


class _BatchNormOptions(_Options):  # torch.nn.BatchNorm2d
    eps: Eps = 1e-5
    momentum: Momentum | None = 0.1
    affine: StrictBool = True
    track_running_stats: StrictBool = True
    bias: StrictBool = True


class _InstanceNormOptions(_Options):  # torch.nn.InstanceNorm2d
    eps: Eps = 1e-5
    momentum: Momentum = 0.1
    affine: StrictBool = False
    track_running_stats: StrictBool = False
    bias: StrictBool = True


class _LayerNormOptions(_Options):  # seghub_decoders._norms.LayerNorm2d (torch.nn.LayerNorm's options)
    eps: Eps = 1e-5
    elementwise_affine: StrictBool = True
    bias: StrictBool = True


class _InplaceOptions(_Options):  # inplace_abn.InPlaceABN
    eps: Eps = 1e-5
    momentum: Momentum = 0.1
    affine: StrictBool = True
    activation: Literal["leaky_relu", "elu", "identity"] = "leaky_relu"
    activation_param: Annotated[float, Field(strict=True, allow_inf_nan=False)] = 0.0


_OPTIONS: dict[str, type[_Options]] = {
    "batchnorm": _BatchNormOptions,
    "identity": _Options,
    "layernorm": _LayerNormOptions,
    "instancenorm": _InstanceNormOptions,
    "inplace": _InplaceOptions,
}


def inplace_abn_installed() -> bool:
    """Whether the inplace_abn package can be imported (looked up, not imported: no torch here)."""
    return importlib.util.find_spec("inplace_abn") is not None


def _check_inplace(name: str) -> None:
    if name == "inplace" and not inplace_abn_installed():
        raise ValueError(
            "normalisation 'inplace' needs the inplace_abn package, which is not installed "
            "(pip install inplace_abn --no-build-isolation); or pick 'batchnorm'"
        )


def _options(name: str, given: dict[Any, Any]) -> dict[str, Any]:
    """``given`` (without ``type``) checked against the options of normalisation ``name``."""
    model = _OPTIONS[name]
    try:
        return model.model_validate(given).model_dump(exclude_unset=True)
    except ValidationError as exc:
        problems = [_problem(model, name, error) for error in exc.errors(include_url=False)]
    raise ValueError(f"normalisation {name!r}: invalid options: {'; '.join(problems)}")


def _problem(model: type[_Options], name: str, error: Any) -> str:
    key = short_repr(error["loc"][0]) if error["loc"] else "options"
    if error["type"] != "extra_forbidden":
        return f"{key}: {error['msg']} (got {short_repr(error['input'])})"
    if error["loc"][0] in _FOLLOW_THE_MODEL:
        return f"{key}: the layers' device and dtype follow the model's; remove it and use model.to(...)"
    allowed = ", ".join(model.model_fields) or "none"
    key_text = str(error["loc"][0])
    close = difflib.get_close_matches(key_text, list(model.model_fields), n=1) if len(key_text) < 100 else []
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{key}: unknown option of {name!r} (allowed: {allowed}).{hint}"


def norm_config(use_norm: bool | str | dict[str, Any]) -> dict[str, Any]:
    """Turn a ``decoder_use_norm`` value into ``{"type": name, **layer_kwargs}``.

    ``True`` is batchnorm, ``False`` identity, a string names a type (case-insensitive),
    a dict gives ``type`` plus keyword arguments for the layer, which are checked. Raises
    ``ValueError``, also for ``"inplace"`` without the inplace_abn package.
    """
    if use_norm is True:
        return {"type": "batchnorm"}
    if use_norm is False:
        return {"type": "identity"}
    if isinstance(use_norm, str):
        name = use_norm.lower()
        if name not in NORM_TYPES:
            raise ValueError(
                f"unknown normalisation {short_repr(use_norm)}; expected a bool, one of {NORM_TYPES}, or a dict with 'type'"
            )
        _check_inplace(name)
        return {"type": name, **(_INPLACE_DEFAULTS if name == "inplace" else {})}
    if isinstance(use_norm, dict):
        if "type" not in use_norm:
            raise ValueError(f"a normalisation dict needs a 'type' key (one of {NORM_TYPES}), got {short_repr(use_norm)}")
        name = use_norm["type"]
        if not isinstance(name, str) or name.lower() not in NORM_TYPES:
            raise ValueError(f"unknown normalisation type {short_repr(name)}; expected one of {NORM_TYPES}")
        name = name.lower()
        _check_inplace(name)
        return {"type": name, **_options(name, {k: v for k, v in use_norm.items() if k != "type"})}
    raise ValueError(
        f"normalisation must be a bool, one of {NORM_TYPES}, or a dict like {{'type': 'batchnorm', 'eps': 1e-3}}; "
        f"got {short_repr(use_norm)}"
    )


def _check_norm_option(value: bool | str | dict[str, Any]) -> bool | str | dict[str, Any]:
    config = norm_config(value)
    if isinstance(value, bool):
        return value
    return config["type"] if isinstance(value, str) else config


_NORM_DESCRIPTION = (
    "Normalisation between convolution and ReLU: true (batchnorm), false (none), one of "
    "'batchnorm', 'identity', 'layernorm', 'instancenorm', 'inplace' (needs the inplace_abn package), "
    "or a dict {'type': <name>, **layer options}: eps, momentum, affine, track_running_stats, bias "
    "(batchnorm, instancenorm); eps, elementwise_affine, bias (layernorm); eps, momentum, affine, "
    "activation, activation_param (inplace)."
)

NormOption = Annotated[
    bool | str | dict[str, Any],
    PlainValidator(_check_norm_option),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "enum": list(NORM_TYPES)},
                {
                    "type": "object",
                    "properties": {"type": {"type": "string", "enum": list(NORM_TYPES)}},
                    "required": ["type"],
                    "additionalProperties": True,
                },
            ],
            "description": _NORM_DESCRIPTION,
        }
    ),
]
"""pydantic type of a ``decoder_use_norm`` field (strings are stored lower-case)."""
