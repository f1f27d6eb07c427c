"""Build the book's CJK web font: Noto Sans CJK SC cut to the characters used.

The book gives the Chinese term beside each English one. A reader's machine
without a CJK font would show those as empty boxes ("tofu"), so the book ships
its own font, subset to the few hundred characters it uses (a few hundred KB
instead of 16 MB). Regenerate it after adding Chinese text:

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    python -m dlbook._book.cjk_font \
        /tmp/noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

``tests/test_publishing.py`` fails when the book uses a character the
committed subset lacks.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FONT = ROOT / "book" / "_static" / "fonts" / "dlbook-cjk.woff2"
FAMILY = "dlbook CJK"
FACE = "Noto Sans CJK SC"
# CJK punctuation, ideographs and full-width forms: the unicode-range of the
# @font-face in book/_static/dlbook.css, so Latin text never uses this font.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def _texts(root: Path):
    for path in sorted((root / "book").rglob("*")):
        if ".ipynb_checkpoints" in path.parts or "_static" in path.parts:
            continue
        if path.suffix == ".md":
            yield path.read_text(encoding="utf-8")
        elif path.suffix == ".ipynb":
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                yield "".join(cell["source"])
                for out in cell.get("outputs", []):
                    yield "".join(out.get("text", ""))
                    yield "".join(out.get("data", {}).get("text/plain", ""))
    for name in ("_config.yml", "_toc.yml"):
        yield (root / name).read_text(encoding="utf-8")


def book_characters(root: Path = ROOT) -> set[str]:
    """Every CJK character of the book's prose, code and stored text outputs."""
    return {ch for text in _texts(root) for ch in CJK.findall(text)}


def font_characters(path: Path = FONT) -> set[str]:
    """The characters a font file maps to glyphs."""
    from fontTools.ttLib import TTFont

    return {chr(code) for code in TTFont(path).getBestCmap()}


def build(source: Path, out: Path = FONT, root: Path = ROOT) -> set[str]:
    """Subset ``source`` (a .ttc or .otf holding Noto Sans CJK SC) to the book."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    if source.suffix.lower() == ".ttc":
        faces = TTCollection(source).fonts
        number = next(
            (i for i, f in enumerate(faces) if f["name"].getDebugName(4) == FACE), None
        )
        if number is None:
            raise ValueError(f"{source}: no face named {FACE!r}")
        font = TTFont(source, fontNumber=number)
    else:
        font = TTFont(source)
    chars = book_characters(root)
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    for record in font["name"].names:  # a modified font gets its own name
        if record.nameID in (1, 3, 4, 6, 16):
            name = FAMILY if record.nameID != 6 else FAMILY.replace(" ", "")
            record.string = name
    out.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff2"
    font.save(out)
    return chars


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__)
        return 2
    chars = build(Path(argv[0]))
    print(f"{FONT.relative_to(ROOT)}: {len(chars)} characters, "
          f"{FONT.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
