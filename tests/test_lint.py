"""The project's lint: ``ruff check dlbook tests benchmarks`` must pass.

The rules live in pyproject.toml ([tool.ruff]); ruff is in the ``test`` extra,
so ``make test`` lints the code along with testing it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")  # the venv's own ruff
    if beside.exists():
        return [str(beside)]
    found = shutil.which("ruff")
    if found:
        return [found]
    pytest.fail("ruff is not installed: pip install -e '.[test]' installs it (the "
                "'test' extra pins its version)")


def test_ruff_check_passes():
    cmd = _ruff() + ["check", "--no-cache", "dlbook", "tests", "benchmarks"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (
        f"`ruff check dlbook tests benchmarks` found problems (rules in "
        f"pyproject.toml [tool.ruff]; `ruff check --fix` repairs the safe ones):\n"
        f"{run.stdout}{run.stderr}")
