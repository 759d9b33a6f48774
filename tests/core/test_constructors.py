"""The smp way for every registered decoder: create_model, seghub.<Constructor> through the hub,
the generic mapping of smp's arguments, and the errors when a constructor is not installed."""

from __future__ import annotations

import pytest
import torch

import seghub
from seghub.errors import MissingConstructorError, PluginConflictError, SpecError

X = torch.randn(2, 3, 32, 32)


def test_create_model_maps_smp_arguments_for_a_decoder_without_constructor(toy):
    model = seghub.create_model(
        "ToyHead", encoder_name="toy", encoder_weights=None, in_channels=3, classes=4, encoder_depth=3,
        decoder_channels=6, width=2, aux_params={"classes": 5},
    )
    spec = model.spec
    # a field of the decoder's params model goes to decoder.params, the rest to encoder.params
    assert spec.decoder.name == "toyhead" and spec.decoder.params == {"decoder_channels": 6}
    assert spec.encoder.params == {"width": 2} and spec.encoder.depth == 3
    assert spec.segmentation_head.classes == 4
    # smp's classification head defaults fill what aux_params leaves out
    assert spec.classification_head.model_dump() == {"classes": 5, "pooling": "avg", "dropout": 0.2, "activation": None}
    mask, label = model(X)
    assert mask.shape == (2, 4, 32, 32) and label.shape == (2, 5)


def test_smp_arguments_with_none_keep_the_defaults(toy):
    spec = seghub.spec_from_smp_arguments("toyhead", encoder_name="toy", decoder_channels=None, width=None)
    assert spec["decoder"]["params"] == {} and spec["encoder"]["params"] == {}
    assert "depth" not in spec["encoder"]  # left to the decoder's preference
    assert spec["encoder"]["weights"] == "imagenet"
    assert seghub.spec_from_smp_arguments("toyhead", encoder_weights=True)["encoder"]["weights"] == "imagenet"


def test_create_model_calls_the_registered_constructor(toy):
    calls = []
    toy.decoder("toynet").load_constructor()  # imported: toy_plugins.ToyNet
    import toy_plugins

    real = toy_plugins.ToyNet
    toy_plugins.ToyNet = lambda *args, **kwargs: calls.append((args, kwargs)) or real(*args, **kwargs)
    try:
        model = seghub.create_model("toynet", "toy", encoder_weights=None, classes=2, encoder_depth=2)
    finally:
        toy_plugins.ToyNet = real
    assert calls == [(("toy",), {"encoder_weights": None, "in_channels": 3, "classes": 2, "encoder_depth": 2})]
    assert model.spec.decoder.name == "toynet" and model.spec.encoder.name == "toy"
    assert model(X).shape == (2, 2, 32, 32)


def test_constructors_resolve_through_the_hub(toy):
    assert seghub.ToyNet is toy.decoder("toynet").load_constructor()
    model = seghub.ToyNet(classes=3, encoder_depth=2)
    assert model.spec.decoder.name == "toynet" and model(X).shape == (2, 3, 32, 32)


def test_a_missing_constructor_names_what_to_install(toy):
    with pytest.raises(MissingConstructorError) as info:
        seghub.ToyNett  # noqa: B018
    message = str(info.value)
    assert "pip install seghub-decoders" in message and "Did you mean 'ToyNet'?" in message
    assert isinstance(info.value, AttributeError) and isinstance(info.value, seghub.PluginError)
    assert not hasattr(seghub, "NoSuchNet")
    assert getattr(seghub, "NoSuchNet", None) is None


def test_without_decoder_plugins_the_constructors_say_which_distribution(hub, monkeypatch):
    monkeypatch.setenv("SEGHUB_DISABLE_PLUGINS", "seghub-decoders")
    hub.reload()
    with pytest.raises(MissingConstructorError, match="seghub-decoders"):
        seghub.Unet  # noqa: B018


def test_two_plugins_registering_one_constructor_is_a_conflict(toy):
    class Other:
        @seghub.hookimpl
        def seghub_register_decoders(self, registry: seghub.Registry) -> None:
            registry.add_decoder("othernet", factory="toy_plugins:ToyDecoder", constructor="toy_plugins:ToyNet")

    toy.register(Other(), "other")
    with pytest.raises(PluginConflictError, match="ToyNet.*several plugins"):
        seghub.ToyNet  # noqa: B018


@pytest.mark.parametrize("aux_params", [5, [], True, "classes=4"])
def test_aux_params_must_be_a_mapping(toy, aux_params):
    with pytest.raises(ValueError, match="aux_params must be a mapping"):
        seghub.create_model("toyhead", encoder_name="toy", encoder_weights=None, aux_params=aux_params)


def test_declared_constraints_hold_on_both_paths(toy):
    """One rule: the output strides a decoder declares are checked for specs and constructors alike."""
    spec = {"encoder": {"name": "toy", "depth": 2, "output_stride": 16}, "decoder": {"name": "toynet"}}
    with pytest.raises(SpecError, match=r"encoder\.output_stride: decoder 'toynet' accepts encoder output_stride 32; got 16"):
        seghub.build_model(spec)
    with pytest.raises(SpecError, match=r"encoder\.output_stride: decoder 'toynet' accepts"):
        seghub.create_model("toynet", encoder_weights=None, encoder_output_stride=16)


def test_min_input_size_is_checked_before_any_convolution(toy):
    model = seghub.ToyNet(encoder_depth=3).eval()  # coarsest map at reduction 8, needs 2x2: 16x16
    ran: list[bool] = []
    model.encoder.register_forward_pre_hook(lambda *_: ran.append(True))
    with pytest.raises(seghub.InputShapeError, match="decoder 'toynet' at output stride 32 needs at least 16x16; got 8x8"):
        model(torch.randn(1, 3, 8, 8))
    with pytest.raises(seghub.InputShapeError, match="needs at least 16x16; got 0x16"):
        model(torch.randn(1, 3, 0, 16))
    assert ran == []
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 1, 16, 16)


def test_models_carry_smps_capability_flags(toy):
    model = seghub.ToyNet(encoder_depth=2)
    assert model._is_torch_scriptable is False  # TorchScript is unsupported: said by the flag
    assert model._is_torch_compilable is True and model._is_torch_exportable is True
    assert model.requires_divisible_input_shape is True and model.input_divisor == 4


def test_the_old_protocol_check_names_still_work_with_a_warning():
    with pytest.warns(DeprecationWarning, match="renamed seghub.check_encoder_attributes"):
        old = seghub.check_encoder
    assert old is seghub.check_encoder_attributes
