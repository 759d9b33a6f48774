"""The conformance kit (seghub.testing): it passes conforming toys and fails broken ones,
naming what to fix."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seghub
from seghub.testing import ConformanceError, check_decoder, check_encoder, synthetic_encoder
from seghub.testing._synthetic import synthetic_registered
from toy_plugins import ToyDecoder, ToyEncoder, toy_module

Factories = dict[str, Callable[..., Any]]


@pytest.fixture
def register(hub: seghub.plugins.PluginHub) -> Callable[..., None]:
    """``register(encoders={name: factory}, decoders={name: factory})`` in-process."""

    def add(encoders: Factories | None = None, decoders: Factories | None = None) -> None:
        class Plugin:
            @seghub.hookimpl
            def seghub_register_encoders(self, registry: seghub.Registry) -> None:
                for name, factory in (encoders or {}).items():
                    registry.add_encoder(name, factory=factory)

            @seghub.hookimpl
            def seghub_register_decoders(self, registry: seghub.Registry) -> None:
                for name, factory in (decoders or {}).items():
                    registry.add_decoder(name, factory=factory)

        hub.register(Plugin(), "kit-toys")

    return add


def _problems(excinfo: pytest.ExceptionInfo[ConformanceError]) -> str:
    return "\n".join(excinfo.value.problems)


# -- conforming toys pass ------------------------------------------------------------------


def test_conforming_encoder_passes_and_clean_refusals_are_reported(toy):
    report = check_encoder("toy")
    assert len(report.checked) == 5 + 2  # depths 1..5, then in_channels 1 and 4 at depth 5
    assert [r.split("]")[0] + "]" for r in report.refused] == [
        "[depth=5, in_channels=3, output_stride=8]",
        "[depth=5, in_channels=3, output_stride=16]",
    ]
    assert "output_stride 8 is not supported" in report.refused[0]
    assert report.skipped and "in-process" in report.skipped[0] and not report.problems


def test_conforming_decoder_passes_with_the_synthetic_and_a_named_encoder(toy):
    report = check_decoder("toyhead")
    assert len(report.checked) == 1 + 5 + 2 and not report.refused
    report = check_decoder("toyhead", encoder={"name": "toy", "depth": 3}, depths=(2,), output_strides=(8,))
    assert len(report.checked) == 2 and "output_stride 8 is not supported" in report.refused[0]


def test_kit_leaves_the_callers_threads_and_random_state_alone(toy):
    threads, state = torch.get_num_threads(), torch.get_rng_state()
    check_encoder("toy", depths=(2,), in_channels=(), output_strides=())
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)


def test_kit_failures_are_assertion_errors_naming_the_subject(toy):
    with pytest.raises(AssertionError, match="(?s)encoder 'no_such_encoder' does not conform.*cannot load it"):
        check_encoder("no_such_encoder")
    with pytest.raises(ConformanceError, match="entry point in the `seghub` group"):
        check_decoder("no_such_decoder")


# -- broken encoders fail --------------------------------------------------------------------


class WrongChannels(ToyEncoder):
    """Declares one channel more than its last stage gives."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out_channels = (*self.out_channels[:-1], self.out_channels[-1] + 1)


class IgnoresInChannels(ToyEncoder):
    """Always builds an RGB stem but claims the requested in_channels."""

    def __init__(self, *, in_channels: int, **kwargs: Any) -> None:
        super().__init__(in_channels=3, **kwargs)
        self.in_channels = in_channels


class DeadParameter(ToyEncoder):
    """Holds a layer forward never uses."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unused_head = nn.Linear(4, 4)


class TooManyFeatures(ToyEncoder):
    """Builds one stage more than depth allows."""

    def __init__(self, *, depth: int, **kwargs: Any) -> None:
        super().__init__(depth=depth + 1, **kwargs)


class IgnoresOutputStride(ToyEncoder):
    """Accepts output_stride 8 and 16 but keeps striding to 32."""

    def __init__(self, *, output_stride: int, **kwargs: Any) -> None:
        super().__init__(output_stride=32, **kwargs)


class DataDependent(ToyEncoder):
    """Branches on tensor values in forward: neither exportable nor compilable in one graph."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = super().forward(x)
        if features[-1].mean() > 0:
            features[-1] = features[-1] * 2
        return features


