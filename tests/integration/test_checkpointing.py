"""Activation checkpointing: the spec option, exact results, and where it must not act.

A model with checkpointing on and one with it off share weights; one training step on each must
give the same outputs, parameter gradients and buffers (batch-norm running statistics and
their counters included: recomputation must not update them a second time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

import seghub
from seghub.errors import SpecError
from toy_plugins import ToyPlugin

ARCHITECTURES = (
    "unet", "unetplusplus", "manet", "linknet", "fpn", "pspnet",
    "pan", "deeplabv3", "deeplabv3plus", "upernet", "segformer", "dpt",
)
# (encoder, decoder): timm pyramids run stage by stage (ConvNeXt: layer norms; ResNet: batch
# norms), EfficientNet's feature class with batch norms is checkpointed whole, and the plain
# ViT through timm's own per-block checkpointing.
TIMM_CASES = [
    ("timm:test_convnext", "unet"),
    ("timm:test_convnext", "upernet"),
    ("timm:test_resnet", "fpn"),
    ("timm:test_efficientnet", "deeplabv3plus"),
    ("timm:test_vit", "dpt"),
]
SIDE = {"pan": 128}  # PAN's pyramid attention needs its coarsest feature to be at least 8x8

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """The functions handed to ``torch.utils.checkpoint.checkpoint`` (seghub's and timm's)."""
    seen: list[Callable[..., Any]] = []
    real = torch.utils.checkpoint.checkpoint

    def spy(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(function)
        return real(function, *args, **kwargs)

    monkeypatch.setattr(torch.utils.checkpoint, "checkpoint", spy)
    return seen


def _spec(encoder: str, architecture: str, checkpointing: bool) -> dict[str, Any]:
    # DPT reads out prefix tokens only from a ViT; other encoders have none
    params = {"decoder_readout": "ignore"} if architecture == "dpt" and "vit" not in encoder else {}
    return {
        "encoder": {"name": encoder, "checkpointing": checkpointing},
        "decoder": {"name": architecture, "params": params, "checkpointing": checkpointing},
        "segmentation_head": {"classes": 3},
        "classification_head": {"classes": 2, "dropout": 0.5},
    }


def _pair(encoder: str, architecture: str) -> tuple[nn.Module, nn.Module]:
    """Two models with the same weights and buffers, checkpointing off and on."""
    torch.manual_seed(0)
    plain = seghub.build_model(_spec(encoder, architecture, False))
    checkpointed = seghub.build_model(_spec(encoder, architecture, True))
    checkpointed.load_state_dict(plain.state_dict())
    return plain, checkpointed


def _train_step(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    model.train()
    torch.manual_seed(1)  # the same dropout masks in both models
    x = x.clone().requires_grad_(True)
    mask, label = model(x)
    (mask.square().mean() + label.square().mean()).backward()
    return mask, x.grad


def _assert_same_step(plain: nn.Module, checkpointed: nn.Module, x: torch.Tensor, **tolerance: float) -> None:
    masks, input_grads = zip(*(_train_step(model, x) for model in (plain, checkpointed)))
    torch.testing.assert_close(masks[1], masks[0], **tolerance)
    torch.testing.assert_close(input_grads[1], input_grads[0], **tolerance)
    params = dict(checkpointed.named_parameters())
    for name, param in plain.named_parameters():
        torch.testing.assert_close(params[name].grad, param.grad, **tolerance, msg=f"gradient of {name}")
    buffers = dict(checkpointed.named_buffers())
    for name, buffer in plain.named_buffers():
        torch.testing.assert_close(buffers[name], buffer, **tolerance, msg=f"buffer {name}")


def _inside(function: Callable[..., Any], part: nn.Module) -> bool:
    module = function if isinstance(function, nn.Module) else getattr(function, "__self__", None)
    return any(module is m for m in part.modules())


def _input(architecture: str, batch: int = 2) -> torch.Tensor:
    side = SIDE.get(architecture, 64)
    return torch.randn(batch, 3, side, side + 32)


# --------------------------------------------------------------------------- the spec option


def test_off_by_default_and_specs_without_the_field_stay_valid() -> None:
    model = seghub.build_model({"encoder": {"name": "resnet18"}, "decoder": {"name": "unet"}})
    assert model.spec.encoder.checkpointing is False and model.spec.decoder.checkpointing is False
    assert model.encoder.grad_checkpointing is False and model.decoder.grad_checkpointing is False
    schema = seghub.ModelSpec.model_json_schema()["$defs"]
    assert schema["EncoderSpec"]["properties"]["checkpointing"]["type"] == "boolean"
    assert schema["DecoderSpec"]["properties"]["checkpointing"]["type"] == "boolean"


def test_a_non_boolean_value_is_an_error_at_its_location() -> None:
    with pytest.raises(SpecError, match=r"decoder\.checkpointing"):
        seghub.build_model({"encoder": {"name": "resnet18"}, "decoder": {"name": "unet", "checkpointing": "often"}})


def test_the_spec_switches_each_part_and_the_model_spec_records_it() -> None:
    model = seghub.build_model(
        {"encoder": {"name": "resnet18", "checkpointing": True}, "decoder": {"name": "fpn"}}
    )
    assert model.encoder.grad_checkpointing is True and model.decoder.grad_checkpointing is False
    rebuilt = seghub.build_model(model.spec)
    assert rebuilt.encoder.grad_checkpointing is True and rebuilt.decoder.grad_checkpointing is False
    model.set_grad_checkpointing(True)
    assert model.decoder.grad_checkpointing is True and model.spec.decoder.checkpointing is True
    model.set_grad_checkpointing(False, decoder=True)
    assert model.encoder.grad_checkpointing is False and model.decoder.grad_checkpointing is True
    assert (model.spec.encoder.checkpointing, model.spec.decoder.checkpointing) == (False, True)


# --------------------------------------------------------------------------- exact results


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_resnet18_results_are_unchanged(architecture: str, calls: list[Callable[..., Any]]) -> None:
    plain, checkpointed = _pair("resnet18", architecture)
    x = _input(architecture)
    _assert_same_step(plain, checkpointed, x)
    encoder = checkpointed.encoder
    blocks = [block for name, stage in encoder.named_children() if name.startswith("layer") for block in stage]
    assert blocks and all(sum(f is block for f in calls) == 1 for block in blocks)  # each block, once
    assert sum(getattr(f, "__func__", None) is type(encoder)._stem for f in calls) == 1  # and the stem
    assert any(_inside(f, checkpointed.decoder) and f is not checkpointed.decoder for f in calls)


@pytest.mark.parametrize(("encoder", "architecture"), TIMM_CASES)
def test_timm_results_are_unchanged(encoder: str, architecture: str, calls: list[Callable[..., Any]]) -> None:
    plain, checkpointed = _pair(encoder, architecture)
    _assert_same_step(plain, checkpointed, _input(architecture))
    assert any(_inside(f, checkpointed.encoder) for f in calls)
    assert any(_inside(f, checkpointed.decoder) for f in calls)


@pytest.fixture
def toy() -> Iterator[None]:
    """The core tests' toy encoder and decoder (batch norm inside, no set_grad_checkpointing)."""
    seghub.register_plugin(ToyPlugin(), "toy-checkpointing")
    yield
    seghub.unregister_plugin("toy-checkpointing")


