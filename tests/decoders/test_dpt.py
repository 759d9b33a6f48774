"""The DPT decoder.

* parity with segmentation_models_pytorch 0.6's ``DPT`` on timm's tiny ``test_vit`` (random
  weights): our timm encoder + DPT decoder + generic head hold exactly the parameters smp's
  forward uses, smp's state dict loads strictly through the converters, outputs match in eval;
* the same through ``seghub.DPT`` and ``seghub.compat.smp`` once the core passes prefix tokens;
* plain-ViT and pyramid reductions, sizes that are multiples of 16 but not 32, gradients,
  refusals that name the mismatch, params validation, the plugin row.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError
from seghub import Registry
from seghub._heads import SegmentationHead
from seghub._protocols import SmpModelStateDictConverter, check_decoder_attributes, check_decoder_output

from seghub_decoders import plugin
from seghub_decoders.dpt.decoder import DPTDecoder, convert_smp_state_dict
from seghub_decoders.dpt.params import DPTParams
from seghub_decoders.unet.decoder import UnetDecoder

torch.set_num_threads(1)

SMALL = {"decoder_intermediate_channels": (16, 32, 48, 48), "decoder_fusion_channels": 24}


def build(channels: tuple[int, ...], reductions: tuple[int, ...], prefix_tokens: int = 0, **params: Any) -> DPTDecoder:
    """Validate ``params`` with :class:`DPTParams` and build the decoder, as the core does."""
    return DPTDecoder(
        encoder_channels=channels, encoder_reductions=reductions, encoder_prefix_tokens=prefix_tokens,
        **DPTParams(**params).model_dump(),
    )


def features(channels: tuple[int, ...], reductions: tuple[int, ...], size: int, batch: int = 2) -> list[torch.Tensor]:
    return [torch.randn(batch, c, size // r, size // r) for c, r in zip(channels, reductions)]


# --------------------------------------------------------------------------- smp parity

smp = pytest.importorskip("segmentation_models_pytorch")
pytest.importorskip("seghub_encoders_timm")


def _smp_dpt(**kwargs: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    model = smp.DPT("tu-test_vit", encoder_weights=None, classes=3, **kwargs)
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _used_parameters(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Parameters that smp's forward reaches (smp keeps the ViT's classifier and final norm)."""
    model.zero_grad()
    out = model(x)
    out.sum().backward()
    return sum(p.numel() for p in model.parameters() if p.grad is not None)


PARITY_CASES: list[dict[str, Any]] = [
    {"decoder_readout": "cat"},
    {"decoder_readout": "add"},
    {"decoder_readout": "ignore", "encoder_depth": 3, "encoder_output_indices": [1, 3, 4],
     "decoder_intermediate_channels": (16, 32, 48)},
]


