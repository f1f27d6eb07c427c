"""Code cells of a notebook as plain Python, for tests that parse them with ast."""

from __future__ import annotations

import json
from pathlib import Path

MAGIC = ("%", "!")


def without_magics(source: str) -> str:
    """``source`` with IPython magic and shell lines blanked: those that start
    with ``%`` or ``!`` (an indented ``!=`` continues an expression)."""
    return "\n".join("" if line.startswith(MAGIC) else line
                     for line in source.splitlines())


def code_cells(path: Path) -> list[str]:
    """The code cells of the notebook at ``path``, magics blanked."""
    return [
        without_magics("".join(cell["source"]))
        for cell in json.loads(path.read_text())["cells"]
        if cell["cell_type"] == "code"
    ]
