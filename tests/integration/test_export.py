"""torch.compile, torch.export, ONNX and channels_last for all twelve architectures.

Each architecture runs on ``resnet18`` and on a tiny timm encoder (``timm:test_convnext``; a
plain ViT, ``timm:test_vit``, for DPT). ResNet-18 stands in for ResNet-34 to save time: they
share every code path, and tracing time grows with depth. The other eleven also run
``torch.compile`` and ``torch.export`` on the plain ViT, through the neck the builder puts in
where they need one. Models are in eval mode with
batch-norm statistics taken from one batch, so outputs are of order one and absolute
tolerances mean something. Every check runs at two inputs that differ in batch, height and
width, against the eager model.

``torch.compile`` uses the ``eager`` backend: graph breaks, dynamic shapes and recompilation are
decided by Dynamo, and inductor's CPU code generation would cost about a minute per model here.
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch.export import Dim
from torch.nn.modules.batchnorm import _BatchNorm

import seghub

ARCHITECTURES = (
    "unet", "unetplusplus", "manet", "linknet", "fpn", "pspnet",
    "pan", "deeplabv3", "deeplabv3plus", "upernet", "segformer", "dpt",
)
RESNET = "resnet18"
# Smallest height and width exported: every internal map must be at least 2x2 (tracing assumes
# a size of 1 is not reached: it broadcasts differently), and PAN's pyramid attention needs its
# coarsest feature to be at least 8x8.
MIN_SIDE = {"pan": 128}
DEFAULT_MIN_SIDE = 64
ATOL = RTOL = 1e-4

pytestmark = pytest.mark.usefixtures("one_thread")


def _timm_encoder(architecture: str) -> str:
    return "timm:test_vit" if architecture == "dpt" else "timm:test_convnext"


CASES = [
    pytest.param((encoder, architecture), id=f"{architecture}-{encoder}")
    for architecture in ARCHITECTURES
    for encoder in (RESNET, _timm_encoder(architecture))
]


@dataclass
class Case:
    encoder: str
    architecture: str
    model: seghub.SegmentationModel
    inputs: tuple[torch.Tensor, torch.Tensor]
    expected: tuple[torch.Tensor, torch.Tensor]
    dynamic_shapes: dict[str, dict[int, object]]
    program: torch.export.ExportedProgram | None = None

    def exported(self) -> torch.export.ExportedProgram:
        """The model exported with dynamic batch, height and width (once per case)."""
        if self.program is None:
            self.program = torch.export.export(self.model, (self.inputs[0],), dynamic_shapes=self.dynamic_shapes)
        return self.program


def _calibrate(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Set every batch norm's running statistics to those of one batch."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: after one batch, exactly its statistics
    model.train()
    with torch.no_grad():
        model(x)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.eval()


VIT_CASES = [
    pytest.param(("timm:test_vit", architecture), id=f"{architecture}-timm:test_vit")
    for architecture in ARCHITECTURES
    if architecture != "dpt"
]


@pytest.fixture(scope="module", params=CASES)
def case(request: pytest.FixtureRequest) -> Case:
    """The model, two inputs, eager outputs and export's dynamic shapes; pytest runs every test
    of one case before building the next."""
    return _case(*request.param)


@pytest.fixture(scope="module", params=VIT_CASES)
def vit_case(request: pytest.FixtureRequest) -> Case:
    """A plain ViT under a decoder other than DPT (with the neck the builder picks, if any)."""
    return _case(*request.param)


def _case(encoder: str, architecture: str) -> Case:
    torch.manual_seed(0)
    # DPT reads out prefix tokens only from a ViT; other encoders have none
    params = {"decoder_readout": "ignore"} if architecture == "dpt" and "vit" not in encoder else {}
    model = seghub.build_model(
        {
            "encoder": {"name": encoder},
            "decoder": {"name": architecture, "params": params},
            "segmentation_head": {"classes": 3},
        }
    )
    if architecture == "manet":
        # MA-Net's position attention takes one softmax over unscaled dot products; at random
        # init they reach about 1e2, the softmax is one-hot and float rounding is amplified
        # (channels_last alone moves outputs by 1e-3). Smaller query and key weights keep the
        # comparison meaningful at 1e-4.
        with torch.no_grad():
            for conv in (model.decoder.center.top_conv, model.decoder.center.center_conv):
                conv.weight.mul_(0.1)
    step = model.input_divisor
    low = -(-MIN_SIDE.get(architecture, DEFAULT_MIN_SIDE) // step)
    # H != W in both, so Dynamo's duck sizing cannot tie them together; none of batch, H / step
    # and W / step is 1 in the first (export example) input, which tracing would specialise
    first = torch.randn(2, 3, (low + 1) * step, (low + 2) * step)
    second = torch.randn(3, 3, (low + 3) * step, (low + 1) * step)
    _calibrate(model, torch.randn(4, 3, (low + 1) * step, (low + 1) * step))
    with torch.no_grad():
        expected = (model(first), model(second))
    dims = {
        "x": {
            0: Dim("batch", min=1, max=16),
            2: Dim("height", min=low, max=32) * step,
            3: Dim("width", min=low, max=32) * step,
        }
    }
    return Case(encoder, architecture, model, (first, second), expected, dims)


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, atol=ATOL, rtol=RTOL)


def test_compile_fullgraph_dynamic_no_recompile(case: Case) -> None:
    _check_compile(case)


def test_export_dynamic_batch_height_width(case: Case) -> None:
    _check_export(case)


def test_vit_pairs_compile_fullgraph_dynamic_no_recompile(vit_case: Case) -> None:
    _check_compile(vit_case)


def test_vit_pairs_export_dynamic_batch_height_width(vit_case: Case) -> None:
    _check_export(vit_case)


def _check_compile(case: Case) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(case.model, fullgraph=True, dynamic=True, backend="eager")
    with torch.no_grad():
        _close(compiled(case.inputs[0]), case.expected[0])
        # another batch, height and width must reuse the graph: a recompilation raises here
        with torch._dynamo.config.patch(error_on_recompile=True):
            _close(compiled(case.inputs[1]), case.expected[1])


def _check_export(case: Case) -> None:
    # the model's input-size check is skipped while exporting: it would otherwise pin H and W
    program = case.exported()
    placeholder = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == "x")
    shape = placeholder.meta["val"].shape
    assert all(isinstance(shape[i], torch.SymInt) for i in (0, 2, 3)), shape
    module = program.module()
    for x, expected in zip(case.inputs, case.expected):
        _close(module(x), expected)


def test_onnx_runtime_matches_eager(case: Case, tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter reports its steps on stdout
        # onnxscript's graph optimiser is skipped (half the export time); onnxruntime optimises
        onnx_program = torch.onnx.export(
            case.exported(), dynamo=True, optimize=False, input_names=["x"], output_names=["mask"]
        )
    path = tmp_path / "model.onnx"
    onnx_program.save(str(path))
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    input_shape = session.get_inputs()[0].shape
    assert all(isinstance(input_shape[i], str) for i in (0, 2, 3)), input_shape  # named, dynamic axes
    for x, expected in zip(case.inputs, case.expected):
        (mask,) = session.run(None, {"x": x.numpy()})
        _close(torch.from_numpy(mask), expected)


def test_channels_last_gives_the_same_outputs(case: Case) -> None:
    model = copy.deepcopy(case.model).to(memory_format=torch.channels_last)
    kernels = [p for p in model.parameters() if p.ndim == 4]
    assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    with torch.no_grad():
        for x, expected in zip(case.inputs, case.expected):
            _close(model(x.contiguous(memory_format=torch.channels_last)), expected)
