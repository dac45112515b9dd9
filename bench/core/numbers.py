"""The numbers a command line takes, each checked where it is parsed: a count within its range, a real number
within its range, never NaN or infinite. A value out of range is argparse's one-line error (exit 2) naming the
flag, the value and the range, so no command meets a negative count, a NaN fraction or a batch of 10^12.

Each parser carries ``bounds`` (low, high, and whether each end is open) so a test can walk every command's
parser and try the edges (``tests/commands/test_numeric_flags.py``). A plain ``type=int`` or ``type=float`` on a
command-line flag is a test failure there.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Callable

#: counts above this are refused (no dataset, batch or iteration count comes near it)
MAX_COUNT = 10 ** 9


@dataclass(frozen=True)
class Bounds:
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    whole: bool = False

    def says(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        if self.whole and self.low == 1:
            return f"a positive whole number (at most {self.high:,})"
        lo = f"above {self.low:g}" if self.low_open else f"from {self.low:,g}" if self.whole else f"at least {self.low:g}"
        hi = f"below {self.high:g}" if self.high_open else f"to {self.high:,}" if self.whole else f"at most {self.high:g}"
        return f"{kind} {lo} {hi}" if self.whole and not self.low_open and not self.high_open \
            else f"{kind} {lo} and {hi}"

    def holds(self, value: float) -> bool:
        if math.isnan(value) or math.isinf(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def _parser(bounds: Bounds, convert: Callable[[str], float], also: str, name: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = convert(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes {bounds.says()}{also}, not '{text}'") from None
        if not bounds.holds(value):
            raise argparse.ArgumentTypeError(f"takes {bounds.says()}{also}, not '{text}'")
        return value

    parse.bounds = bounds  # type: ignore[attr-defined]
    parse.__name__ = name
    return parse


def count(low: int = 1, high: int = MAX_COUNT, also: str = "") -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (``also``: what else the flag takes, said in the error)."""
    return _parser(Bounds(low, high, whole=True), int, also, "count")  # type: ignore[return-value]


def real(low: float, high: float, *, low_open: bool = False, high_open: bool = False,
         also: str = "") -> Callable[[str], float]:
    """A finite number within [low, high] (either end open as asked)."""
    return _parser(Bounds(low, high, low_open, high_open), float, also, "real")


#: the parsers most flags use
positive_count = count(1)
seed_value = count(0, 2 ** 32 - 1)
fraction = real(0.0, 1.0, low_open=True, high_open=True)   # a probability or a confidence level
