"""What ``decoder_use_norm`` accepts, and its pydantic field type (smp 0.6's semantics; no torch)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

__all__ = ["NORM_TYPES", "NormOption", "norm_config"]

NORM_TYPES: tuple[str, ...] = ("batchnorm", "identity", "layernorm", "instancenorm", "inplace")
"""Normalisation names ``decoder_use_norm`` accepts (as a string or a dict's ``"type"``)."""

_INPLACE_DEFAULTS: dict[str, Any] = {"activation": "leaky_relu", "activation_param": 0.0}


def norm_config(use_norm: bool | str | dict[str, Any]) -> dict[str, Any]:
    """Turn a ``decoder_use_norm`` value into ``{"type": name, **layer_kwargs}``.

    ``True`` is batchnorm, ``False`` identity, a string names a type (case-insensitive),
    a dict gives ``type`` plus keyword arguments for the layer. Raises ``ValueError``.
    """
    if use_norm is True:
        return {"type": "batchnorm"}
    if use_norm is False:
        return {"type": "identity"}
    if isinstance(use_norm, str):
        name = use_norm.lower()
        if name not in NORM_TYPES:
            raise ValueError(f"unknown normalisation {use_norm!r}; expected a bool, one of {NORM_TYPES}, or a dict with 'type'")
        return {"type": name, **(_INPLACE_DEFAULTS if name == "inplace" else {})}
    if isinstance(use_norm, dict):
        if "type" not in use_norm:
            raise ValueError(f"a normalisation dict needs a 'type' key (one of {NORM_TYPES}), got {use_norm!r}")
        name = use_norm["type"]
        if not isinstance(name, str) or name.lower() not in NORM_TYPES:
            raise ValueError(f"unknown normalisation type {name!r}; expected one of {NORM_TYPES}")
        return {**use_norm, "type": name.lower()}
    raise ValueError(
        f"normalisation must be a bool, one of {NORM_TYPES}, or a dict like {{'type': 'batchnorm', 'eps': 1e-3}}; "
        f"got {use_norm!r}"
    )


def _check_norm_option(value: bool | str | dict[str, Any]) -> bool | str | dict[str, Any]:
    config = norm_config(value)
    if isinstance(value, bool):
        return value
    return config["type"] if isinstance(value, str) else config


_NORM_DESCRIPTION = (
    "Normalisation between convolution and ReLU: true (batchnorm), false (none), one of "
    "'batchnorm', 'identity', 'layernorm', 'instancenorm', 'inplace', or a dict "
    "{'type': <name>, **layer kwargs}."
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
