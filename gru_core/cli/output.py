"""Files the command line writes: checked before any work starts, written without a traceback.

A path that cannot be written (no such folder, a folder in its place, no permission) is found before
training starts (:func:`check_writable`), so an hour of training is never lost to a typo; a write that
still fails is an :class:`OutputError` with one line saying why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gru_core.jsonio import to_jsonable

__all__ = ["OutputError", "check_writable", "write_json", "write_text"]


class OutputError(OSError):
    """An output file cannot be written (the message names it and says why)."""


def check_writable(path: str | os.PathLike | None) -> None:
    """Raise :class:`OutputError` if ``path`` could not be created or overwritten (None: nothing to check)."""
    if not path:
        return
    p = Path(path).expanduser()
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: it is a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: the folder {str(folder)!r} does not exist")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"cannot write {str(path)!r}: permission denied")
    if not p.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {str(path)!r}: no permission to create files in {str(folder)!r}")


def write_text(path: str | os.PathLike, text: str) -> None:
    try:
        Path(path).expanduser().write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """``obj`` as indented JSON (NaN/inf as null, NumPy values as plain numbers)."""
    write_text(path, json.dumps(to_jsonable(obj), indent=1))
