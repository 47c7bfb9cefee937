"""What every command shares on the terminal: errors, warnings, info lines, colour and progress.

- :class:`UserError`: bad input or configuration; the CLI prints ``<command>: error: <message>``
  and exits 2 (no traceback).
- :func:`did_you_mean`: the closest of a set of names, for error messages.
- :class:`Console`: ``info`` (hidden by ``--quiet``), ``warn`` (labelled ``warning:``, never
  hidden), and a :class:`Progress` line on stderr for long runs, shown only when stderr is a
  terminal or ``--progress`` asks for it (it never goes to stdout, so machine output stays clean).
- :func:`use_color`: colour only on a terminal, never with ``NO_COLOR`` set (https://no-color.org),
  ``--color always|never`` overriding both.
"""
from __future__ import annotations

import difflib
import os
import sys
import time
from typing import Iterable, Iterator, Optional, TextIO, TypeVar

T = TypeVar("T")

#: Seconds a run must last before progress appears (a short run prints nothing).
PROGRESS_DELAY = 1.0


class UserError(Exception):
    """Bad input, flags or configuration: reported as ``<command>: error: <message>``, exit 2."""


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean --stack?)`` or ``""``; a choice that differs only in case is the answer
    (``--format JSON`` -> ``json``)."""
    choices = list(choices)
    same = [c for c in choices if c.lower() == word.lower() and c != word]
    if same:
        return f" (did you mean {same[0]}?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return f" (did you mean {close[0]}?)" if close else ""


def plural(n: int, singular: str, plural_form: Optional[str] = None) -> str:
    """``1 violation``, ``2 violations``, ``0 policies``."""
    if n == 1:
        return f"1 {singular}"
    if plural_form is None:
        plural_form = singular[:-1] + "ies" if singular.endswith("y") and singular[-2:-1] not in "aeiou" \
            else singular + "s"
    return f"{n:,} {plural_form}"


def use_color(stream: TextIO, mode: str = "auto") -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


_CODES = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
          "bold": "1", "dim": "2"}


def paint(text: str, style: str, enabled: bool) -> str:
    if not enabled or not text:
        return text
    codes = ";".join(_CODES[s] for s in style.split("+"))
    return f"\033[{codes}m{text}\033[0m"


def _noun(n: int, plural_noun: str) -> str:
    return plural_noun[:-1] if n == 1 and plural_noun.endswith("s") else plural_noun


class Progress:
    """``check: 1,200/5,000 resources`` on stderr, at most every *interval* seconds, only after
    *delay* seconds (a short run prints nothing). On a terminal the line is rewritten in place
    and cleared at the end; elsewhere (``--progress`` in a CI log) each update is a new line."""

    def __init__(self, stream: TextIO, label: str, *, enabled: bool, total: Optional[int] = None,
                 delay: Optional[float] = None, interval: float = 1.0, clock=time.monotonic):
        self.stream, self.label, self.enabled, self.total = stream, label, enabled, total
        self.delay = PROGRESS_DELAY if delay is None else delay
        self.interval, self.clock = interval, clock
        self.tty = bool(getattr(stream, "isatty", None) and stream.isatty())
        self.start = clock()
        self.last = -1e9
        self.count = 0
        self.shown = False

    def update(self, count: int, what: str = "resources", force: bool = False) -> None:
        self.count = count
        if not self.enabled:
            return
        now = self.clock()
        if not force and (now - self.start < self.delay or now - self.last < self.interval):
            return
        self.last = now
        total = f"/{self.total:,}" if self.total else ""
        text = f"{self.label}: {count:,}{total} {_noun(count, what)} ({now - self.start:.0f}s)"
        if self.tty:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = True

    def stage(self, text: str) -> None:
        """A named step (``analysing the stack``), shown under the same rules as :meth:`update`."""
        if not self.enabled or self.clock() - self.start < self.delay:
            return
        line = f"{self.label}: {text}"
        self.stream.write(("\r\033[K" + line) if self.tty else line + "\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.enabled and self.shown and self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def iterate(self, items: Iterable[T], what: str = "resources") -> Iterator[T]:
        n = 0
        for item in items:
            n += 1
            if n % 64 == 0:
                self.update(n, what)
            yield item
        self.count = n
        if self.shown:
            self.update(n, what, force=True)
        self.stage(f"{n:,} {_noun(n, what)} read; waiting for the pack's verdicts")


class Console:
    """stderr for one command: ``info`` (not with --quiet), ``warn`` (always), ``progress``."""

    def __init__(self, command: str, *, quiet: bool = False, progress: Optional[bool] = None,
                 color: str = "auto", err: Optional[TextIO] = None):
        self.command = command
        self.quiet = quiet
        self._err = err
        self.color = use_color(self.err, color)
        tty = bool(getattr(self.err, "isatty", None) and self.err.isatty())
        # --progress forces it on, --no-progress off; by default only on a terminal and not with --quiet
        self.show_progress = progress if progress is not None else (tty and not quiet)
        self.warnings = 0

    @property
    def err(self) -> TextIO:
        """The stream given, else ``sys.stderr`` as it is now: while Helm's Go output is captured
        (hardened.engine, file descriptor 2 sent to a file), ``sys.stderr`` is the terminal's own
        descriptor, and a stream taken at start-up would write into the capture."""
        return self._err if self._err is not None else sys.stderr

    def info(self, message: str) -> None:
        if not self.quiet:
            print(f"{self.command}: {message}", file=self.err)

    def warn(self, message: str) -> None:
        self.warnings += 1
        print(f"{self.command}: {paint('warning:', 'yellow+bold', self.color)} {message}", file=self.err)

    def progress(self, label: Optional[str] = None, total: Optional[int] = None, **kw) -> Progress:
        return Progress(self.err, label or self.command, enabled=self.show_progress, total=total, **kw)
