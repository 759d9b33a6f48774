"""Bad input to the twelve decoders ends in located spec errors; inputs their size checks accept
run (issue 17): strict and bounded numbers in every params model, the dict form of norms
checked with the spec, norm layers that take a 1x1 map, ``aux_params`` in every constructor."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import nn

import seghub
from seghub.errors import SpecError
from seghub_decoders import _norm_options
from seghub_decoders._norms import GroupNorm, InstanceNorm2d, make_norm
from seghub_decoders._params import MAX_CHANNELS, MAX_DILATION

torch.set_num_threads(1)

HUB = seghub.get_hub()
DECODERS = [entry.name for entry in HUB.decoders() if entry.plugin.label == "seghub-decoders"]
NORM_DECODERS = ["unet", "unetplusplus", "manet", "linknet", "pspnet", "upernet"]
ENCODER = {"name": "resnet18", "weights": None}


def _fields(kind: str) -> list[tuple[str, str, Any]]:
    """(decoder, field, a valid value) for every params field of JSON type ``kind``, single or
    in an array, read from the params models' schemas."""
    found = []
    for name in DECODERS:
        model = HUB.decoder(name).load_params_model()
        defaults = model().model_dump()
        for field, schema in model.model_json_schema()["properties"].items():
            items = schema.get("items") or (schema.get("prefixItems") or [None])[0] or {}
            if schema.get("type") == kind or items.get("type") == kind:
                found.append((name, field, defaults[field]))
    return found


INTEGERS = _fields("integer")
FLAGS = _fields("boolean")
FLOATS = _fields("number")


