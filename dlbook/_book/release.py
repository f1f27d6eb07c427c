"""The library a release pins, so the setup cells never promise the wrong one.

Every notebook's Colab cell installs the git tag ``v<version>`` and says it is
the release the page was run with (:mod:`dlbook._book.setup_cells`). That is
true only while the library in the repository is the one that was tagged. At
release time ``release.json`` records a digest of every file of the package
and of ``pyproject.toml``; ``tests/test_publishing.py`` fails as soon as the
library differs from that record, so a change to ``dlbook/`` cannot land
without a new release and new setup cells.

    python -m dlbook._book.release           # say whether the record is current
    python -m dlbook._book.release --write   # record this library as __version__
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from dlbook import __version__

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "release.json"


def library_files(root: Path = ROOT) -> list[Path]:
    """The files a release ships: the package (no bytecode) and pyproject.toml."""
    package = [
        p
        for p in (root / "dlbook").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    return sorted(package) + [root / "pyproject.toml"]


def library_digest(root: Path = ROOT) -> str:
    """SHA-256 over the files' paths (relative to ``root``) and contents."""
    digest = hashlib.sha256()
    for path in library_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def recorded(record: Path = RECORD) -> dict:
    """The release record: ``{"version": ..., "library_sha256": ...}``."""
    if not record.exists():
        raise FileNotFoundError(
            f"{record} is missing: run `python -m dlbook._book.release --write`"
        )
    return json.loads(record.read_text())


def problems(root: Path = ROOT, version: str = __version__) -> list[str]:
    """What makes the release record disagree with the library; empty if none."""
    record = recorded(root / RECORD.name)
    found = []
    if record.get("version") != version:
        found.append(
            f"release.json records version {record.get('version')!r} but dlbook.__version__ "
            f"is {version!r}"
        )
    if record.get("library_sha256") != library_digest(root):
        found.append(
            f"dlbook/ or pyproject.toml changed since release {record.get('version')}, "
            "which every setup cell installs: bump __version__, run `make setup-cells` "
            "and `python -m dlbook._book.release --write`, commit and tag "
            "(CONTRIBUTING.md, 'Releasing')"
        )
    return found


def write(root: Path = ROOT, version: str = __version__) -> None:
    """Record the library as it is now as release ``version``."""
    record = {"version": version, "library_sha256": library_digest(root)}
    (root / RECORD.name).write_text(json.dumps(record, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record this library")
    args = parser.parse_args(argv)
    if args.write:
        write()
        print(f"release.json: {__version__}, {library_digest()[:12]}")
        return 0
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
