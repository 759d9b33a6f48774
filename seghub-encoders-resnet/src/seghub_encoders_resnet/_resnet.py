"""ResNet and ResNeXt encoders in plain PyTorch, with torchvision-compatible module names.

The parameter names follow torchvision's ``ResNet`` (``conv1``, ``bn1``, ``layer1``..``layer4``,
blocks with ``conv1``/``bn1``/``conv2``/``bn2``[/``conv3``/``bn3``]/``downsample.0``/
``downsample.1``), so an ImageNet checkpoint in that layout loads once its ``fc.*`` keys are
dropped. Stages beyond ``depth`` are never built.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from seghub.checkpointing import GradCheckpointing
from seghub.errors import WeightsError
from seghub.weights import adapt_input_conv

from ._archs import ResNetArch

__all__ = ["BasicBlock", "Bottleneck", "ResNetEncoder", "stage_dilations"]


def _conv3x3(in_ch: int, out_ch: int, stride: int, dilation: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        in_ch, out_ch, 3, stride=stride, padding=dilation, dilation=dilation, groups=groups, bias=False
    )


def _conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions plus a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self, in_ch: int, planes: int, *, stride: int = 1, dilation: int = 1,
        downsample: nn.Module | None = None, groups: int = 1, width_per_group: int = 64,
    ) -> None:
        super().__init__()
        if groups != 1 or width_per_group != 64:
            raise ValueError("BasicBlock supports only groups=1 and width_per_group=64")
        self.conv1 = _conv3x3(in_ch, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y += shortcut  # in place: batch norm keeps its input for backward, not its output
        return self.relu(y)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt, strided), 1x1 expand, plus a shortcut."""

    expansion = 4

    def __init__(
        self, in_ch: int, planes: int, *, stride: int = 1, dilation: int = 1,
        downsample: nn.Module | None = None, groups: int = 1, width_per_group: int = 64,
    ) -> None:
        super().__init__()
        width = int(planes * width_per_group / 64) * groups
        self.conv1 = _conv1x1(in_ch, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride, dilation, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        y += shortcut  # in place: batch norm keeps its input for backward, not its output
        return self.relu(y)


def _max_pool(pool: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor:
    """``pool(x)``, through a channels-last copy when that is faster and gives the same result.

    PyTorch's CPU max pooling is about four times faster on channels-last tensors (measured at
    1..4 x 64 x 128 x 128, the stem's size; it was 7 % of a ResNet-34 PAN forward). The copy
    pays off without autograd; with autograd recording, the backward of the round trip costs
    more than it saves, so training takes the direct path.
    """
    recording = torch.is_grad_enabled() and x.requires_grad
    if x.device.type != "cpu" or recording or x.is_contiguous(memory_format=torch.channels_last):
        return pool(x)
    return pool(x.contiguous(memory_format=torch.channels_last)).contiguous()


def stage_dilations(output_stride: int) -> tuple[int, int, int, int]:
    """Dilation of ``layer1``..``layer4`` for an output stride of 32, 16 or 8.

    A dilated stage runs at stride 1 and dilates every 3x3 convolution it holds by the factor
    its stride would have reduced the map, as segmentation_models_pytorch does.
    """
    if output_stride == 32:
        return (1, 1, 1, 1)
    if output_stride == 16:
        return (1, 1, 1, 2)
    if output_stride == 8:
        return (1, 1, 2, 4)
    raise ValueError(f"output_stride must be one of 8, 16, 32; got {output_stride!r}")


class ResNetEncoder(GradCheckpointing, nn.Module):
    """A ResNet/ResNeXt trunk returning the maps of the stem and of each built stage.

    Args:
        arch: The architecture (see ``ARCHS``).
        in_channels: Channels of the input image.
        depth: How many maps to return, 1..5: the stem (reduction 2), then ``layer1`` (4),
            ``layer2`` (8), ``layer3`` (16), ``layer4`` (32). Later stages are not built.
        output_stride: 32, 16 or 8; below 32 the last stages are dilated instead of strided.
        name: The encoder name, kept for messages.

    ``set_grad_checkpointing(True)`` checkpoints the stem and each residual block in training:
    only block outputs are kept, which saves more than whole stages would (a stage recomputed at
    once holds all its blocks' activations again).
    """

    def __init__(
        self, arch: ResNetArch, *, in_channels: int = 3, depth: int = 5,
        output_stride: int = 32, name: str = "",
    ) -> None:
        super().__init__()
        if not 1 <= depth <= 5:
            raise ValueError(f"depth must be between 1 and 5; got {depth!r}")
        dilations = stage_dilations(output_stride)
        self.name = name
        self.arch = arch
        self.depth = depth
        self.output_stride = output_stride
        self.in_channels = in_channels

        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        if depth >= 2:
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)

        block = BasicBlock if arch.block == "basic" else Bottleneck
        self._stage_names: tuple[str, ...] = tuple(f"layer{i + 1}" for i in range(depth - 1))
        channels = 64
        reduction = 2
        reductions = [reduction]
        for i, stage in enumerate(self._stage_names):
            stride = 1 if i == 0 else 2
            dilation = dilations[i]
            module = self._make_stage(block, channels, 64 * 2**i, arch.layers[i], stride, dilation)
            self.add_module(stage, module)
            channels = 64 * 2**i * block.expansion
            if i == 0:
                reduction *= 2  # the max pool before layer1
            elif dilation == 1:
                reduction *= stride
            reductions.append(reduction)

        self.out_channels: tuple[int, ...] = arch.out_channels[:depth]
        self.reductions: tuple[int, ...] = tuple(reductions)
        self.reset_parameters()

    def _make_stage(
        self, block: type[BasicBlock] | type[Bottleneck], in_ch: int, planes: int,
        blocks: int, stride: int, dilation: int,
    ) -> nn.Sequential:
        out_ch = planes * block.expansion
        # decided on the undilated stride, so dilation never changes the parameters
        needs_projection = stride != 1 or in_ch != out_ch
        if dilation > 1:
            stride = 1
        downsample = None
        if needs_projection:
            downsample = nn.Sequential(_conv1x1(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch))
        kwargs = {"groups": self.arch.groups, "width_per_group": self.arch.width_per_group}
        layers = [block(in_ch, planes, stride=stride, dilation=dilation, downsample=downsample, **kwargs)]
        layers += [block(out_ch, planes, dilation=dilation, **kwargs) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def reset_parameters(self, *, convolutions: bool = True) -> None:
        """Initialise as torchvision does: He-normal (fan-out) convolutions, unit batch norms.

        Batch-norm running statistics are reset too. ``convolutions=False`` leaves the
        convolution kernels as they are (they are about to be overwritten by a checkpoint).
        Tensors on the meta device hold no values and are left alone.
        """
        if self.conv1.weight.device.type == "meta":
            return
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and convolutions:
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the feature maps, fine to coarse (not the input itself)."""
        x = self.checkpointed(self._stem, x)
        features = [x]
        for i, stage in enumerate(self._stage_names):
            if i == 0:
                x = _max_pool(self.maxpool, x)
            for block in getattr(self, stage):
                x = self.checkpointed(block, x)
            features.append(x)
        return features

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn1(self.conv1(x)))

    def _drop_unbuilt(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The checkpoint without classifier keys and keys of stages beyond ``depth``."""
        unbuilt = ("fc.", *(f"layer{i}." for i in range(self.depth, 5)))
        return {key: value for key, value in state_dict.items() if not key.startswith(unbuilt)}

    def smp_state_dict_to_seghub(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """smp's encoder keeps the stages a shallow model never runs; drop them (seghub.compat.smp)."""
        return self._drop_unbuilt(state_dict)

    def load_pretrained(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load a checkpoint in torchvision's ResNet key layout, strictly.

        Classifier keys (``fc.*``) and the keys of stages this encoder did not build (depth
        below 5) are dropped; the first convolution is adapted to ``in_channels`` with
        :func:`seghub.weights.adapt_input_conv`. Every other key must match exactly: a
        missing, unexpected or misshapen tensor raises :class:`~seghub.errors.WeightsError`.
        """
        kept = self._drop_unbuilt(state_dict)
        conv1 = kept.get("conv1.weight")
        if conv1 is not None and conv1.ndim == 4 and conv1.shape[1] != self.in_channels:
            kept["conv1.weight"] = adapt_input_conv(conv1, self.in_channels)
        try:
            self.load_state_dict(kept, strict=True)
        except RuntimeError as exc:
            raise WeightsError(
                f"the checkpoint does not fit encoder {self.name or self.arch.description!r}: {exc}"
            ) from exc
