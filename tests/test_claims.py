"""The claims conventions (CONTRIBUTING.md, "Claims"), checked on the stored notebooks.

* every number a page's prose quotes through ``dlbook.claims.quote`` is in that
  prose and agrees with the measurement stored beside it, recorded with the
  page's default seed;
* all randomness flows from the seed of the setup cell (``utils.book_seed``):
  no literal seeds in code cells;
* checks stay out of the reading flow: asserts sit in collapsed cells that
  start with a comment saying what they check, and few are shown expanded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from notebook_code import without_magics

from dlbook.claims import MIME, agrees

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
HIDDEN = {"hide-input", "remove-input", "hide-cell", "remove-cell"}
MAX_VISIBLE_ASSERTS = 150
LITERAL_SEED = re.compile(
    r"(manual_seed|default_rng|seed_everything|RandomState|random\.seed)\(\s*\d"
    r"|\b(random_state|seed)\s*=\s*\d"
)


def _stem(path: Path) -> str:
    return str(path.relative_to(ROOT).with_suffix(""))


def _cells(nb_path: Path):
    return json.loads(nb_path.read_text())["cells"]


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _code_lines(cell) -> list[str]:
    return [
        ln
        for ln in "".join(cell["source"]).splitlines()
        if ln.strip() and not ln.strip().startswith("#")
    ]


def _normal(text: str) -> str:
    return " ".join(text.split())


def _quotes(nb_path: Path):
    for cell in _cells(nb_path):
        for out in cell.get("outputs", []):
            payload = out.get("data", {}).get(MIME)
            if payload is not None:
                yield payload


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_stem)
def test_quoted_numbers_match_their_stored_run(nb_path):
    markdown = [c for c in _cells(nb_path) if c["cell_type"] == "markdown"]
    prose = _normal("\n".join("".join(c["source"]) for c in markdown))
    for q in _quotes(nb_path):
        where = q.get("where")
        text = _normal((ROOT / where).read_text()) if where else prose
        assert q["seed_env"] is None, (
            f"{nb_path.name}: the quote {q['text']!r} was recorded with "
            f"DLBOOK_SEED={q['seed_env']}; store outputs of the default seed"
        )
        assert _normal(q["text"]) in text, (
            f"{nb_path.name}: quoted text {q['text']!r} is not in "
            f"{where or 'the page'}'s prose"
        )
        assert agrees(q["value"], q["text"]), (
            f"{nb_path.name}: the prose says {q['text']!r}, the stored run "
            f"measured {q['value']:.6g}"
        )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_stem)
def test_all_randomness_flows_from_the_setup_seed(nb_path):
    code = [c for c in _cells(nb_path) if c["cell_type"] == "code"]
    assert "book_seed(" in "".join(code[1]["source"]), (
        f"{nb_path.name}: the setup cell must take its seed from utils.book_seed"
    )
    literal = [
        ln.strip()
        for c in code
        for ln in "".join(c["source"]).splitlines()
        if LITERAL_SEED.search(ln.split("#")[0]) and "# fixed:" not in ln
    ]
    assert not literal, (
        f"{nb_path.name}: literal seeds bypass DLBOOK_SEED (derive them from SEED, "
        f"or say why with '# fixed: <reason>'): {literal[:5]}"
    )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_stem)
def test_checks_are_collapsed_and_say_what_they_check(nb_path):
    for i, cell in enumerate(_cells(nb_path)):
        if cell["cell_type"] != "code":
            continue
        lines = _code_lines(cell)
        n_assert = sum(ln.strip().startswith("assert ") for ln in lines)
        if not _tags(cell) & HIDDEN:
            assert not (n_assert >= 3 and n_assert / len(lines) > 0.5), (
                f"{nb_path.name} cell {i}: mostly asserts but shown; tag it hide-input"
            )
        elif n_assert and "hide-input" in _tags(cell):
            first = "".join(cell["source"]).lstrip().splitlines()[0]
            assert first.startswith("#"), (
                f"{nb_path.name} cell {i}: a check cell starts with a comment "
                "saying what it checks"
            )


def test_few_asserts_are_shown_in_the_reading_flow():
    visible = {
        _stem(p): sum(
            ln.strip().startswith("assert ")
            for c in _cells(p)
            if c["cell_type"] == "code" and not _tags(c) & HIDDEN
            for ln in _code_lines(c)
        )
        for p in NOTEBOOKS
    }
    total = sum(visible.values())
    worst = sorted(visible.items(), key=lambda kv: -kv[1])[:5]
    assert total <= MAX_VISIBLE_ASSERTS, (
        f"{total} assert lines shown expanded (at most {MAX_VISIBLE_ASSERTS}); "
        f"most in {worst}"
    )


def _ends_with_a_bare_quote(source: str) -> bool:
    """Whether the cell's last statement is a ``claims.quote(...)`` expression,
    whose value the notebook would display as a stray number under the check."""
    import ast

    try:
        body = ast.parse(without_magics(source)).body
    except SyntaxError:
        return False
    if not body or not isinstance(body[-1], ast.Expr):
        return False
    call = body[-1].value
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "quote")


def test_no_check_cell_displays_a_stray_number():
    stray = [
        f"{_stem(nb)} cell {i}"
        for nb in NOTEBOOKS
        for i, cell in enumerate(_cells(nb))
        if cell["cell_type"] == "code" and _ends_with_a_bare_quote("".join(cell["source"]))
    ]
    assert stray == [], f"end the cell with `_ = claims.quote(...)`: {stray}"


def test_the_stray_number_check_sees_a_bare_quote():
    assert _ends_with_a_bare_quote('assert x\nclaims.quote(x,\n    "0.5")')
    assert not _ends_with_a_bare_quote('_ = claims.quote(x, "0.5")')
    assert not _ends_with_a_bare_quote('claims.quote(x, "0.5")\nprint(x)')
