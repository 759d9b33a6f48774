"""Tiny encoder and decoder plugins for the core's tests (no real network needed)."""

from __future__ import annotations

import textwrap

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

import seghub
from seghub.weights import Preprocessing, PretrainedWeights


class ToyEncoderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(4, ge=1)


class ToyEncoder(nn.Module):
    """Strided conv stages with batch norm: reductions 2, 4, ... 2**depth."""

    def __init__(self, *, name: str, in_channels: int, depth: int, output_stride: int, weights: str | None, width: int = 4):
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"output_stride {output_stride} is not supported by {name}; use 32")
        self.name = name
        self.in_channels = in_channels
        self.out_channels = tuple(width * 2**i for i in range(depth))
        self.reductions = tuple(2 ** (i + 1) for i in range(depth))
        stages, channels = [], in_channels
        for out in self.out_channels:
            stages.append(nn.Sequential(nn.Conv2d(channels, out, 3, 2, 1), nn.BatchNorm2d(out), nn.ReLU()))
            channels = out
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class ToyDecoderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decoder_channels: int = Field(8, ge=1)


class ToyDecoder(nn.Module):
    """Upsamples the coarsest feature onto the finest and adds them."""

    def __init__(self, *, encoder_channels, encoder_reductions, decoder_channels: int = 8):
        super().__init__()
        self.out_channels = decoder_channels
        self.reduction = encoder_reductions[0]
        self.fine = nn.Conv2d(encoder_channels[0], decoder_channels, 1)
        self.coarse = nn.Conv2d(encoder_channels[-1], decoder_channels, 1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        fine = self.fine(features[0])
        coarse = nn.functional.interpolate(self.coarse(features[-1]), size=fine.shape[-2:], mode="nearest")
        return fine + coarse


def ToyNet(
    encoder_name: str = "toy",
    *,
    encoder_weights: str | None = None,
    decoder_channels: int = 8,
    in_channels: int = 3,
    classes: int = 1,
    **kwargs: object,
) -> seghub.SegmentationModel:
    """An smp-style constructor for ``toynet``, built through seghub's generic argument mapping."""
    arguments = dict(locals())
    arguments.update(arguments.pop("kwargs"))
    return seghub.build_model(seghub.spec_from_smp_arguments("toynet", **arguments))


class ToyNeckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: int = Field(3, ge=1, le=4)


class ToyNeck(nn.Module):
    """From the last feature at reduction r: ``levels`` maps at r, 2r, 4r, ... (max-pooled, 1x1 conv)."""

    def __init__(self, *, encoder_channels, encoder_reductions, levels: int):
        super().__init__()
        channels, reduction = encoder_channels[-1], encoder_reductions[-1]
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(levels))
        self.out_channels = (channels,) * levels
        self.reductions = tuple(reduction * 2**i for i in range(levels))

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        x, out = features[-1], []
        for i, conv in enumerate(self.convs):
            out.append(conv(nn.functional.max_pool2d(x, 2**i) if i else x))
        return out


TOY_WEIGHTS = {
    "toyset": PretrainedWeights(
        repo_id="seghub-test/toy", revision="0" * 40, preprocessing=Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    )
}


class ToyPlugin:
    """Registers encoder ``toy``; decoders ``toyhead``, ``toydeep`` (prefers depth 3),
    ``toypyramid`` (needs three features) and ``toynet`` (with the smp-style constructor
    ``ToyNet`` and constraints: output stride 32, coarsest map 2x2); neck ``toyneck``."""

    @seghub.hookimpl
    def seghub_register_necks(self, registry: seghub.Registry) -> None:
        registry.add_neck(
            "toyneck", factory="toy_plugins:ToyNeck", params="toy_plugins:ToyNeckParams", description="toy neck", priority=1
        )

    @seghub.hookimpl
    def seghub_register_encoders(self, registry: seghub.Registry) -> None:
        registry.add_encoder(
            "toy", factory="toy_plugins:ToyEncoder", params="toy_plugins:ToyEncoderParams",
            weights="toy_plugins:TOY_WEIGHTS", description="toy encoder",
        )

    @seghub.hookimpl
    def seghub_register_decoders(self, registry: seghub.Registry) -> None:
        registry.add_decoder("toyhead", factory="toy_plugins:ToyDecoder", params="toy_plugins:ToyDecoderParams", description="toy decoder")
        registry.add_decoder(
            "toydeep", factory="toy_plugins:ToyDecoder", encoder_defaults={"depth": 3}, head_defaults={"kernel_size": 1},
        )
        registry.add_decoder(
            "toypyramid", factory="toy_plugins:ToyDecoder", params="toy_plugins:ToyDecoderParams",
            constraints={"features": {"min_features": 3}},
        )
        registry.add_decoder(
            "toynet",
            factory="toy_plugins:ToyDecoder",
            params="toy_plugins:ToyDecoderParams",
            constructor="toy_plugins:ToyNet",
            constraints={"output_strides": (32,), "min_feature_size": 2},
        )


TOY_MODULE_SOURCE = """
    import seghub

    @seghub.hookimpl
    def seghub_register_encoders(registry):
        registry.add_encoder("{encoder}", factory="toy_plugins:ToyEncoder", params="toy_plugins:ToyEncoderParams")

    @seghub.hookimpl
    def seghub_register_decoders(registry):
        registry.add_decoder("{decoder}", factory="toy_plugins:ToyDecoder")
"""


def toy_module(encoder: str = "acme_enc", decoder: str = "acme_head") -> str:
    return textwrap.dedent(TOY_MODULE_SOURCE).format(encoder=encoder, decoder=decoder)