def test_parts_without_the_method_are_checkpointed_whole(toy: None, calls: list[Callable[..., Any]]) -> None:
    plain, checkpointed = _pair("toy", "toyhead")
    assert not hasattr(checkpointed.encoder, "set_grad_checkpointing")
    _assert_same_step(plain, checkpointed, torch.randn(2, 3, 32, 64))
    assert calls == [checkpointed.encoder, checkpointed.decoder]


def test_under_torch_compile_results_and_statistics_are_unchanged() -> None:
    plain, checkpointed = _pair("resnet18", "unet")
    torch._dynamo.reset()
    compiled = torch.compile(checkpointed, fullgraph=True, backend="aot_eager")
    x = _input("unet")
    masks, input_grads = zip(*(_train_step(model, x) for model in (plain, compiled)))
    torch.testing.assert_close(masks[1], masks[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(input_grads[1], input_grads[0], atol=1e-5, rtol=1e-5)
    params = dict(checkpointed.named_parameters())
    for name, param in plain.named_parameters():
        torch.testing.assert_close(params[name].grad, param.grad, atol=1e-5, rtol=1e-4, msg=f"gradient of {name}")
    buffers = dict(checkpointed.named_buffers())
    for name, buffer in plain.named_buffers():  # updated once: the counters are equal
        torch.testing.assert_close(buffers[name], buffer, atol=1e-5, rtol=1e-5, msg=f"buffer {name}")


# --------------------------------------------------------------------------- when it must not act


@pytest.mark.parametrize("encoder", ["resnet18", "timm:test_vit"])
def test_no_checkpointing_in_eval_without_grad_or_in_inference(encoder: str, calls: list[Callable[..., Any]]) -> None:
    architecture = "dpt" if encoder == "timm:test_vit" else "unet"
    _, model = _pair(encoder, architecture)
    x = _input(architecture)
    model.eval()
    mask, _ = model(x)
    mask.sum().backward()  # autograd on, but eval mode
    model.train()
    with torch.no_grad():
        model(x)
    with torch.inference_mode():
        model(x)
    model.predict(x)
    assert calls == []
    if encoder == "timm:test_vit":
        assert model.encoder.model.grad_checkpointing is False  # timm's switch is left off


def test_no_checkpointing_under_torch_export(calls: list[Callable[..., Any]]) -> None:
    _, model = _pair("timm:test_convnext", "fpn")
    model.train()
    program = torch.export.export(model, (_input("fpn"),))
    assert calls == []
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert not any("checkpoint" in target for target in targets), targets