def crashes_below_depth_3(*, depth: int, **kwargs: Any) -> ToyEncoder:
    """Indexes a table instead of refusing: KeyError for depth 1 and 2."""
    return ToyEncoder(depth={3: 3, 4: 4, 5: 5}[depth], **kwargs)


def refuses_everything(**kwargs: Any) -> ToyEncoder:
    raise ValueError("not today")


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (WrongChannels, r"feature 4 has 64 channels, declared 65; make forward return what out_channels"),
        (IgnoresInChannels, r"in_channels=1, output_stride=32\]: forward on a \(2, 1, 64, 64\) input raised RuntimeError"),
        (DeadParameter, r"no gradient reaches unused_head.weight, unused_head.bias; build only the layers"),
        (TooManyFeatures, r"\[depth=1, .*declares 2 feature maps; depth 1 allows at most 1"),
        (IgnoresOutputStride, r"output_stride=16\]: declares .* reductions \(2, 4, 8, 16, 32\); expected .*\(2, 4, 8, 16, 16\)"),
        (crashes_below_depth_3, r"\[depth=1, .*the factory raised KeyError: 1 \(at .*test_conformance_kit.py:\d+ .*refuse unsupported settings with ValueError"),
        (refuses_everything, r"every depth in \(1, 2, 3, 4, 5\) was refused"),
    ],
    ids=["channels", "in_channels", "dead-parameter", "depth", "output_stride", "crash", "refuses-all"],
)
def test_broken_encoder_fails_naming_the_fix(register, factory, expected):
    register(encoders={"acme_net": factory})
    with pytest.raises(ConformanceError, match="encoder 'acme_net' does not conform") as excinfo:
        check_encoder("acme_net")
    assert any(re.search(expected, p) for p in excinfo.value.problems), _problems(excinfo)


def test_crash_at_one_depth_does_not_hide_the_depths_that_work(register):
    register(encoders={"acme_net": crashes_below_depth_3})
    with pytest.raises(ConformanceError) as excinfo:
        check_encoder("acme_net", in_channels=(), output_strides=())
    assert len(excinfo.value.problems) == 2  # depths 1 and 2


def test_export_check_catches_data_dependent_control_flow(register):
    register(encoders={"acme_net": DataDependent})
    check_encoder("acme_net", depths=(3,), in_channels=(), output_strides=())  # eager is fine
    with pytest.raises(ConformanceError, match=r"torch.export.export failed: .*data-dependent"):
        check_encoder("acme_net", depths=(3,), in_channels=(), output_strides=(), export=True)


def test_compile_check_catches_graph_breaks(register):
    register(encoders={"acme_net": DataDependent, "toy_net": ToyEncoder})
    check_encoder("toy_net", depths=(2,), in_channels=(), output_strides=(), compile="eager")
    with pytest.raises(ConformanceError, match=r"torch.compile\(fullgraph=True, backend='eager'\) failed"):
        check_encoder("acme_net", depths=(2,), in_channels=(), output_strides=(), compile="eager")