def _refused(decoder: str, params: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as info:
        HUB.decoder(decoder).validate_params(params)
    return info.value


def _replace(default: Any, value: Any) -> Any:
    """``value`` in the place of an integer field's value, or of an integer list's first entry."""
    return [value, *default[1:]] if isinstance(default, (list, tuple)) else value


def test_the_matrix_covers_every_kind_of_field():
    assert {f for _, f, _ in INTEGERS} >= {"decoder_channels", "decoder_atrous_rates", "psp_out_channels"}
    assert {f for _, f, _ in FLAGS} == {"decoder_add_center_block", "decoder_aspp_separable"}
    assert {f for _, f, _ in FLOATS} >= {"decoder_dropout", "psp_dropout", "decoder_aspp_dropout"}


@pytest.mark.parametrize(("decoder", "field", "default"), INTEGERS, ids=[f"{d}-{f}" for d, f, _ in INTEGERS])
@pytest.mark.parametrize("value", [True, "8", 8.0, 2**40], ids=repr)
def test_integer_params_are_strict_and_bounded(decoder, field, default, value):
    error = _refused(decoder, {field: _replace(default, value)})
    assert error.issues[0].loc[:3] == ("decoder", "params", field)
    if value == 2**40:
        bound = MAX_DILATION if field == "decoder_atrous_rates" else MAX_CHANNELS
        assert f"less than or equal to {bound}" in str(error)


@pytest.mark.parametrize(("decoder", "field", "default"), FLAGS, ids=[f"{d}-{f}" for d, f, _ in FLAGS])
@pytest.mark.parametrize("value", ["true", 1, 0.0], ids=repr)
def test_flags_take_booleans_only(decoder, field, default, value):
    assert _refused(decoder, {field: value}).issues[0].loc == ("decoder", "params", field)


@pytest.mark.parametrize(("decoder", "field", "default"), FLOATS, ids=[f"{d}-{f}" for d, f, _ in FLOATS])
@pytest.mark.parametrize("value", [True, "0.1"], ids=repr)
def test_floats_take_numbers_only(decoder, field, default, value):
    assert _refused(decoder, {field: value}).issues[0].loc == ("decoder", "params", field)
    assert HUB.decoder(decoder).validate_params({field: 0})[field] == 0  # an integer is a number


def test_decoder_channels_of_2_to_the_40_is_a_located_spec_error():
    spec = {"encoder": ENCODER, "decoder": {"name": "unet", "params": {"decoder_channels": [2**40, 8, 8, 8, 8]}}}
    with pytest.raises(SpecError) as info:
        seghub.build_model(spec)
    assert [issue.path for issue in info.value.issues] == ["decoder.params.decoder_channels[0]"]


# -- norms: the dict form is checked with the spec ------------------------------------------------


@pytest.mark.parametrize(
    ("norm", "fragment"),
    [
        ({"type": "batchnorm", "eps": "x"}, "'eps': Input should be a valid number"),
        ({"type": "batchnorm", "eps": -1e-5}, "'eps': Input should be greater than or equal to 0"),
        ({"type": "batchnorm", "eps": math.nan}, "'eps'"),
        ({"type": "batchnorm", "momentum": 2}, "'momentum': Input should be less than or equal to 1"),
        ({"type": "instancenorm", "affine": "yes"}, "'affine': Input should be a valid boolean"),
        ({"type": "batchnorm", "device": "cuda"}, "'device': the layers' device and dtype follow the model's"),
        ({"type": "layernorm", "dtype": "float16"}, "'dtype': the layers' device and dtype follow the model's"),
        ({"type": "BatchNorm", "epsilon": 1e-3}, "'epsilon': unknown option of 'batchnorm'"),
        ({"type": "layernorm", "momentum": 0.1}, "'momentum': unknown option of 'layernorm'"),
        ({"type": "identity", "eps": 1e-3}, "unknown option of 'identity' (allowed: none)"),
        ({"type": "groupnorm"}, "unknown normalisation type 'groupnorm'"),
    ],
)
@pytest.mark.parametrize("decoder", NORM_DECODERS)
def test_norm_dicts_are_checked_with_the_spec(decoder, norm, fragment):
    error = _refused(decoder, {"decoder_use_norm": norm})
    assert [issue.path for issue in error.issues] == ["decoder.params.decoder_use_norm"]
    assert fragment in str(error)


def test_an_unknown_norm_option_gets_a_suggestion():
    assert "Did you mean 'eps'?" in str(_refused("unet", {"decoder_use_norm": {"type": "batchnorm", "epsilon": 1e-3}}))


@pytest.mark.parametrize("norm", ["inplace", "InPlace", {"type": "inplace", "activation": "elu"}])
def test_inplace_without_inplace_abn_names_the_package(monkeypatch, norm):
    monkeypatch.setattr(_norm_options, "inplace_abn_installed", lambda: False)
    spec = {"encoder": ENCODER, "decoder": {"name": "linknet", "params": {"decoder_use_norm": norm}}}
    with pytest.raises(SpecError) as info:
        seghub.validate_spec(spec)
    assert info.value.issues[0].path == "decoder.params.decoder_use_norm"
    assert "needs the inplace_abn package" in str(info.value) and "pip install inplace_abn" in str(info.value)

    monkeypatch.setattr(_norm_options, "inplace_abn_installed", lambda: True)
    assert seghub.validate_spec(spec).decoder_params["decoder_use_norm"] == (
        "inplace" if isinstance(norm, str) else norm
    )
    with pytest.raises(SpecError, match="activation"):
        seghub.validate_spec({"encoder": ENCODER, "decoder": {"name": "linknet", "params": {
            "decoder_use_norm": {"type": "inplace", "activation": "relu"}}}})


@pytest.mark.parametrize(
    ("norm", "layer", "attributes"),
    [
        ({"type": "batchnorm", "eps": 1e-3, "momentum": None, "affine": False}, nn.BatchNorm2d,
         {"eps": 1e-3, "momentum": None, "affine": False}),
        ({"type": "instancenorm", "eps": 0, "affine": True}, InstanceNorm2d, {"eps": 0.0, "affine": True}),
        ({"type": "layernorm", "elementwise_affine": False}, nn.LayerNorm, {"elementwise_affine": False}),
    ],
)
def test_a_norm_dict_that_passes_builds_its_layer(norm, layer, attributes):
    params = HUB.decoder("unet").validate_params({"decoder_use_norm": norm})
    built = make_norm(params["decoder_use_norm"], 8)
    assert isinstance(built, layer)
    assert {name: getattr(built, name) for name in attributes} == attributes


# -- norm layers on a 1x1 map ------------------------------------------------------------------------


def test_instance_norm_of_one_pixel_is_its_bias_in_eval_and_training():
    norm = InstanceNorm2d(3, affine=True)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([2.0, 3.0, 4.0]))
        norm.bias.copy_(torch.tensor([0.5, -1.0, 0.25]))
    x = torch.randn(2, 3, 1, 1)
    for mode in (True, False):
        norm.train(mode)
        # zero variance: (x - mean) / sqrt(eps) is float rounding times ~300, so compare to 1e-3
        assert torch.allclose(norm(x), torch.tensor([0.5, -1.0, 0.25]).view(1, 3, 1, 1).expand(2, 3, 1, 1), atol=1e-3)
    larger = torch.randn(2, 3, 4, 5)
    assert torch.allclose(norm(larger), nn.functional.instance_norm(larger, weight=norm.weight, bias=norm.bias))


