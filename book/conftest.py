"""pytest hooks for the notebooks: figures checked, execution times reported.

* The kernels nbval starts inherit ``DLBOOK_STRICT_FIGURES=1``, so a figure
  whose text labels overlap fails its cell (see ``dlbook.plot.use_style``).
* nbval runs every code cell as a test item; here the cells' durations are
  added up per notebook and printed at the end of the run, with the budget
  beside them.
"""

from __future__ import annotations

import os
from collections import defaultdict

BUDGET_S = 60.0  # per notebook on a 2-core CPU (DESIGN.md)
_durations: dict[str, float] = defaultdict(float)


_STRICT = "DLBOOK_STRICT_FIGURES"
_outer_strict = os.environ.get(_STRICT)


def pytest_runtest_setup(item):
    # before nbval starts a notebook's kernel (in the first cell's setup); the
    # unit tests in tests/ keep whatever the caller set
    if str(item.fspath).endswith(".ipynb"):
        os.environ[_STRICT] = _outer_strict or "1"
    elif _outer_strict is None:
        os.environ.pop(_STRICT, None)
    else:
        os.environ[_STRICT] = _outer_strict


def pytest_runtest_logreport(report):
    if report.nodeid.split("::")[0].endswith(".ipynb"):
        _durations[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    tr = terminalreporter
    tr.section("notebook execution times")
    for name, seconds in sorted(_durations.items()):
        flag = "" if seconds <= BUDGET_S else f"   OVER the {BUDGET_S:.0f} s budget"
        tr.write_line(f"{seconds:7.1f} s  {name}{flag}")
    tr.write_line(
        f"{sum(_durations.values()):7.1f} s  total, {len(_durations)} notebooks"
    )
