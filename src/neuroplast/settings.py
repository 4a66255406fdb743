"""Where datasets and caches live; one place so tests, CLI and library agree."""

import os
from pathlib import Path

from neuroplast.errors import NeuroplastError


def data_root(override: str | os.PathLike | None = None, must_exist: bool = True) -> Path:
    """Dataset root: ``override``, else ``$NEUROPLAST_DATA``, else ``../shared/data`` next to the working directory."""
    raw = override or os.environ.get("NEUROPLAST_DATA") or "../shared/data"
    root = Path(raw).expanduser()
    if must_exist and not root.is_dir():
        raise NeuroplastError(
            f"data directory {str(root)!r} does not exist; set NEUROPLAST_DATA to the folder holding "
            "mnist/, fashion-mnist/, fsdd/, cifar10/, caltech101/ (or pass `--set data.root=PATH`)"
        )
    return root


def cache_root() -> Path:
    """Cache for decoded datasets and encoded spikes: ``$NEUROPLAST_CACHE`` or ``~/.cache/neuroplast``."""
    root = Path(os.environ.get("NEUROPLAST_CACHE") or Path.home() / ".cache" / "neuroplast").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root
