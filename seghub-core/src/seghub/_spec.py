"""The model spec (version 1): what ``build_model`` accepts, as pydantic v2 models.

Validation of the spec itself happens here; the chosen plugins' own ``params`` are validated in
a second pass by the builder, with error locations rooted in the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from .errors import SpecError, SpecIssue

__all__ = [
    "SPEC_VERSION",
    "ACTIVATION_NAMES",
    "EncoderSpec",
    "DecoderSpec",
    "SegmentationHeadSpec",
    "ClassificationHeadSpec",
    "ModelSpec",
    "model_schema",
    "check_version",
]

SPEC_VERSION = 1

ACTIVATION_NAMES = (
    "identity", "sigmoid", "softmax", "softmax2d", "logsoftmax", "tanh", "argmax", "argmax2d",
)

Activation = Annotated[
    str | Callable[..., Any] | None,
    WithJsonSchema({"anyOf": [{"enum": list(ACTIVATION_NAMES)}, {"type": "null"}]}),
]
"""An activation name, a callable (Python only; not JSON-serialisable), or None."""


def _check_activation(value: Any) -> Any:
    if isinstance(value, str) and value not in ACTIVATION_NAMES:
        raise ValueError(f"unknown activation {value!r}; use one of {', '.join(ACTIVATION_NAMES)}, null or a callable")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class EncoderSpec(_Strict):
    """Which encoder to build and how."""

    name: str = Field(min_length=1, description="Encoder name, e.g. 'resnet34' or 'timm:convnext_tiny'.")
    provider: str | None = Field(None, description="Plugin (entry point or distribution) to take the name from, when several offer it.")
    weights: str | None = Field(None, description="Pretrained weights tag ('imagenet', ...), a local .safetensors path, or null.")
    in_channels: int = Field(3, ge=1, description="Input channels.")
    depth: int = Field(5, ge=1, le=5, description="Downsampling stages used; features go down to reduction 2**depth.")
    output_stride: Literal[8, 16, 32] = Field(32, description="Total stride of the last feature; 8 and 16 use dilation.")
    params: dict[str, Any] = Field(default_factory=dict, description="Encoder-specific options, validated by the plugin.")
    checkpointing: bool = Field(False, description="Activation checkpointing in training: less memory, more compute, same results.")


class DecoderSpec(_Strict):
    """Which decoder to build and how."""

    name: str = Field(min_length=1, description="Decoder name (case-insensitive), e.g. 'unet'.")
    provider: str | None = Field(None, description="Plugin to take the name from, when several offer it.")
    params: dict[str, Any] = Field(default_factory=dict, description="Decoder-specific options, validated by the plugin.")
    checkpointing: bool = Field(False, description="Activation checkpointing in training: less memory, more compute, same results.")


class SegmentationHeadSpec(_Strict):
    """The head that turns decoder output into the mask; null fields take the decoder's defaults."""

    classes: int = Field(1, ge=1, description="Output mask channels.")
    activation: Activation = Field(None, description="Applied to the mask.")
    upsampling: int | None = Field(None, ge=1, description="Upsampling factor after the conv; null: the decoder's output reduction.")
    kernel_size: int | None = Field(None, ge=1, description="Conv kernel size; null: the decoder's default.")

    _activation = field_validator("activation")(_check_activation)

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int | None) -> int | None:
        if value is not None and value % 2 == 0:
            raise ValueError(f"kernel_size must be odd so the mask keeps its size, got {value}")
        return value


class ClassificationHeadSpec(_Strict):
    """An image-level classifier on the last encoder feature: pool, dropout, linear, activation."""

    classes: int = Field(ge=1, description="Number of labels.")
    pooling: Literal["avg", "max"] = "avg"
    dropout: float | None = Field(None, ge=0.0, lt=1.0)
    activation: Activation = None

    _activation = field_validator("activation")(_check_activation)


class ModelSpec(_Strict):
    """A complete model: encoder, decoder, segmentation head and optional classification head."""

    version: Literal[1] = Field(SPEC_VERSION, description="Spec format version.")
    encoder: EncoderSpec
    decoder: DecoderSpec
    segmentation_head: SegmentationHeadSpec = Field(default_factory=SegmentationHeadSpec)
    classification_head: ClassificationHeadSpec | None = None


def model_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`ModelSpec`."""
    return ModelSpec.model_json_schema()


def check_version(data: Any) -> None:
    """Refuse, before validating it, a spec written for a newer seghub (its ``version`` field)."""
    if isinstance(data, Mapping):
        version = data.get("version", SPEC_VERSION)
        if isinstance(version, int) and not isinstance(version, bool) and version > SPEC_VERSION:
            raise SpecError([SpecIssue(("version",), (
                f"spec version {version} is newer than this seghub understands ({SPEC_VERSION}); upgrade seghub-core"
            ))])
