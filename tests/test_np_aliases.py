"""One import name per dlbook package across the library, the tests and the
benchmarks (issue 15: ``dnn``, ``npnn`` and ``np_nn`` all named dlbook.numpy.nn,
and ``dnn`` named dlbook.torch.nn as well). The names are the book's:

    from dlbook.numpy import nn as npnn
    from dlbook.numpy import optim as npoptim
    from dlbook.numpy.nn import init as npinit
    from dlbook.torch import nn as dtnn     # or import dlbook.torch.nn as dtnn

so ``nn`` alone always means ``torch.nn``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from notebook_code import code_cells

ROOT = Path(__file__).resolve().parents[1]
ALIASES = {
    "dlbook.numpy.nn": "npnn",
    "dlbook.numpy.optim": "npoptim",
    "dlbook.numpy.nn.init": "npinit",
    "dlbook.torch.nn": "dtnn",
}


def imported_names(tree: ast.AST):
    """(full module name, the name it is bound to, line) for every import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:  # `import a.b.c` binds `a`, which is not an alias
                    yield a.name, a.asname, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                yield f"{node.module}.{a.name}", a.asname or a.name, node.lineno


def misnamed(tree: ast.AST):
    """(module, the name it is bound to, the book's name, line) for each wrong alias."""
    for module, bound, line in imported_names(tree):
        want = ALIASES.get(module)
        if want is not None and bound != want:
            yield module, bound, want, line


def wrong_aliases(paths):
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for module, bound, want, line in misnamed(tree):
            found.append(f"{path.relative_to(ROOT)}:{line}: {module} as {bound}, "
                         f"expected {want}")
    return found


def test_one_alias_per_package_in_library_tests_and_benchmarks():
    paths = [*ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py"),
             *ROOT.glob("dlbook/**/*.py")]
    assert wrong_aliases(paths) == []


def test_the_checker_sees_each_kind_of_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from dlbook.numpy import nn\nimport dlbook.torch.nn as dnn\n"
                   "from dlbook.numpy import optim as np_optim\n"
                   "from dlbook.numpy.nn import init\n")
    good = tmp_path / "good.py"
    good.write_text("from dlbook.numpy import nn as npnn, optim as npoptim\n"
                    "from dlbook.torch import nn as dtnn\nimport dlbook.numpy.nn\n"
                    "from dlbook.numpy.nn import init as npinit, functional as F\n")
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        assert len(wrong_aliases([bad])) == 4 and wrong_aliases([good]) == []
    finally:
        ROOT = root



def test_one_alias_per_package_in_the_book():
    found = [
        f"{nb.relative_to(ROOT)}, code cell {n}: {module} as {bound}, expected {want}"
        for nb in sorted(ROOT.glob("book/**/*.ipynb"))
        for n, code in enumerate(code_cells(nb))
        for module, bound, want, _ in misnamed(ast.parse(code))
    ]
    assert found == []
