"""The ``encoder.params`` model of ``timm:`` encoders (imports neither timm nor torch)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["TimmParams", "RESERVED_KWARGS", "check_reserved"]

RESERVED_KWARGS: dict[str, str] = {
    "in_chans": "set encoder.in_channels instead",
    "pretrained": "set encoder.weights instead",
    "pretrained_cfg": "set encoder.weights (or a tag in the name, timm:<model>.<tag>) instead",
    "pretrained_cfg_overlay": "set encoder.weights to a .safetensors path instead",
    "checkpoint_path": "set encoder.weights to a .safetensors path instead",
    "features_only": "seghub always builds a feature extractor",
    "feature_cls": "seghub picks the feature extraction itself",
    "out_indices": "set encoder.depth (or encoder.params.output_indices for plain ViTs) instead",
    "output_stride": "set encoder.output_stride instead",
    "num_classes": "an encoder has no classifier",
}
"""timm keyword arguments that seghub sets itself, with what to use instead."""


def check_reserved(kwargs: dict[str, Any]) -> None:
    """Raise ``ValueError`` when ``kwargs`` holds a timm argument that seghub owns."""
    clashes = [f"{key!r} ({RESERVED_KWARGS[key]})" for key in kwargs if key in RESERVED_KWARGS]
    if clashes:
        raise ValueError("these timm arguments cannot be passed in encoder.params: " + "; ".join(clashes))


class TimmParams(BaseModel):
    """Params of a ``timm:`` encoder.

    Any extra key is a keyword argument for ``timm.create_model`` (``drop_path_rate``,
    ``img_size``, ``dynamic_img_size``, ...), except the ones seghub sets itself.
    """

    model_config = ConfigDict(extra="allow")

    output_indices: list[int] | None = None
    """Plain ViTs only: the blocks whose outputs become the features (smp's
    ``encoder_output_indices``); one per ``depth``, negative counts from the end. Default:
    ``depth`` blocks spread evenly, the last block included."""

    @model_validator(mode="after")
    def _no_reserved(self) -> TimmParams:
        check_reserved(dict(self.model_extra or {}))
        return self
