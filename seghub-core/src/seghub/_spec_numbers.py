"""The spec's number types: strict, and bounded by what can be built.

Integer fields take integers only: not booleans (``true`` is not one input channel), strings
(``"3"``) or floats. JSON's ``3.0`` is refused too, although JSON Schema counts it as an
integer: a spec then means the same from Python as from a file, and ``channels / 2`` is
reported instead of accepted. Float fields take numbers, not booleans or strings; flags take
booleans only.

The upper bounds are far above any real model and below what PyTorch cannot allocate or even
represent (``classes: 10**30`` overflowed, ``2**31`` classification classes asked for 4 TB), so
such values are located spec errors instead of crashes inside torch.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool
from pydantic_core import PydanticCustomError

__all__ = [
    "MAX_CHANNELS",
    "MAX_UPSAMPLING",
    "MAX_KERNEL_SIZE",
    "Channels",
    "Depth",
    "OutputStride",
    "Upsampling",
    "KernelSize",
    "Probability",
    "Flag",
    "SpecVersion",
]

MAX_CHANNELS = 2**16
"""Largest ``in_channels`` and number of classes (a class count of 65536 is already a 16 GB mask
per 256x256 image in float32)."""
MAX_UPSAMPLING = 256
"""Largest upsampling factor of the segmentation head (decoders output at reduction 32 or less)."""
MAX_KERNEL_SIZE = 63
"""Largest kernel of the segmentation head's convolution."""


def _integer_only(value: Any) -> Any:
    """Let only true integers reach an ``int`` literal, which would take ``True`` or ``16.0``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Channels = Annotated[int, Field(strict=True, ge=1, le=MAX_CHANNELS)]
Depth = Annotated[int, Field(strict=True, ge=1, le=5)]
OutputStride = Annotated[Literal[8, 16, 32], BeforeValidator(_integer_only)]
Upsampling = Annotated[int, Field(strict=True, ge=1, le=MAX_UPSAMPLING)]
KernelSize = Annotated[int, Field(strict=True, ge=1, le=MAX_KERNEL_SIZE)]
Probability = Annotated[float, Field(strict=True, ge=0.0, lt=1.0)]
"""A probability below one (dropout): a number, not a boolean or a string."""
Flag = StrictBool
SpecVersion = Annotated[Literal[1], BeforeValidator(_integer_only)]
