"""What a reader or a packager gets: the wheel and sdist, licences, the CJK font.

The wheel test builds dlbook the way a release is built (`python -m build`),
installs it into a clean virtual environment (package registries only), imports
every public module and runs one chapter's setup cells there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import tomllib

import dlbook
from dlbook._book import cjk_font as _cjk_font
from dlbook._book import release as _release
from dlbook._book import setup_cells as _setup_cell

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = [
    "dlbook",
    "dlbook.claims",
    "dlbook.data",
    "dlbook.numpy",
    "dlbook.numpy.nn",
    "dlbook.numpy.nn.functional",
    "dlbook.numpy.nn.init",
    "dlbook.numpy.optim",
    "dlbook.numpy.optim.lr_scheduler",
    "dlbook.numpy.gradcheck",
    "dlbook.plot",
    "dlbook.torch",
    "dlbook.torch.models",
    "dlbook.torch.nn",
    "dlbook.torch.detection",
    "dlbook.torch.segmentation",
    "dlbook.torch.interpret",
    "dlbook.utils",
]


def test_licences_are_declared_in_the_current_form():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT"  # an SPDX expression (PEP 639), not a table
    for name in meta["license-files"]:
        assert (ROOT / name).is_file(), name
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "CC BY-SA 4.0" in (ROOT / "LICENSE-CONTENT.md").read_text()
    assert "SIL OPEN FONT LICENSE" in (ROOT / "book/_static/fonts/OFL.txt").read_text()


def test_the_cjk_font_covers_every_character_the_book_uses():
    used = _cjk_font.book_characters()
    missing = used - _cjk_font.font_characters()
    assert len(used) > 100  # the book does give Chinese terms
    assert not missing, (
        f"the web font lacks {''.join(sorted(missing))}: rebuild it with "
        "`python -m dlbook._book.cjk_font <NotoSansCJK-Regular.ttc>` "
        "(see its docstring)"
    )


def test_the_cjk_font_is_small_and_used_only_for_cjk_text():
    assert _cjk_font.FONT.stat().st_size < 400_000
    css = (ROOT / "book/_static/dlbook.css").read_text()
    assert 'font-family: "dlbook CJK"' in css and "unicode-range" in css
    assert "U+4E00-9FFF" in css


def test_public_modules_are_reachable_after_import_dlbook():
    assert dlbook.torch.fit is not None and dlbook.numpy.nn.Linear is not None
    namespace: dict = {}
    exec("from dlbook import *", namespace)
    assert "torch" not in namespace and "numpy" not in namespace


@pytest.mark.slow
def test_wheel_installs_clean_and_runs_a_setup_cell(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist),
         str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )
    wheels = list(dist.glob("dlbook-*.whl"))
    sdists = list(dist.glob("dlbook-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    assert f"-{dlbook.__version__}-" in wheels[0].name

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q"]
    # the CPU build first, as the README says; then the wheel and its dependencies
    torch_spec = f"torch=={_installed('torch')}"
    subprocess.run(pip + [torch_spec], check=True, timeout=900)
    subprocess.run(pip + [str(wheels[0])], check=True, timeout=900)

    nb = json.loads((ROOT / "book/02_neurons/01_neuron.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    setup = "\n".join("".join(c["source"]) for c in code[:2])
    script = "\n".join(
        [f"import {m}" for m in PUBLIC_MODULES]
        + ["import matplotlib", "matplotlib.use('Agg')", setup,
           "import dlbook, pathlib",
           "assert 'site-packages' in dlbook.__file__, dlbook.__file__",
           "assert (pathlib.Path(dlbook.__file__).parent / 'py.typed').exists()",
           "print('ok', dlbook.__version__, SEED)"]
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["DLBOOK_SEED"] = "5"
    out = subprocess.run(
        [str(py), "-c", script], capture_output=True, text=True, cwd=tmp_path,
        env=env, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"ok {dlbook.__version__} 5" in out.stdout


def _installed(name: str) -> str:
    from importlib.metadata import version

    return version(name).split("+")[0]


def test_setup_cell_generator_reports_and_rewrites(tmp_path):
    book = tmp_path / "book" / "ch"
    book.mkdir(parents=True)
    nb = {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# T"]},
            {"cell_type": "code", "id": "b", "metadata": {}, "source": ["old"],
             "outputs": [], "execution_count": 1},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    (book / "x.ipynb").write_text(json.dumps(nb))
    assert _setup_cell.out_of_sync(tmp_path) == [book / "x.ipynb"]
    _setup_cell.write(_setup_cell.out_of_sync(tmp_path))
    assert _setup_cell.out_of_sync(tmp_path) == []
    cell = json.loads((book / "x.ipynb").read_text())["cells"][1]
    assert cell["metadata"]["tags"] == ["hide-input", "remove-output"]
    assert f"@v{dlbook.__version__}" in "".join(cell["source"])


def _public_objects():
    """Every public class and function defined in a public module of dlbook."""
    import importlib
    import inspect
    import pkgutil

    for info in pkgutil.walk_packages(dlbook.__path__, "dlbook."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_"):
                continue
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and (
                obj.__module__ == info.name
            ):
                yield f"{info.name}.{name}", obj


def test_the_api_pages_are_up_to_date():
    from dlbook._book import api_pages

    stale = [str(p.relative_to(ROOT)) for p in api_pages.out_of_date()]
    assert not stale, f"run `python -m dlbook._book.api_pages --write`: {stale}"


def test_every_public_class_and_function_is_in_the_api_reference():
    from dlbook._book import api_pages

    documented = {id(obj) for obj in api_pages.documented().values()}
    missing = [name for name, obj in _public_objects() if id(obj) not in documented]
    assert not missing, (
        "export these from a package listed in dlbook/_book/api_pages.py (or make "
        f"them private with a leading underscore): {missing}"
    )


def test_every_api_entry_has_a_docstring_that_renders():
    import inspect
    import re

    from dlbook._book import api_pages

    # ``Parameter``s renders raw; |d| outside a literal is an RST substitution
    raw_literal = re.compile(r"(?:^|(?<=[\s(\[{]))``[^`\s][^`\n]*?``[A-Za-z0-9]", re.M)
    literal = re.compile(r"``[^`\n]+?``")
    substitution = re.compile(r"(?<![`|])\|[A-Za-z]\w*\|(?![`|])")

    def bad_markup(doc: str) -> bool:
        plain = literal.sub("", doc)
        return bool(raw_literal.search(doc) or substitution.search(plain))

    empty, glitches = [], []
    for name, obj in api_pages.documented().items():
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants are listed only with a #: comment (constant_docs)
        entries = [(name, obj)]
        if inspect.isclass(obj):
            entries += [
                (f"{name}.{m}", f)
                for m, f in vars(obj).items()
                if not m.startswith("_") and inspect.isfunction(f) and f.__doc__
            ]
        for entry, target in entries:
            doc = inspect.getdoc(target) or ""
            if not doc.strip():
                empty.append(entry)
            if bad_markup(doc):
                glitches.append(entry)
    assert not empty, f"API entries without a docstring: {empty}"
    assert not glitches, f"inline literal followed by a letter renders raw: {glitches}"


def test_the_setup_cells_install_the_library_in_this_repository():
    # The setup cells install tag v<version>; the library must be what was tagged.
    assert _release.problems() == []


def test_the_release_record_notices_any_library_change(tmp_path):
    (tmp_path / "dlbook" / "sub").mkdir(parents=True)
    (tmp_path / "dlbook" / "sub" / "m.py").write_text("x = 1\n")
    (tmp_path / "dlbook" / "__pycache__").mkdir()
    (tmp_path / "dlbook" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"junk")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    _release.write(tmp_path, version="9.9.9")
    assert _release.problems(tmp_path, version="9.9.9") == []
    # bytecode is not part of a release
    (tmp_path / "dlbook" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"other")
    assert _release.problems(tmp_path, version="9.9.9") == []
    # a changed module, a new file or a new version each need a release
    (tmp_path / "dlbook" / "sub" / "m.py").write_text("x = 2\n")
    [changed] = _release.problems(tmp_path, version="9.9.9")
    assert "changed since release 9.9.9" in changed
    (tmp_path / "dlbook" / "sub" / "m.py").write_text("x = 1\n")
    (tmp_path / "dlbook" / "new.py").write_text("")
    assert len(_release.problems(tmp_path, version="9.9.9")) == 1
    (tmp_path / "dlbook" / "new.py").unlink()
    [stale] = _release.problems(tmp_path, version="10.0.0")
    assert "records version '9.9.9'" in stale
