"""Shared fixtures: the repository root, and a throw-away cache folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch) -> Path:
    """Point dlbook's cache at a fresh folder for the duration of one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DLBOOK_CACHE", str(cache))
    return cache
