"""Shared fixtures: the repository root, a throw-away cache folder, and the
benchmark scripts loaded as modules."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def torch_one_thread():
    """Run a test module's torch code on one thread, then restore the setting.

    Small tensors gain nothing from threads, and on a busy 2-core machine the
    OpenMP barrier of every small op waits for a time slice (~10 ms each).
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch) -> Path:
    """Point dlbook's cache at a fresh folder for the duration of one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DLBOOK_CACHE", str(cache))
    return cache


@pytest.fixture
def benchmark_module():
    """Load ``benchmarks/<name>.py`` (not a package) as a module: ``load(name)``."""
    import importlib.util

    def load(name: str):
        path = ROOT / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
