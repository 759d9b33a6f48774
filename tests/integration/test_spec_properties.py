"""A property over generated specs (issue 17): every spec either builds a model whose forward gives
the promised shape on a valid input, or raises a seghub error naming where the problem is.

The specs mix valid and invalid values of every field of the spec and of the twelve decoders'
params (read from their params models' JSON Schemas, so a new field is fuzzed too), on a tiny
in-process encoder (any depth and output stride) and on resnet18. Hypothesis runs derandomized,
so the examples are the same on every run; the models are tiny and the test takes well under a
minute.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import seghub
from seghub.errors import PluginConflictError, SpecError, UnknownNameError

pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLES = 200
SECTIONS = {"version", "encoder", "decoder", "segmentation_head", "classification_head"}
DECODERS = sorted(d.name for d in seghub.get_hub().decoders() if d.plugin.label == "seghub-decoders")
ARGMAX = {"argmax", "argmax2d"}


class TinyEncoder(nn.Module):
    """``depth`` 3x3 conv stages with 4, 8, 16, ... channels; past ``output_stride`` they keep
    the resolution and dilate, as encoders do."""

    def __init__(self, *, name: str, in_channels: int, depth: int, output_stride: int, weights: str | None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = tuple(4 * 2**i for i in range(depth))
        self.reductions = tuple(min(2 ** (i + 1), output_stride) for i in range(depth))
        stages, channels = [], in_channels
        for i, out in enumerate(self.out_channels):
            dilation = 2 ** (i + 1) // self.reductions[i]
            stride = 2 if dilation == 1 else 1
            stages.append(nn.Sequential(
                nn.Conv2d(channels, out, 3, stride, padding=dilation, dilation=dilation), nn.BatchNorm2d(out), nn.ReLU(),
            ))
            channels = out
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class _TinyPlugin:
    @seghub.hookimpl
    def seghub_register_encoders(self, registry: seghub.Registry) -> None:
        registry.add_encoder("tiny", factory=TinyEncoder, description="tiny encoder for the spec property test")


@pytest.fixture(scope="module", autouse=True)
def tiny_plugin():
    seghub.register_plugin(_TinyPlugin(), "spec-properties-tiny")
    yield
    seghub.unregister_plugin("spec-properties-tiny")


def _pick(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values: one in about ten fields gets an invalid one."""
    return st.sampled_from(valid * 8 + invalid)


NORMS = _pick(
    [True, False, "batchnorm", "identity", "layernorm", "instancenorm", {"type": "batchnorm", "eps": 1e-3, "momentum": None},
     {"type": "instancenorm", "affine": True}, {"type": "LayerNorm", "eps": 1e-6}],
    ["inplace", "groupnorm", {"type": "batchnorm", "device": "cpu"}, {"type": "batchnorm", "eps": -1.0}, 1],
)
CHANNELS = _pick([4, 8, 16, 32], [0, -3, True, "8", 8.0, 2**40])
RATES = _pick([1, 2, 6, 12], [0, 2**40])


