"""One error type for everything a user can get wrong, printed on one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ScenarioError(Exception):
    """A problem with user input: a scenario file, a ``--set`` override or a CLI flag.

    The CLI prints ``str(error)`` and exits with code 2, never a traceback.

    Args:
        message: What is wrong, in plain words.
        file: The file the problem is in, when known.
        line: The 1-based line in ``file``, when YAML gives it.
        path: The dotted key path (``policies.leaderboard.prize``).
        allowed: The valid choices; the closest ones are offered as "did you mean".
        got: The offending name, used to find close matches in ``allowed``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        allowed: Iterable[str] | None = None,
        got: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        self.allowed = sorted(allowed) if allowed is not None else None
        self.got = got
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = where + (f"{self.path}: " if self.path else "") + self.message
        if self.allowed is not None:
            if self.got is not None:
                close = difflib.get_close_matches(str(self.got), self.allowed, n=1, cutoff=0.6)
                if close:
                    text += f"; did you mean '{close[0]}'?"
            text += (" Allowed: " + ", ".join(self.allowed) + ".") if self.allowed else " There are none to choose from."
        return " ".join(text.split())  # always one line