@pytest.mark.parametrize("case", PARITY_CASES, ids=lambda c: c["decoder_readout"])
def test_matches_smp_dpt(case: dict[str, Any]) -> None:
    from seghub_encoders_timm._factory import build_encoder

    kwargs = {**SMALL, **case}
    depth = kwargs.pop("encoder_depth", 4)
    indices = kwargs.pop("encoder_output_indices", None)
    reference = _smp_dpt(encoder_depth=depth, encoder_output_indices=indices, **kwargs)

    encoder = build_encoder(
        name="tu-test_vit", in_channels=3, depth=depth, output_stride=32, weights=None, output_indices=indices
    )
    decoder = build(encoder.out_channels, encoder.reductions, encoder.num_prefix_tokens, **kwargs)
    head = SegmentationHead(decoder.out_channels, 3, kernel_size=1, upsampling=decoder.reduction)
    ours = torch.nn.ModuleDict({"encoder": encoder, "decoder": decoder, "segmentation_head": head}).eval()

    x = torch.randn(2, 3, 64, 96)
    assert sum(p.numel() for p in ours.parameters()) == _used_parameters(reference, x)

    state = decoder.smp_model_state_dict_to_seghub(reference.state_dict())
    enc_state = encoder.smp_state_dict_to_seghub(
        {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    )
    state = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    state.update({"encoder." + k: v for k, v in enc_state.items()})
    ours.load_state_dict(state, strict=True)

    with torch.no_grad():
        expected = reference(x)
        feats, tokens = encoder.forward_with_tokens(x)
        got = head(decoder(feats, tokens))
    assert got.shape == expected.shape == (2, 3, 64, 96)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_seghub_dpt_loads_smp_checkpoint() -> None:
    import seghub
    from seghub.compat.smp import load_smp_state_dict

    model = seghub.DPT("tu-test_vit", encoder_weights=None, classes=3, **SMALL).eval()
    assert model.decoder._with_tokens  # the builder handed the encoder's prefix-token count over
    reference = _smp_dpt(**SMALL)
    load_smp_state_dict(model, reference.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------- shapes


SHAPE_CASES = [
    # channels, reductions, prefix tokens, input size
    ((32, 32, 32, 32), (16, 16, 16, 16), 1, 64),
    ((32, 32, 32, 32), (16, 16, 16, 16), 1, 48),  # 48/16 = 3: smp's fixed x2 upsampling would not fit
    ((24, 24, 24), (8, 8, 8), 2, 40),
    ((16, 24, 32, 48), (4, 8, 16, 32), 0, 64),  # a ConvNeXt-like pyramid
    ((8, 16, 24, 32, 40), (2, 4, 8, 16, 32), 0, 64),  # a ResNet-like pyramid
]


@pytest.mark.parametrize(("channels", "reductions", "tokens", "size"), SHAPE_CASES)
def test_output_shape_and_gradients(channels: tuple[int, ...], reductions: tuple[int, ...], tokens: int, size: int) -> None:
    readout = "cat" if tokens else "ignore"
    decoder = build(channels, reductions, tokens, decoder_readout=readout,
                    decoder_intermediate_channels=(8,) * len(channels), decoder_fusion_channels=16)
    check_decoder_attributes(decoder)
    assert decoder.out_channels == 16 and decoder.reduction == 2
    feats = [f.requires_grad_() for f in features(channels, reductions, size)]
    prefix = [torch.randn(2, tokens, c) for c in channels] if tokens else None
    out = decoder.train()(feats, prefix)
    check_decoder_output(decoder, torch.empty(2, 3, size, size), out)
    out.square().mean().backward()
    assert all(p.grad is not None for p in decoder.parameters())


def test_readout_add_uses_tokens() -> None:
    decoder = build((16,) * 4, (16,) * 4, 1, decoder_readout="add", **SMALL).eval()
    feats = features((16,) * 4, (16,) * 4, 32, batch=1)
    tokens = [torch.randn(1, 1, 16) for _ in feats]
    with torch.no_grad():
        assert not torch.allclose(decoder(feats, tokens), decoder(feats, None))


def test_readout_without_tokens_warns() -> None:
    with pytest.warns(UserWarning, match="decoder_readout='cat' but the encoder gives no prefix"):
        decoder = build((16,) * 4, (16,) * 4, 0, **SMALL)
    assert decoder.projection_blocks[0].project[0].in_features == 16


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("channels", "reductions", "params", "message"),
    [
        ((16,) * 3, (16,) * 3, SMALL, r"decoder_intermediate_channels has 4 entries .* encoder gives 3 features"),
        ((16,) * 4, (14,) * 4, SMALL, r"from reduction 14 to reduction 4 .* \(14, 14, 14, 14\)"),
        ((16,) * 4, (16, 16, 8, 16), SMALL, r"must be non-decreasing"),
    ],
)
def test_refusals_name_the_mismatch(channels, reductions, params, message) -> None:
    with pytest.raises(ValueError, match=message):
        build(channels, reductions, 1, **params)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"decoder_readout": "concat"}, "decoder_readout"),
        ({"decoder_intermediate_channels": ()}, "decoder_intermediate_channels"),
        ({"decoder_fusion_channels": 0}, "decoder_fusion_channels"),
        ({"decoder_channels": 16}, "decoder_channels"),
    ],
)
def test_params_validation(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        DPTParams(**params)
    assert info.value.errors()[0]["loc"][0] == field


def test_plugin_row() -> None:
    registry = Registry()
    plugin.seghub_register_decoders(registry)
    (entry,) = [d for d in registry.decoders if d.name == "dpt"]
    assert entry.load_factory() is DPTDecoder and entry.load_params_model() is DPTParams
    assert dict(entry.encoder_defaults) == {"depth": 4}
    assert dict(entry.head_defaults) == {"kernel_size": 1}  # smp's last 1x1 conv; the 3x3 one is head_block


def test_converter_moves_only_head_keys() -> None:
    state = {
        "decoder.fusion_blocks.0.project.weight": 1,
        "segmentation_head.head.0.weight": 2,
        "segmentation_head.head.1.running_var": 3,
        "segmentation_head.head.4.bias": 4,
        "encoder.model.cls_token": 5,
    }
    assert convert_smp_state_dict(state) == {
        "decoder.fusion_blocks.0.project.weight": 1,
        "decoder.head_block.0.weight": 2,
        "decoder.head_block.1.running_var": 3,
        "segmentation_head.0.bias": 4,
        "encoder.model.cls_token": 5,
    }
    # the core renames whole-model keys only for decoders that implement the converter
    assert isinstance(DPTDecoder, SmpModelStateDictConverter)
    assert not isinstance(UnetDecoder, SmpModelStateDictConverter)
