"""U-Net's params (smp 0.6 ``Unet`` names and defaults), and the base the U-Net family shares."""

from __future__ import annotations

from pydantic import Field

from .._params import AttentionType, ChannelList, DecoderParams, Flag, InterpolationMode, NormOption

__all__ = ["DEFAULT_DECODER_CHANNELS", "BlockChannelsParams", "UnetParams"]

DEFAULT_DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)


class BlockChannelsParams(DecoderParams):
    """The options U-Net, U-Net++ and MA-Net share: channels per decoder block and the norm."""

    decoder_channels: ChannelList = Field(
        default=DEFAULT_DECODER_CHANNELS,
        description=(
            "Output channels of each decoder block (U-Net++: of each top-row block), deepest "
            "first: one per block, i.e. encoder depth (reductions starting at 4 still give 5 "
            "blocks). The default is cut to the first n entries for shallower encoders."
        ),
    )
    decoder_use_norm: NormOption = "batchnorm"


class UnetParams(BlockChannelsParams):
    """Options of the U-Net decoder (smp 0.6 ``Unet`` names and defaults)."""

    decoder_attention_type: AttentionType = None
    decoder_interpolation: InterpolationMode = "nearest"
    decoder_add_center_block: Flag = Field(
        default=False,
        description="Two 3x3 conv-norm-ReLU on the deepest feature before decoding (smp uses it for VGG encoders).",
    )
