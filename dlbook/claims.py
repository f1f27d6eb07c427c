"""Tie the numbers a page's prose quotes to the run that produced them.

A page quotes a measurement in its text ("the plain network ends at a loss of
0.81"). Under another seed, thread count or machine the measurement moves, so
the prose cannot be re-checked by the live run. Instead the check cell records
the pair::

    claims.quote(train_loss, "0.81")

which stores the measured value and the quoted text in the cell's output.
``tests/test_claims.py`` reads the stored outputs (recorded with the default
seed) and fails if the text is not in the page's prose, or if the measured
value does not round to it. Live runs under other seeds only print the pair.

``Spread`` summarises a measurement repeated over seeds, for claims about a
method rather than one run.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dlbook.utils import SEED_VARIABLE

MIME = "application/vnd.dlbook.quote+json"
NUMBER = re.compile(r"[-+−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+−]?\d+)?")


def parse_quoted(text: str) -> tuple[float, float]:
    """The first number in ``text`` and half a unit of its last digit.

    ``"0.81"`` gives ``(0.81, 0.005)``, ``"2,871"`` gives ``(2871, 0.5)``,
    ``"3.4e-12"`` gives ``(3.4e-12, 5e-14)``, ``"81%"`` gives ``(81, 0.5)``.
    """
    match = NUMBER.search(text)
    if match is None:
        raise ValueError(f"quote: no number in the quoted text {text!r}")
    token = match.group(0).replace(",", "").replace("−", "-")
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    scale = 10.0 ** int(exponent) if exponent else 1.0
    return float(token), 0.5 * 10.0**-decimals * scale


def agrees(value: float, text: str) -> bool:
    """Whether ``value`` rounds to the number written in ``text``."""
    number, half_unit = parse_quoted(text)
    return math.isfinite(value) and abs(value - number) <= half_unit * (1 + 1e-9)


def quote(value: float, text: str, where: str | None = None) -> float:
    """Record that the prose quotes ``value`` as ``text``; returns ``value``.

    ``where`` names the markdown file (relative to the repository root) whose
    prose quotes it, when that is not the notebook itself, for example
    ``"book/appendix/source_notes.md"``. Give ``value`` in the unit the text
    uses (``100 * accuracy`` for ``"81%"``).
    """
    value = float(value)
    parse_quoted(text)  # a text without a number is a mistake at the call site
    seed_env = os.environ.get(SEED_VARIABLE) or None
    status = "agrees" if agrees(value, text) else "differs (another seed or machine)"
    line = f"quoted as {text!r}: measured {value:.6g}, {status}"
    payload = {"value": value, "text": text, "where": where, "seed_env": seed_env}
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with the book extras
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display({"text/plain": line, MIME: payload}, raw=True)
    else:
        print(line)
    return value


@dataclass(frozen=True)
class Spread:
    """A measurement repeated over seeds: ``Spread.of([0.81, 0.84, 0.79])``."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        values = tuple(float(v) for v in values)
        if not values:
            raise ValueError("Spread.of: no values")
        return cls(values)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def std(self) -> float:
        if len(self.values) < 2:
            return 0.0
        m = self.mean
        n = len(self.values)
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (n - 1))

    def __str__(self) -> str:
        return (
            f"{self.mean:.3g} ± {self.std:.2g} "
            f"(range {self.min:.3g} to {self.max:.3g}, {len(self.values)} seeds)"
        )
