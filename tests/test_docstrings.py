"""Every docstring the API reference shows builds without a Sphinx warning.

The book is built with ``-W``: one malformed docstring (a block quote that
ends without a blank line, a parameter list napoleon cannot read) fails the
whole build, and with it every browser check at the end of a 15-minute run.
This builds the reference's autodoc entries alone, with the book's autodoc
and napoleon settings, in a few seconds.
"""
import inspect
import io

import pytest
import yaml
from sphinx.application import Sphinx

from dlbook._book.api_pages import ROOT, documented, own_documented_methods


def _directives() -> list[str]:
    lines = []
    for name, obj in documented().items():
        if inspect.isclass(obj):
            lines.append(f".. autoclass:: {name}")
            methods = own_documented_methods(obj)
            if methods:
                lines.append(f"   :members: {', '.join(methods)}")
        elif callable(obj):
            lines.append(f".. autofunction:: {name}")
        lines.append("")
    return lines


def _conf_py() -> str:
    """A conf.py with the book's own autodoc and napoleon settings."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    ours = {k: v for k, v in config.items() if k.startswith(("autodoc_", "napoleon_"))}
    assert "napoleon_numpy_docstring" in ours  # the setting that matters here
    ours["extensions"] = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
    return "".join(f"{k} = {v!r}\n" for k, v in ours.items())


@pytest.fixture(scope="module")
def warnings(tmp_path_factory) -> list[str]:
    """One Sphinx build (docutils allows one per process) of two documents:
    the reference's entries, and a known-malformed docstring."""
    root = tmp_path_factory.mktemp("docstrings")
    src = root / "src"
    src.mkdir()
    (src / "conf.py").write_text(_conf_py())
    (src / "index.rst").write_text(
        "API\n===\n\n" + "\n".join(_directives())
        + "\n\n.. toctree::\n\n   malformed\n")
    (src / "malformed.rst").write_text(
        "Malformed\n=========\n\n.. autofunction:: tests.test_docstrings._malformed\n")
    stream = io.StringIO()
    app = Sphinx(str(src), str(src), str(root / "out"), str(root / "doctrees"),
                 "dummy", status=None, warning=stream, freshenv=True)
    app.build()
    return stream.getvalue().splitlines()


def test_every_documented_docstring_builds_without_warnings(warnings):
    assert len(_directives()) > 400  # the reference is not empty
    found = [w for w in warnings if "_malformed" not in w]
    assert not found, "the book's -W build would fail on:\n" + "\n".join(found)


def test_a_malformed_docstring_is_caught(warnings):
    # The check itself can fail.
    assert any("_malformed" in w and "without end-string" in w for w in warnings), \
        warnings


def _malformed():
    """A docstring with an ``unclosed literal, the kind of slip -W turns fatal.

    Args:
        x: a *starred name without its closing star.
    """
