"""Where dlbook keeps generated and downloaded files: a per-user cache folder."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(subdir: str | None = None) -> Path:
    """Return (and create) dlbook's cache folder, never inside the working tree.

    The folder is ``$DLBOOK_CACHE`` if set, else ``$XDG_CACHE_HOME/dlbook``, else
    ``~/.cache/dlbook``. ``subdir`` names a folder inside it.
    """
    if os.environ.get("DLBOOK_CACHE"):
        root = Path(os.environ["DLBOOK_CACHE"]).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "dlbook"
    path = root / subdir if subdir else root
    path.mkdir(parents=True, exist_ok=True)
    return path
