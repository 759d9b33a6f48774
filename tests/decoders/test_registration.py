"""What seghub-decoders registers: one source of truth per decoder.

* every smp-style constructor shows its params model's defaults, and smp 0.6's signature;
* every decoder factory takes exactly its params fields, with no defaults of its own;
* the constraints each decoder declares are exactly what its factory accepts.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import seghub
from seghub import EncoderSpec, Registry
from seghub.errors import SpecError
from seghub.plugins import DecoderEntry

from seghub_decoders import plugin
from seghub_decoders._levels import SkipLevels

smp = pytest.importorskip("segmentation_models_pytorch")


def _entries() -> dict[str, DecoderEntry]:
    registry = Registry()
    plugin.seghub_register_decoders(registry)
    return {entry.name: entry for entry in registry.decoders}


ENTRIES = _entries()
GENERIC = {"encoder_name", "encoder_weights", "in_channels", "classes", "activation", "upsampling", "aux_params", "kwargs"}
DELIBERATE = {"upsampling"}  # None here: the decoder's output reduction, so masks match the input at any depth


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def test_all_twelve_are_registered_with_constructors():
    assert sorted(ENTRIES) == sorted(
        ["unet", "unetplusplus", "manet", "linknet", "fpn", "pspnet", "pan", "deeplabv3", "deeplabv3plus",
         "upernet", "segformer", "dpt"]
    )
    assert all(entry.constructor_name for entry in ENTRIES.values())


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_constructor_defaults_are_the_params_models(name: str) -> None:
    entry = ENTRIES[name]
    signature = inspect.signature(entry.load_constructor()).parameters
    defaults = entry.load_params_model()().model_dump()
    for field, default in defaults.items():
        if field in signature:
            assert _plain(signature[field].default) == _plain(default), field
    # a params field smp's constructor lacks still reaches the decoder, through **kwargs
    for field in set(defaults) - set(signature):
        assert "kwargs" in signature
        spec = seghub.spec_from_smp_arguments(name, **{field: defaults[field]})
        assert spec["decoder"]["params"] == {field: _json(defaults[field])}
    extra = set(signature) - set(defaults) - GENERIC - {"encoder_depth", "encoder_output_stride", "encoder_output_indices"}
    assert extra == set(), f"{entry.constructor_name} has arguments that are neither params nor smp's generic ones"
    # the encoder settings a decoder prefers are its constructor's defaults too
    spec_defaults = {f: EncoderSpec.model_fields[f].default for f in ("depth", "output_stride")}
    preferred = {**spec_defaults, **entry.encoder_defaults}
    assert signature["encoder_depth"].default == preferred["depth"]
    if "encoder_output_stride" in signature:
        assert signature["encoder_output_stride"].default == preferred["output_stride"]


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_constructor_signature_is_smps(name: str) -> None:
    entry = ENTRIES[name]
    ours = inspect.signature(entry.load_constructor()).parameters
    theirs = {k: v for k, v in inspect.signature(getattr(smp, entry.constructor_name).__init__).parameters.items() if k != "self"}
    assert list(ours) == list(theirs)  # same names, same order
    for arg, parameter in theirs.items():
        if arg not in DELIBERATE and parameter.default is not inspect.Parameter.empty:
            assert _plain(ours[arg].default) == _plain(parameter.default), arg


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_factory_takes_exactly_the_params_without_defaults(name: str) -> None:
    entry = ENTRIES[name]
    factory = entry.load_factory()
    parameters = {k: v for k, v in inspect.signature(factory).parameters.items() if k != "self"}
    fields = set(entry.load_params_model().model_fields)
    protocol = {"encoder_channels", "encoder_reductions"} | ({"encoder_prefix_tokens"} if name == "dpt" else set())
    assert set(parameters) == fields | protocol
    assert all(parameters[f].kind is inspect.Parameter.KEYWORD_ONLY for f in fields)
    assert [f for f in fields if parameters[f].default is not inspect.Parameter.empty] == []


LAYOUTS = [
    (2, 4, 8, 16, 32), (2, 4, 8, 16, 16), (2, 4, 8, 8, 8), (4, 8, 16, 32), (2, 4, 8), (2, 4), (2,), (4,), (32,),
    (8, 16), (16, 32), (4, 8, 16), (16, 16, 16, 16), (8, 8, 8, 8), (14, 14, 14, 14), (3, 6, 12, 24), (2, 4, 8, 32),
]


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("reductions", LAYOUTS, ids=lambda r: ".".join(map(str, r)))
def test_declared_feature_rule_is_what_the_factory_accepts(name: str, reductions: tuple[int, ...]) -> None:
    entry = ENTRIES[name]
    raw: dict[str, Any] = {}  # widths per feature or per block are params, not the feature rule: fit them
    if name == "dpt":
        raw = {"decoder_intermediate_channels": [8] * len(reductions)}
    if name in ("unet", "unetplusplus", "manet"):
        try:
            raw = {"decoder_channels": [16] * SkipLevels(name, (16,) * len(reductions), reductions).num_blocks}
        except ValueError:
            pass
    params = entry.validate_params(raw)
    problem = entry.constraints.features.problem(reductions)
    channels = (16,) * len(reductions)
    try:
        entry.create(encoder_channels=channels, encoder_reductions=reductions, params=params)
    except SpecError as exc:
        assert isinstance(exc.__cause__, ValueError)
        assert problem is not None, f"{name} refused {reductions} its constraints accept: {exc}"
    else:
        assert problem is None, f"{name} built {reductions} its constraints refuse: {problem}"
