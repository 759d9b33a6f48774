"""Developer sessions: ``nox -s tests`` (what CI runs) and ``nox -s demo`` (the main job)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

PACKAGES = ("./seghub-core", "./seghub-encoders-resnet", "./seghub-decoders", "./seghub-encoders-timm")
# The CUDA wheels of these lie on the build machines' disk; torchvision is needed only by timm.
TORCH = ("torch==2.14.1", "torchvision==0.29.1")
TEST_DEPS = ("pytest>=8", "segmentation-models-pytorch==0.6.0")


def _install_seghub(session: nox.Session) -> None:
    session.install(*TORCH)
    session.install(*PACKAGES)


@nox.session
def tests(session: nox.Session) -> None:
    """Install the four packages (not editable) and the test-only dependencies; run pytest."""
    _install_seghub(session)
    session.install(*TEST_DEPS)
    session.run("pytest", "tests", "-q", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: validate and build the example spec, print its summary."""
    _install_seghub(session)
    session.run("seghub", "plugins")
    session.run("seghub", "build", "examples/specs/unet_resnet34.json", *session.posargs)
