"""Developer sessions: ``nox -s tests`` (what CI runs) and ``nox -s demo`` (the main job)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

PACKAGES = ("./seghub-core", "./seghub-encoders-resnet", "./seghub-decoders", "./seghub-encoders-timm")
# training on Lightning: installed by `tests` and `lightning_benchmark`, not needed by the demo
LIGHTNING = "./seghub-lightning"
# The CUDA wheels of these lie on the build machines' disk; torchvision is needed only by timm.
TORCH = ("torch==2.14.1", "torchvision==0.29.1")
# onnx, onnxscript (torch.onnx.export(..., dynamo=True)) and onnxruntime: tests/integration/test_export.py;
# torchmetrics: seghub-core's "metrics" extra (ConfusionMatrixMetric), tests/core/test_metrics_*.py;
# hypothesis: tests/integration/test_spec_properties.py; monai: the reference of
# tests/core/test_inference_sliding.py
TEST_DEPS = (
    "pytest>=8",
    "hypothesis==6.170.17",
    "segmentation-models-pytorch==0.6.0",
    "torchmetrics==1.9.0",
    "onnx==1.23.2",
    "onnxscript==0.7.2",
    "onnxruntime==1.32.0",
    "monai==1.6.1",
)
EXAMPLE = "examples/seghub-example-encoder"


def _install_seghub(session: nox.Session) -> None:
    session.install(*TORCH)
    session.install(*PACKAGES)


def _test_example_plugin(session: nox.Session) -> None:
    """Build the example third-party plugin as a wheel, install it (not editable) next to the four
    packages, run its own tests, then check that seghub's CLI and decoders use it."""
    wheels = Path(session.create_tmp()) / "example-wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    # run_install: building the wheel is part of installing, so `nox --install-only` does it too
    # (session.run is skipped there, and the install below would get no wheel).
    session.run_install("python", "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), EXAMPLE)
    session.install(*(str(wheel) for wheel in wheels.glob("*.whl")))
    session.run("pytest", f"{EXAMPLE}/tests", "-q", *session.posargs)
    session.run("pytest", "tests/integration/test_example_plugin.py", "-q", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Install the four packages and seghub-lightning (not editable) and the test-only
    dependencies; run pytest on the suite, then install the example plugin into the same
    virtualenv and test it there.

    One virtualenv serves both: PyTorch's CUDA build takes 5.5 GB, and CI machines may not hold
    two. The suite runs before the example plugin is installed, so it sees only seghub's own
    plugins."""
    _install_seghub(session)
    session.install(LIGHTNING, *TEST_DEPS)
    session.run("pytest", "tests", "-q", *session.posargs)
    _test_example_plugin(session)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: ``seghub demo`` trains the shipped Unet on synthetic shapes for 30 s, writes
    seghub-demo.png and prints the IoU reached (``nox -s demo -- --seconds 60`` passes options)."""
    _install_seghub(session)
    session.run("seghub", "demo", *session.posargs)


@nox.session
def benchmarks(session: nox.Session) -> None:
    """seghub next to smp: cold start, build, forward, train step time and memory. CPU-heavy and
    not run by CI; ``nox -s benchmarks -- --quick`` passes options to benchmarks/compare_smp.py."""
    _install_seghub(session)
    session.install("segmentation-models-pytorch==0.6.0")
    session.run("python", "benchmarks/compare_smp.py", *session.posargs)


@nox.session
def lightning_benchmark(session: nox.Session) -> None:
    """An epoch of SegmentationTask + Trainer against a plain loop: step time and peak memory.
    Not run by CI; ``nox -s lightning_benchmark -- --quick`` passes options to
    benchmarks/lightning_overhead.py."""
    _install_seghub(session)
    session.install(LIGHTNING)
    session.run("python", "benchmarks/lightning_overhead.py", *session.posargs)


@nox.session
def example_plugin(session: nox.Session) -> None:
    """Only the example plugin's part of ``tests``, in a virtualenv of its own."""
    _install_seghub(session)
    session.install("pytest>=8")
    _test_example_plugin(session)