def test_instance_norm_with_running_statistics():
    norm = InstanceNorm2d(2, track_running_stats=True)
    with pytest.raises(ValueError, match="cannot update its running statistics from a 1x1 map in training"):
        norm(torch.randn(1, 2, 1, 1))
    norm.eval()
    norm.running_mean.copy_(torch.tensor([1.0, -1.0]))
    norm.running_var.copy_(torch.tensor([4.0, 0.25]))
    x = torch.tensor([3.0, 0.0]).view(1, 2, 1, 1)
    expected = torch.tensor([(3.0 - 1.0) / math.sqrt(4.0 + 1e-5), (0.0 + 1.0) / math.sqrt(0.25 + 1e-5)])
    assert torch.allclose(norm(x).flatten(), expected)


def test_group_norm_does_not_depend_on_the_batch_size():
    norm = GroupNorm(4, 4, affine=True)
    with torch.no_grad():
        norm.bias.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    x = torch.randn(2, 4, 1, 1)
    assert torch.allclose(norm(x[:1]), norm(x)[:1])
    assert torch.allclose(norm(x[:1]).flatten(), torch.tensor([1.0, 2.0, 3.0, 4.0]), atol=1e-3)
    y = torch.randn(3, 4, 5, 2)
    assert torch.allclose(norm(y), nn.functional.group_norm(y, 4, norm.weight, norm.bias))


@pytest.mark.parametrize(
    ("decoder", "params", "depth"),
    [
        ("fpn", {"decoder_segmentation_channels": 32, "decoder_pyramid_channels": 32}, 5),
        ("linknet", {"decoder_use_norm": "instancenorm"}, 5),
        ("pspnet", {"decoder_use_norm": "instancenorm", "psp_out_channels": 16}, 3),
        ("upernet", {"decoder_use_norm": {"type": "instancenorm", "affine": True}, "decoder_channels": 16}, 5),
        ("manet", {"decoder_use_norm": "instancenorm", "decoder_channels": [16, 16, 8, 8, 8]}, 5),
    ],
)
def test_the_smallest_valid_input_runs(decoder, params, depth):
    torch.manual_seed(0)
    model = seghub.build_model({"encoder": {**ENCODER, "depth": depth}, "decoder": {"name": decoder, "params": params}})
    side = model.capabilities.min_input_size
    x = torch.randn(1, 3, side, side)
    assert model.eval()(x).shape == (1, 1, side, side)  # one image, eval: no batch statistics needed
    # in training the resnet's batch norms need two values per channel: two images
    assert model.train()(torch.cat([x, x])).shape == (2, 1, side, side)


# -- aux_params in every constructor ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(e.constructor_name for e in HUB.decoders() if e.constructor_name))
@pytest.mark.parametrize("aux_params", [5, [], True], ids=repr)
def test_aux_params_must_be_a_mapping_in_every_constructor(name, aux_params):
    with pytest.raises(ValueError, match="aux_params must be a mapping"):
        getattr(seghub, name)("resnet18", encoder_weights=None, aux_params=copy.copy(aux_params))
