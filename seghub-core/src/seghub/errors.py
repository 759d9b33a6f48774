"""The exceptions seghub raises; every one says what was wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SeghubError",
    "SpecError",
    "SpecIssue",
    "PluginError",
    "UnknownNameError",
    "MissingConstructorError",
    "PluginConflictError",
    "ProtocolError",
    "InputShapeError",
    "WeightsError",
]


class SeghubError(Exception):
    """Base class of seghub's errors."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec, located by its path from the spec root."""

    loc: tuple[str | int, ...]
    message: str

    @property
    def path(self) -> str:
        """The location as a dotted path, ``decoder.params.decoder_channels``."""
        text = ""
        for part in self.loc:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        return text or "<spec>"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(SeghubError, ValueError):
    """A model spec is invalid; ``issues`` lists each problem with its location."""

    def __init__(self, issues: Sequence[SpecIssue]):
        self.issues = tuple(issues)
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"invalid model spec ({count} problem{'s' if count != 1 else ''}):\n{lines}")


class PluginError(SeghubError):
    """A plugin could not be loaded or misbehaved."""


class UnknownNameError(SeghubError, LookupError, ValueError):
    """No plugin offers the requested encoder or decoder (a bad value in a spec or call)."""


class MissingConstructorError(PluginError, AttributeError):
    """No installed plugin registers the smp-style constructor asked for (``seghub.Unet``).

    An ``AttributeError`` too, so ``hasattr(seghub, name)`` and ``getattr`` with a default work.
    """


class PluginConflictError(SeghubError, LookupError):
    """Two plugins offer the same name and the spec did not pick one with ``provider``."""


class ProtocolError(SeghubError, TypeError):
    """An encoder or decoder does not satisfy the seghub protocol."""


class InputShapeError(SeghubError, ValueError):
    """The input's height or width cannot be taken by the model."""


class WeightsError(SeghubError, OSError):
    """Pretrained weights could not be found, downloaded or read."""
