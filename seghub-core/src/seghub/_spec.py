"""The model spec (version 1): what ``build_model`` accepts, as pydantic v2 models.

Validation of the spec itself happens here; the chosen plugins' own ``params`` are validated in
a second pass by the builder, with error locations rooted in the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from ._excerpt import excerpt
from ._spec_numbers import Channels, Depth, Flag, KernelSize, OutputStride, Probability, SpecVersion, Upsampling
from .errors import SpecError, SpecIssue

__all__ = [
    "SPEC_VERSION",
    "ACTIVATION_NAMES",
    "EncoderSpec",
    "DecoderSpec",
    "NeckSpec",
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
        raise ValueError(f"unknown activation {excerpt(value)}; use one of {', '.join(ACTIVATION_NAMES)}, null or a callable")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class EncoderSpec(_Strict):
    """Which encoder to build and how."""

    name: str = Field(min_length=1, description="Encoder name, e.g. 'resnet34' or 'timm:convnext_tiny'.")
    provider: str | None = Field(None, description="Plugin (entry point or distribution) to take the name from, when several offer it.")
    weights: str | None = Field(None, description="Pretrained weights tag ('imagenet', ...), a local .safetensors path, or null.")
    in_channels: Channels = Field(3, description="Input channels.")
    depth: Depth = Field(5, description="Downsampling stages used; features go down to reduction 2**depth.")
    output_stride: OutputStride = Field(32, description="Total stride of the last feature; 8 and 16 use dilation.")
    params: dict[str, Any] = Field(default_factory=dict, description="Encoder-specific options, validated by the plugin.")
    checkpointing: Flag = Field(False, description="Activation checkpointing in training: less memory, more compute, same results.")


class NeckSpec(_Strict):
    """Which neck to put between encoder and decoder: a part that maps the encoder's features to
    ones the decoder can use (a plain ViT's single reduction to a pyramid)."""

    name: str = Field(min_length=1, description="Neck name, e.g. 'simple_pyramid'.")
    provider: str | None = Field(None, description="Plugin to take the name from, when several offer it.")
    params: dict[str, Any] = Field(default_factory=dict, description="Neck-specific options, validated by the plugin.")


class DecoderSpec(_Strict):
    """Which decoder to build and how."""

    name: str = Field(min_length=1, description="Decoder name (case-insensitive), e.g. 'unet'.")
    provider: str | None = Field(None, description="Plugin to take the name from, when several offer it.")
    params: dict[str, Any] = Field(default_factory=dict, description="Decoder-specific options, validated by the plugin.")
    checkpointing: Flag = Field(False, description="Activation checkpointing in training: less memory, more compute, same results.")


class SegmentationHeadSpec(_Strict):
    """The head that turns decoder output into the mask; null fields take the decoder's defaults."""

    classes: Channels = Field(1, description="Output mask channels.")
    activation: Activation = Field(None, description="Applied to the mask.")
    upsampling: Upsampling | None = Field(None, description="Upsampling factor after the conv; null: the decoder's output reduction.")
    kernel_size: KernelSize | None = Field(None, description="Conv kernel size; null: the decoder's default.")

    _activation = field_validator("activation")(_check_activation)

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int | None) -> int | None:
        if value is not None and value % 2 == 0:
            raise ValueError(f"kernel_size must be odd so the mask keeps its size, got {value}")
        return value


class ClassificationHeadSpec(_Strict):
    """An image-level classifier on the last encoder feature: pool, dropout, linear, activation."""

    classes: Channels = Field(description="Number of labels.")
    pooling: Literal["avg", "max"] = "avg"
    dropout: Probability | None = None
    activation: Activation = None

    _activation = field_validator("activation")(_check_activation)


class ModelSpec(_Strict):
    """A complete model: encoder, decoder, segmentation head and optional classification head."""

    version: SpecVersion = Field(SPEC_VERSION, description="Spec format version.")
    encoder: EncoderSpec
    neck: NeckSpec | None = Field(
        None,
        description=(
            "A part between encoder and decoder. Left out: the builder picks a registered neck when the "
            "decoder cannot use the encoder's features, and records its choice here; null: no neck."
        ),
    )
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
                f"spec version {excerpt(version)} is newer than this seghub understands ({SPEC_VERSION}); upgrade seghub-core"
            ))])
