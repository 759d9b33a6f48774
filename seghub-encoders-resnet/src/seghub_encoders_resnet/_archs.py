"""The eleven architectures this plugin offers, as plain data (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ResNetArch", "ARCHS", "ENCODER_NAMES"]


@dataclass(frozen=True)
class ResNetArch:
    """Shape of one ResNet/ResNeXt.

    ``layers`` counts the residual blocks of ``layer1``..``layer4``; a bottleneck's inner width
    in stage ``i`` is ``int(64 * 2**i * width_per_group / 64) * groups``.
    """

    block: Literal["basic", "bottleneck"]
    layers: tuple[int, int, int, int]
    groups: int = 1
    width_per_group: int = 64
    description: str = ""

    @property
    def expansion(self) -> int:
        """Output channels of a block divided by its ``planes``."""
        return 1 if self.block == "basic" else 4

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of the stem and of ``layer1``..``layer4``."""
        return (64, *(64 * 2**i * self.expansion for i in range(4)))


_DEEP = (3, 4, 23, 3)

ARCHS: dict[str, ResNetArch] = {
    "resnet18": ResNetArch("basic", (2, 2, 2, 2), description="ResNet-18"),
    "resnet34": ResNetArch("basic", (3, 4, 6, 3), description="ResNet-34"),
    "resnet50": ResNetArch("bottleneck", (3, 4, 6, 3), description="ResNet-50"),
    "resnet101": ResNetArch("bottleneck", _DEEP, description="ResNet-101"),
    "resnet152": ResNetArch("bottleneck", (3, 8, 36, 3), description="ResNet-152"),
    "resnext50_32x4d": ResNetArch("bottleneck", (3, 4, 6, 3), 32, 4, "ResNeXt-50 32x4d"),
    "resnext101_32x4d": ResNetArch("bottleneck", _DEEP, 32, 4, "ResNeXt-101 32x4d"),
    "resnext101_32x8d": ResNetArch("bottleneck", _DEEP, 32, 8, "ResNeXt-101 32x8d"),
    "resnext101_32x16d": ResNetArch("bottleneck", _DEEP, 32, 16, "ResNeXt-101 32x16d"),
    "resnext101_32x32d": ResNetArch("bottleneck", _DEEP, 32, 32, "ResNeXt-101 32x32d"),
    "resnext101_32x48d": ResNetArch("bottleneck", _DEEP, 32, 48, "ResNeXt-101 32x48d"),
}

ENCODER_NAMES: tuple[str, ...] = tuple(ARCHS)