def _field_strategy(name: str, schema: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    """Values for one params field, from its JSON Schema."""
    if name == "decoder_use_norm":
        return NORMS
    kind = schema.get("type")
    if kind == "integer":
        return CHANNELS
    if kind == "array" and "prefixItems" in schema:  # fixed length: the atrous rates
        return st.lists(RATES, min_size=len(schema["prefixItems"]), max_size=len(schema["prefixItems"])) | st.just([6, 12])
    if kind == "array":
        return st.lists(CHANNELS, min_size=1, max_size=5) | st.just([])
    if kind == "number":
        return _pick([0.0, 0.1, 0.5], [1.0, -0.5, True, "0.1"])
    if kind == "boolean":
        return _pick([True, False], ["yes", 1])
    options = schema.get("enum") or [v for choice in schema.get("anyOf", []) for v in choice.get("enum", [None])]
    if options:
        return _pick(list(options), ["bogus"])
    return None


def _params_strategy(decoder: str) -> st.SearchStrategy[dict[str, Any]]:
    model = seghub.get_hub().decoder(decoder).load_params_model()
    required, optional = {}, {}
    for name, schema in model.model_json_schema()["properties"].items():
        strategy = _field_strategy(name, schema)
        if strategy is None:
            continue
        # single channel counts are always given, and small: some defaults build large models
        (required if schema.get("type") == "integer" else optional)[name] = strategy
    typo = st.sampled_from([{}] * 9 + [{"decoder_chanels": 8}])  # an unknown key, now and then
    return st.builds(lambda params, extra: {**params, **extra}, st.fixed_dictionaries(required, optional=optional), typo)


ENCODER = st.fixed_dictionaries(
    {"name": st.sampled_from(["tiny"] * 6 + ["resnet18", "resnet19"]), "weights": st.just(None)},
    optional={
        "depth": _pick([1, 2, 3, 4, 5], [0, 6, True]),
        "output_stride": _pick([8, 16, 32], [4, "16", 16.0]),
        "in_channels": _pick([1, 2, 3, 4], [0, True]),
        "params": st.sampled_from([{}] * 8 + [{"width": 4}]),
    },
)
SEGMENTATION_HEAD = st.fixed_dictionaries(
    {},
    optional={
        "classes": _pick([1, 2, 3], [0, 10**30, "2"]),
        "activation": _pick([None, "identity", "sigmoid", "softmax2d", "argmax", "argmax2d"], ["swish"]),
        "upsampling": _pick([None, 1, 2, 4], [0, 2**63]),
        "kernel_size": _pick([None, 1, 3, 5], [2, 2**20]),
    },
)
CLASSIFICATION_HEAD = st.none() | st.fixed_dictionaries(
    {"classes": _pick([1, 2, 5], [0, 2**31])},
    optional={"pooling": _pick(["avg", "max"], ["mean"]), "dropout": _pick([None, 0.0, 0.5], [1.5, True])},
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(DECODERS * 8 + ["unte"]))
    decoder = {"name": name}
    if name in DECODERS:
        decoder["params"] = draw(_params_strategy(name))
    spec = {"encoder": draw(ENCODER), "decoder": decoder, "segmentation_head": draw(SEGMENTATION_HEAD)}
    classification = draw(CLASSIFICATION_HEAD)
    if classification is not None:
        spec["classification_head"] = classification
    return spec


def _valid_input(model: seghub.SegmentationModel, batch: int) -> torch.Tensor:
    """The smallest valid input, one side a step larger: H != W."""
    step, smallest = model.capabilities.input_divisor, model.capabilities.min_input_size
    side = math.ceil(smallest / step) * step
    return torch.randn(batch, model.spec.encoder.in_channels, side, side + step)


def _promised_mask_shape(model: seghub.SegmentationModel, spec: dict[str, Any], x: torch.Tensor) -> tuple[int, ...]:
    head = model.spec.segmentation_head
    batch, _, height, width = x.shape
    if spec["segmentation_head"].get("upsampling") is None:
        size = (height, width)  # the default upsampling brings the mask to the input's size
    else:
        reduction = model.decoder.reduction
        size = (math.ceil(height / reduction) * head.upsampling, math.ceil(width / reduction) * head.upsampling)
    classes = () if head.activation in ARGMAX else (head.classes,)
    return (batch, *classes, *size)


@settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=specs())
def test_a_spec_builds_what_it_promises_or_says_where_it_is_wrong(spec: dict[str, Any]) -> None:
    try:
        model = seghub.build_model(spec)
    except SpecError as exc:
        assert exc.issues and all(issue.loc and issue.loc[0] in SECTIONS for issue in exc.issues), str(exc)
        return
    except (UnknownNameError, PluginConflictError) as exc:
        assert str(exc).startswith(("encoder.name: ", "decoder.name: ")), str(exc)
        return
    torch.manual_seed(0)
    for training, batch in ((False, 1), (True, 2)):  # one image in eval; training needs batch statistics
        x = _valid_input(model, batch)
        model.train(training)
        with torch.no_grad():
            output = model(x)
        mask = output[0] if isinstance(output, tuple) else output
        assert tuple(mask.shape) == _promised_mask_shape(model, spec, x), (spec, tuple(x.shape))
        if "classification_head" in spec:
            assert isinstance(output, tuple) and tuple(output[1].shape) == (batch, model.spec.classification_head.classes)
        else:
            assert not isinstance(output, tuple)
