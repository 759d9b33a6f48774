"""The exceptions seghub raises; every one says what was wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._excerpt import shorten

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


MAX_SHOWN_ISSUES = 20
"""Issues a :class:`SpecError` message shows (all of them stay in ``issues``)."""
_MAX_KEY = 40
_MAX_ISSUE = 1000


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
            # a key is user input too: an unknown key of a million characters is quoted short
            key = shorten(str(part), _MAX_KEY)
            text += f"[{part}]" if isinstance(part, int) else (f".{key}" if text else key)
        return text or "<spec>"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(SeghubError, ValueError):
    """A model spec (or another validated config, named by ``subject``) is invalid; ``issues``
    lists each problem with its location.

    The message shows the first :data:`MAX_SHOWN_ISSUES` (a list of a million bad entries
    gives a million issues) and says how many more there are.
    """

    def __init__(self, issues: Sequence[SpecIssue], subject: str = "model spec"):
        self.issues = tuple(issues)
        self.subject = subject
        count = len(self.issues)
        shown = [f"  {shorten(str(issue), _MAX_ISSUE)}" for issue in self.issues[:MAX_SHOWN_ISSUES]]
        if count > MAX_SHOWN_ISSUES:
            shown.append(f"  ... and {count - MAX_SHOWN_ISSUES} more")
        lines = "\n".join(shown)
        super().__init__(f"invalid {subject} ({count} problem{'s' if count != 1 else ''}):\n{lines}")


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
