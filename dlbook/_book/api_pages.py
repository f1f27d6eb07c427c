"""Write the API reference: one page a package, titled by the import readers use.

Each page lists the public names of its packages (``__all__`` where a package
declares it, else every public class and function defined under it) as
``dlbook.numpy.nn.Linear``, not by the file that defines them. Run after adding
or removing a public name:

    python -m dlbook._book.api_pages --write

``tests/test_publishing.py`` fails when a page is out of date, when a listed
name has no docstring, or when a docstring has inline markup that renders
wrongly (````Parameter````s).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API_DIR = ROOT / "book" / "appendix" / "api"


@dataclass(frozen=True)
class Page:
    stem: str
    title: str
    intro: str
    packages: tuple[str, ...]


PAGES = (
    Page("numpy_nn", "`dlbook.numpy.nn`: layers with hand-written backward passes",
         "Every module has `forward` and a hand-written `backward`; names, "
         "arguments, defaults and weight layouts are `torch.nn`'s, so "
         "`load_state_dict` takes a torch module's weights.",
         ("dlbook.numpy.nn", "dlbook.numpy.nn.functional", "dlbook.numpy.nn.init",
          "dlbook.numpy.nn.utils", "dlbook.numpy.nn.conv", "dlbook.numpy.nn.pooling",
          "dlbook.numpy.nn.rnn", "dlbook.numpy.nn.dropout")),
    Page("numpy_optim", "`dlbook.numpy.optim`: optimisers, schedules, gradient checks",
         "The optimisers and learning-rate schedules of `torch.optim`, written "
         "out in NumPy, the finite-difference gradient check, and the comparison "
         "of a NumPy layer with its torch twin.",
         ("dlbook.numpy.optim", "dlbook.numpy.optim.lr_scheduler",
          "dlbook.numpy.gradcheck", "dlbook.numpy.testing")),
    Page("torch", "`dlbook.torch`: devices, training and teaching modules",
         "The training loop a reader keeps (`fit`), the device helper, and the "
         "teaching modules written from tensor operations.",
         ("dlbook.torch", "dlbook.torch.nn", "dlbook.torch.nn.rnn",
          "dlbook.torch.device", "dlbook.torch.train", "dlbook.torch.history",
          "dlbook.torch.checkpoint", "dlbook.torch.loader", "dlbook.torch.metrics",
          "dlbook.torch.distributed", "dlbook.torch.train_gpt",
          "dlbook.torch.scaling")),
    Page("torch_models", "`dlbook.torch.models`: the model zoo",
         "Every network the chapters train or count, full-size members with the "
         "reference implementations' parameter counts.",
         ("dlbook.torch.models", "dlbook.torch.models.gpt",
          "dlbook.torch.models.googlenet", "dlbook.torch.models.resnet",
          "dlbook.torch.models.vgg")),
    Page("torch_vision", "`dlbook.torch` for vision: detection, segmentation, "
         "interpretation",
         "Boxes, anchors, anchor matching and sampling, NMS and mean average "
         "precision; segmentation metrics; "
         "saliency, feature visualisation and adversarial examples; "
         "style transfer.",
         ("dlbook.torch.detection", "dlbook.torch.anchors",
          "dlbook.torch.segmentation", "dlbook.torch.interpret",
          "dlbook.torch.style")),
    Page("data", "`dlbook.data`: data sets that work offline",
         "Bundled and generated data sets, the text corpus and tokenizers, and "
         "downloaders that verify a checksum and cache.",
         ("dlbook.data", "dlbook.data.text", "dlbook.data.tokenizers",
          "dlbook.data.download", "dlbook.data.cifar", "dlbook.data.text_download")),
    Page("utils", "`dlbook.utils`, `dlbook.plot` and `dlbook.claims`",
         "Seeding, counting and timing; the book's figure style and diagrams; "
         "tying the numbers in the prose to the run that measured them.",
         ("dlbook.utils", "dlbook.plot", "dlbook.diagrams", "dlbook.claims")),
)


def public_names(package: str) -> list[str]:
    """The public classes and functions ``package`` offers, classes first."""
    module = importlib.import_module(package)
    # a package's __all__ is its interface; a plain module shows all it defines
    names = getattr(module, "__all__", None) if hasattr(module, "__path__") else None
    if names is None:
        source = inspect.getsource(module)
        names = [
            n for n, obj in vars(module).items()
            if not n.startswith("_")
            and (
                (inspect.isclass(obj) or inspect.isfunction(obj))
                and getattr(obj, "__module__", "").startswith(package)
                or n.isupper() and re.search(rf"^{n}\s*[:=]", source, re.M)
            )
        ]
    keep = [n for n in names if _kind(getattr(module, n), n) != "skip"]
    return sorted(keep, key=lambda n: (_ORDER[_kind(getattr(module, n), n)], n))


_ORDER = {"class": 0, "function": 1, "data": 2}


def _kind(obj, name: str) -> str:
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj):
        return "function"
    if name.isupper() and name in constant_docs():
        return "data"  # constants with a #: comment, such as SHAPE_CLASSES
    return "skip"


@functools.lru_cache(maxsize=1)
def constant_docs() -> dict[str, str]:
    """The ``#:`` comment of every upper-case constant defined in dlbook."""
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    import dlbook

    docs = {}
    for info in pkgutil.walk_packages(dlbook.__path__, "dlbook."):
        if "._book" in info.name:
            continue
        found = ModuleAnalyzer.for_module(info.name).find_attr_docs()
        for (scope, name), lines in found.items():
            if scope == "" and name.isupper():
                docs[name] = " ".join(line.strip() for line in lines).strip()
    return docs


