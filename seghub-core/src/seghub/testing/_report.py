"""What a conformance check found: :class:`ConformanceError` and :class:`ConformanceReport` (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["ConformanceError", "ConformanceReport", "one_line"]


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, newlines included, made one space."""
    return " ".join(text.split())


class ConformanceError(AssertionError):
    """A plugin's encoder or decoder breaks the seghub contract.

    An ``AssertionError``, so pytest shows it as a test failure. ``problems`` holds one line per
    problem, each saying what is wrong and what to change.
    """

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{subject} does not conform ({count} problem{'s' if count != 1 else ''}):\n{lines}")


@dataclass
class ConformanceReport:
    """The outcome of :func:`~seghub.testing.check_encoder` or :func:`~seghub.testing.check_decoder`.

    ``checked``: configurations that were built and passed; ``refused``: configurations the
    plugin refused cleanly (with ``ValueError``), with its message; ``skipped``: checks not run,
    with the reason; ``problems``: what breaks the contract (empty when the check passed).
    """

    subject: str
    checked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        """Record a problem (what is wrong, then what to change), as one line."""
        self.problems.append(one_line(message))

    def refusal(self, message: str) -> None:
        """Record a configuration the plugin refused cleanly, as one line."""
        self.refused.append(one_line(message))

    def raise_if_failed(self) -> None:
        """Raise :class:`ConformanceError` listing every problem, if there is any."""
        if self.problems:
            raise ConformanceError(self.subject, self.problems)

    def __str__(self) -> str:
        parts = [f"{self.subject}: {len(self.checked)} configurations passed"]
        parts += [f"refused {item}" for item in self.refused]
        parts += [f"skipped {item}" for item in self.skipped]
        parts += [f"PROBLEM {item}" for item in self.problems]
        return "\n  ".join(parts)
