"""The book's structure: table of contents, stored outputs, checks, conventions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import dlbook
from dlbook._book.setup_cells import setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(
    p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def _toc_files(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                found.append(node[key])
        for value in node.values():
            found += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            found += _toc_files(item)
    return found


TOC = _toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))


def _stem(path: Path) -> str:
    return str(path.relative_to(ROOT).with_suffix(""))


def _code_cells(nb_path: Path):
    nb = json.loads(nb_path.read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


def test_every_notebook_is_in_the_toc():
    missing = [_stem(p) for p in NOTEBOOKS if _stem(p) not in TOC]
    assert not missing, f"notebooks missing from _toc.yml: {missing}"


def test_every_toc_entry_exists():
    absent = [
        e
        for e in TOC
        if not any((ROOT / f"{e}{s}").exists() for s in (".ipynb", ".md"))
    ]
    assert not absent, f"_toc.yml entries with no file: {absent}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_stem)
def test_outputs_stored_top_to_bottom_without_errors(nb_path):
    cells = _code_cells(nb_path)
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, (
        f"{nb_path.name}: cells never executed; run `make execute`"
    )
    assert counts == list(range(1, len(cells) + 1)), (
        f"{nb_path.name}: execution counts {counts} are not 1..n; run `make execute`"
    )
    errors = [
        o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert not errors, f"{nb_path.name}: stored error output {errors[0].get('ename')}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_stem)
def test_each_notebook_checks_its_claims(nb_path):
    cells = _code_cells(nb_path)
    source = "\n".join("".join(c["source"]) for c in cells)
    tags = [t for c in cells for t in c.get("metadata", {}).get("tags", [])]
    checks = (
        len(re.findall(r"^\s*assert\b", source, re.M))
        + source.count("NBVAL_CHECK_OUTPUT")
        + tags.count("nbval-check-output")
    )
    assert checks >= 3, f"{nb_path.name}: only {checks} checks"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=_stem)
def test_setup_cells_follow_the_convention(nb_path):
    """Cell 1 is the generated Colab cell, pinned to this release of the repository
    in _config.yml (`make setup-cells` rewrites it); cell 2 takes the page's seed.
    Exercises end the page with hidden solutions."""
    cells = _code_cells(nb_path)
    first, second = "".join(cells[0]["source"]), "".join(cells[1]["source"])
    assert first == setup_cell_source(), (
        f"{nb_path.name}: the setup cell differs from the generated one; "
        "run `make setup-cells`"
    )
    assert f"git+{CONFIG['repository']['url']}@v{dlbook.__version__}" in first
    assert "seed_everything" in second and "book_seed(" in second
    nb = json.loads(nb_path.read_text())
    markdown = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )
    assert "## Exercises" in markdown
    assert any("hide-cell" in c.get("metadata", {}).get("tags", []) for c in cells)


def test_the_release_is_in_the_changelog_and_citation():
    version = dlbook.__version__
    assert f"## {version} " in (ROOT / "CHANGELOG.md").read_text()
    assert f"version: {version}" in (ROOT / "CITATION.cff").read_text()


def test_notebooks_stay_small():
    for nb_path in NOTEBOOKS:
        assert nb_path.stat().st_size < 2_000_000, f"{nb_path.name} is over 2 MB"


def _normal(name: str) -> str:
    """A term as Sphinx matches it: case and runs of whitespace ignored."""
    return " ".join(name.split()).lower()


def _glossary_entries() -> list[list[str]]:
    """Each glossary entry's names, English first, as written."""
    text = (BOOK / "appendix" / "glossary.md").read_text()
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    entries = [e for e in re.split(r"\n\s*\n", block.strip()) if e.strip()]
    return [
        [n.strip() for n in e.splitlines() if n.strip() and not n.startswith(" ")]
        for e in entries
    ]


def _glossary_terms() -> set[str]:
    return {_normal(name) for names in _glossary_entries() for name in names}


