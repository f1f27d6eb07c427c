"""dlbook: the library behind the dlbook course.

Two halves share one vocabulary:

* :mod:`dlbook.numpy` -- a small framework written from scratch in NumPy, every
  backward pass by hand, names and layouts those of ``torch.nn``;
* :mod:`dlbook.torch` -- teaching modules written from tensor operations, a model
  zoo and a training loop that runs on a GPU.

Around them sit :mod:`dlbook.data` (data sets that work offline),
:mod:`dlbook.plot` (one figure style) and :mod:`dlbook.utils` (seeding,
counting, timing).
"""

__version__ = "0.3.0"

# The halves load on first use, so `import dlbook` stays cheap and
# `import dlbook; dlbook.torch.fit` works without importing dlbook.torch by
# name. `from dlbook import *` exports nothing, so it never shadows the real
# `torch` or `numpy` in a reader's namespace.
_SUBMODULES = ("claims", "data", "numpy", "plot", "torch", "utils")
__all__: list[str] = []


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dlbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES))