def _data_lines(name: str, obj) -> list[str]:
    value = repr(obj)
    lines = [f".. py:data:: {name}"]
    if len(value) <= 70:
        lines.append(f"   :value: {value}")
    return lines + ["", f"   {constant_docs()[name]}", ""]


def own_documented_methods(cls: type) -> list[str]:
    """Public methods and properties ``cls`` itself defines with a docstring.

    Inherited ones (``forward``/``backward`` of every layer) are documented once,
    on the base class, instead of as an empty entry under each subclass."""
    found = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        target = member.fget if isinstance(member, property) else member
        target = getattr(target, "__func__", target)  # classmethod, staticmethod
        if callable(target) and (getattr(target, "__doc__", None) or "").strip():
            found.append(name)
    return found


def _available(package: str) -> bool:
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True


def page_text(page: Page, seen: set[int]) -> str:
    """The page's markdown; ``seen`` (object ids) keeps each object on one page,
    under the first, shortest import path that offers it."""
    lines = [f"# {page.title}", "", page.intro, ""]
    for package in filter(_available, page.packages):
        module = importlib.import_module(package)
        names = [n for n in public_names(package) if id(getattr(module, n)) not in seen]
        if not names:
            continue
        seen.update(id(getattr(module, n)) for n in names)
        summary = (inspect.getdoc(module) or "").split("\n\n")[0].replace("\n", " ")
        lines += [f"## `{package}`", "", summary, "", "```{eval-rst}",
                  f".. currentmodule:: {package}", ""]
        for name in names:
            obj = getattr(module, name)
            if _kind(obj, name) == "data":
                lines += _data_lines(name, obj)
            elif inspect.isclass(obj):
                lines += [f".. autoclass:: {name}"]
                methods = own_documented_methods(obj)
                if methods:
                    lines += [f"   :members: {', '.join(methods)}"]
                lines += [""]
            else:
                lines += [f".. autofunction:: {name}", ""]
        lines += ["```", ""]
    return "\n".join(lines).rstrip() + "\n"


def documented() -> dict[str, object]:
    """Every documented object by the name the reference shows it under."""
    found: dict[str, object] = {}
    seen: set[int] = set()
    for page in PAGES:
        for package in filter(_available, page.packages):
            module = importlib.import_module(package)
            for name in public_names(package):
                obj = getattr(module, name)
                if id(obj) not in seen:
                    seen.add(id(obj))
                    found[f"{package}.{name}"] = obj
    return found


def index_text() -> str:
    lines = [
        "# The dlbook API",
        "",
        "One page a package, each name shown by the import the chapters use "
        "(`from dlbook.numpy import nn as npnn`, then `npnn.Linear`). Shapes use N (batch), "
        "C (channels), L or T (sequence length), H and W (height and width) and "
        "E (embedding size).",
        "",
    ]
    for page in PAGES:
        lines.append(f"- [{page.title}]({page.stem}.md): {page.intro}")
    return "\n".join(lines) + "\n"


def expected() -> dict[Path, str]:
    files = {API_DIR / "index.md": index_text()}
    seen: set[int] = set()
    for page in PAGES:
        files[API_DIR / f"{page.stem}.md"] = page_text(page, seen)
    return files


def out_of_date() -> list[Path]:
    return [
        path for path, text in expected().items()
        if not path.exists() or path.read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if args.write:
        API_DIR.mkdir(parents=True, exist_ok=True)
        for path, text in expected().items():
            path.write_text(text)
        print(f"wrote {len(PAGES) + 1} pages under {API_DIR.relative_to(ROOT)}")
        return 0
    stale = out_of_date()
    for path in stale:
        print(f"out of date: {path.relative_to(ROOT)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