def _is_chinese(name: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", name) is not None


TERM_LINK = re.compile(r"\{term\}`([^`]+)`")


def _link_target(link_text: str) -> str:
    """The entry a {term} role points at: `target` or `text <target>`."""
    match = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>\s*", link_text)
    return _normal(match.group(2) if match else link_text)


def _chapter_paragraphs() -> list[tuple[str, str]]:
    """(file, paragraph) for the chapters' prose, in _toc.yml order.

    Markdown files and the markdown cells of notebooks under book/, leaving out
    the appendix; a paragraph never spans two cells."""
    found = []
    for entry in TOC:
        if not entry.startswith("book/") or entry.startswith("book/appendix/"):
            continue
        md, nb = ROOT / f"{entry}.md", ROOT / f"{entry}.ipynb"
        if md.exists():
            texts = [md.read_text()]
            name = str(md.relative_to(ROOT))
        else:
            cells = json.loads(nb.read_text())["cells"]
            texts = [
                "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
            ]
            name = str(nb.relative_to(ROOT))
        for text in texts:
            found += [(name, p) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return found


def _first_term_links() -> dict[int, tuple[str, str, re.Match]]:
    """For each glossary entry (by index), its first {term} link in the chapters:
    the file, the paragraph and the link's match in it."""
    entries = _glossary_entries()
    index = {_normal(n): i for i, names in enumerate(entries) for n in names}
    first: dict[int, tuple[str, str, re.Match]] = {}
    for name, paragraph in _chapter_paragraphs():
        for link in TERM_LINK.finditer(paragraph):
            entry = index.get(_link_target(link.group(1)))
            if entry is not None and entry not in first:
                first[entry] = (name, paragraph, link)
    return first


def test_glossary_is_bilingual():
    entries = _glossary_entries()
    assert len(entries) >= 25
    for names in entries:
        assert len(names) >= 2, f"glossary entry without a Chinese name: {names}"
        assert any(_is_chinese(n) for n in names), names
        assert not _is_chinese(names[0]), "English name comes first"


def test_every_term_link_has_a_glossary_entry():
    terms = _glossary_terms()
    sources = [p.read_text() for p in BOOK.rglob("*.md")]
    for nb_path in NOTEBOOKS:
        nb = json.loads(nb_path.read_text())
        sources += [
            "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
        ]
    used = {_link_target(m) for text in sources for m in TERM_LINK.findall(text)}
    assert used, "no chapter links the glossary"
    assert used <= terms, f"terms linked but not defined: {sorted(used - terms)}"


def test_glossary_names_are_unique():
    names = [_normal(n) for entry in _glossary_entries() for n in entry]
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"names given to more than one glossary entry: {repeated}"


def test_every_glossary_entry_is_linked_from_a_chapter():
    """A glossary entry that no chapter links is a term the book never introduces."""
    entries = _glossary_entries()
    assert len(entries) >= 25
    first = _first_term_links()
    unlinked = [names[0] for i, names in enumerate(entries) if i not in first]
    assert not unlinked, (
        "glossary entries that no chapter links with {term} (book/ outside the "
        f"appendix): {unlinked}"
    )


NEAR = 100  # how many characters from a term's first link its Chinese name may be


def test_first_link_to_each_term_has_its_chinese_name_beside_it():
    """At a term's first {term} link, in _toc.yml order, one of its Chinese names
    stands in the same paragraph within NEAR characters of the link."""
    entries = _glossary_entries()
    first = _first_term_links()
    assert first, "no chapter links the glossary"
    missing = []
    for i, (name, paragraph, link) in sorted(first.items()):
        chinese = [n for n in entries[i] if _is_chinese(n)]
        start, end = max(0, link.start() - NEAR), link.end() + NEAR
        nearby = _normal(paragraph[start:end])
        if not any(_normal(c) in nearby for c in chinese):
            missing.append(
                f"{entries[i][0]!r} in {name}: none of {chinese} within {NEAR} "
                f"characters of its first link {' '.join(link.group(0).split())}"
            )
    assert not missing, "first term links without the Chinese name beside them:\n" + (
        "\n".join(missing)
    )


def test_every_scale_up_switch_is_listed_on_the_gpu_page():
    """Running on a GPU lists each page that carries a FULL_RUN switch."""
    gpu_page = (ROOT / "book" / "appendix" / "gpu.ipynb").read_text()
    with_switch = sorted(
        path for path in (ROOT / "book").glob("[0-9]*/*.ipynb")
        if any("FULL_RUN =" in "".join(c["source"]) for c in _code_cells(path))
    )
    assert len(with_switch) >= 4
    for path in with_switch:
        link = f"{{doc}}`../{path.parent.name}/{path.stem}`"
        assert link in gpu_page, f"{link} missing from book/appendix/gpu.ipynb"


CHAPTER_PAGES = sorted({p.parent for p in NOTEBOOKS if p.parent.name[:2].isdigit()})


@pytest.mark.parametrize("chapter", CHAPTER_PAGES, ids=lambda p: p.name)
def test_chapter_index_introduces_every_section(chapter):
    """A chapter's index.md says what each of its sections does: a page added
    without a line there is invisible to a reader planning the chapter."""
    text = (chapter / "index.md").read_text()
    linked = set(re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", text))
    missing = [p.stem for p in sorted(chapter.glob("*.ipynb")) if p.stem not in linked]
    assert not missing, f"{chapter.name}/index.md does not introduce {missing}"


def _doc_links(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    return re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", text)


@pytest.mark.parametrize(
    "page", NOTEBOOKS + sorted(BOOK.rglob("*.md")), ids=lambda p: str(p.relative_to(BOOK)))
def test_every_doc_link_resolves(page):
    """A {doc} link to a page that does not exist is a -W warning that fails the
    whole book build (and every browser check) after 15 minutes; find it here."""
    broken = []
    for target in _doc_links(page):
        base = BOOK.parent if target.startswith("/") else page.parent
        resolved = (base / target.lstrip("/")).resolve()
        if not any(resolved.with_suffix(s).exists() for s in (".ipynb", ".md")):
            broken.append(target)
    assert not broken, f"{page.relative_to(BOOK)} links to missing pages: {broken}"
