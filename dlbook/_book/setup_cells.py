"""The first code cell of every notebook, generated from one place.

On Colab the cell installs the dlbook release the page was executed with (the
git tag ``v<version>`` of the repository named in ``_config.yml``); anywhere
else it does nothing. ``make setup-cells`` rewrites every notebook's first cell
from :func:`setup_cell_source`; ``tests/test_book_structure.py`` fails when a
notebook's cell differs.

    python -m dlbook._book.setup_cells           # list the notebooks that differ
    python -m dlbook._book.setup_cells --write   # rewrite them
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from dlbook import __version__

ROOT = Path(__file__).resolve().parents[2]
TAGS = ["hide-input", "remove-output"]


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """``repository.url`` of the book's ``_config.yml`` (read without a YAML parser)."""
    text = config.read_text()
    pattern = r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)"
    match = re.search(pattern, text, re.M)
    if match is None:
        raise ValueError(f"{config}: no repository.url")
    return match.group(1).strip("'\"")


def install_spec(url: str | None = None, version: str = __version__) -> str:
    """The pip requirement a Colab reader installs: the tagged release."""
    return f"dlbook @ git+{url or repository_url()}@v{version}"


def setup_cell_source(url: str | None = None, version: str = __version__) -> str:
    spec = install_spec(url, version)
    return (
        f"# Setup. On Colab this installs dlbook {version}, the release this page\n"
        "# was run with (about a minute); anywhere else it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "{spec}"],\n'
        "                   check=True)"
    )


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(
        p
        for p in (root / "book").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    )


def first_code_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def out_of_sync(root: Path = ROOT) -> list[Path]:
    """Notebooks whose first code cell is not the generated setup cell."""
    expected = setup_cell_source()
    return [
        p
        for p in notebooks(root)
        if "".join(first_code_cell(json.loads(p.read_text()))["source"]) != expected
    ]


def write(paths: list[Path]) -> None:
    """Replace the first code cell's source (outputs and ids kept)."""
    source = setup_cell_source()
    for path in paths:
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        cell["source"] = source.splitlines(keepends=True)
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        tags[:] = TAGS
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the cells")
    args = parser.parse_args(argv)
    stale = out_of_sync()
    if args.write:
        write(stale)
        print(f"rewrote the setup cell of {len(stale)} notebooks")
        return 0
    for path in stale:
        print(f"setup cell differs: {path.relative_to(ROOT)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