class WrongTokens(ToyEncoder):
    """Claims one prefix token but hands back two per feature."""

    num_prefix_tokens = 1

    def forward_with_tokens(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        features = self(x)
        return features, [f.new_zeros(f.shape[0], 2, f.shape[1]) for f in features]


def test_prefix_tokens_must_match_num_prefix_tokens(register):
    register(encoders={"acme_vit": WrongTokens})
    with pytest.raises(ConformanceError, match=r"with num_prefix_tokens=1 they must be \[\(2, 1, 4\)"):
        check_encoder("acme_vit", depths=(1,), in_channels=(), output_strides=())


# -- import lightness (installed plugins) ------------------------------------------------------


def test_installed_light_plugin_passes_the_import_check(fake_dist):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    report = check_encoder("acme_enc", depths=(2,), in_channels=(), output_strides=())
    assert not report.skipped


def test_plugin_importing_torch_at_top_level_fails(fake_dist):
    fake_dist("heavy-seghub", "heavy", "heavy_plugin", "import torch\n" + toy_module())
    with pytest.raises(ConformanceError, match=r"loading the plugin module 'heavy_plugin' \(entry point of heavy-seghub\).* imports torch"):
        check_decoder("acme_head", depths=(), output_strides=())


def test_importing_the_kit_imports_no_torch():
    code = "import sys, seghub.testing; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- broken decoders fail ----------------------------------------------------------------------


class WrongReduction(ToyDecoder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reduction *= 2


class DeadDecoderParameter(ToyDecoder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spare = nn.Conv2d(8, 8, 1)


class NeedsThreeFeatures(ToyDecoder):
    """Refuses cleanly what it cannot use."""

    def __init__(self, *, encoder_channels: tuple[int, ...], encoder_reductions: tuple[int, ...], **kwargs: Any) -> None:
        if len(encoder_channels) < 3:
            raise ValueError(f"needs 3 features, the encoder gives {len(encoder_channels)}")
        super().__init__(encoder_channels=encoder_channels, encoder_reductions=encoder_reductions, **kwargs)


class CrashesOnShallowEncoders(ToyDecoder):
    def __init__(self, *, encoder_channels: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(encoder_channels=encoder_channels, **kwargs)
        self.extra = nn.Conv2d(encoder_channels[2], 8, 1)  # IndexError below depth 3

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return super().forward(features) + self.extra(features[2]).mean()


class FalselyFlexible(ToyDecoder):
    """Waives the divisibility rule but upsamples by a fixed factor."""

    requires_divisible_input = False

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        fine = self.fine(features[0])
        coarse = F.interpolate(self.coarse(features[-1]), scale_factor=fine.shape[-1] // features[-1].shape[-1] or 1)
        return fine + coarse


class TokensOnTheInstanceOnly(ToyDecoder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uses_prefix_tokens = True


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (WrongReduction, r"returned \(32, 32\) for a 64x64 input; reduction 4 means \(16, 16\); declare the channels and reduction"),
        (DeadDecoderParameter, r"no gradient reaches decoder parameters spare.weight, spare.bias"),
        (CrashesOnShallowEncoders, r"depth=1\]: building raised IndexError: .*refuse features the decoder cannot use with ValueError"),
        (FalselyFlexible, r"requires_divisible_input=False: input 65x65\)"),
        (TokensOnTheInstanceOnly, r"uses_prefix_tokens=True but its registered factory says False; declare it as a class attribute"),
    ],
    ids=["reduction", "dead-parameter", "crash", "divisibility", "prefix-tokens"],
)
def test_broken_decoder_fails_naming_the_fix(register, factory, expected):
    register(decoders={"acme_head": factory})
    with pytest.raises(ConformanceError, match="decoder 'acme_head' does not conform") as excinfo:
        check_decoder("acme_head")
    assert any(re.search(expected, p) for p in excinfo.value.problems), _problems(excinfo)


def test_clean_decoder_refusals_pass_but_refusing_the_chosen_encoder_fails(register):
    register(decoders={"acme_head": NeedsThreeFeatures})
    report = check_decoder("acme_head")
    assert [r.split(":")[0] for r in report.refused] == [
        "[encoder name=seghub-testing-synthetic, depth=1]",
        "[encoder name=seghub-testing-synthetic, depth=2]",
    ]
    with pytest.raises(ConformanceError, match=r"depth=2\]: refused: .*needs 3 features, the encoder gives 2"):
        check_decoder("acme_head", encoder=synthetic_encoder(depth=2))


def test_synthetic_encoder_imitates_any_layout(toy):
    with synthetic_registered():
        vit_like = seghub.build_model({"encoder": synthetic_encoder((8, 8, 16), (16, 16, 16)), "decoder": {"name": "toyhead"}})
        dilated = seghub.build_model({"encoder": synthetic_encoder(output_stride=8), "decoder": {"name": "toyhead"}})
    assert vit_like.encoder.reductions == (16, 16, 16)
    assert [tuple(f.shape[-2:]) for f in vit_like.encoder(torch.zeros(1, 3, 64, 96))] == [(4, 6)] * 3
    assert dilated.encoder.reductions == (2, 4, 8, 8, 8)
    assert "seghub.testing" not in [p.name for p in toy.plugins()]  # registered only inside the block
