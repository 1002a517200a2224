"""A small on-disk cache of decoded datasets, keyed by a fingerprint of the source files.

A second run loads one ``.npz`` instead of decoding tens of thousands of images; a change to
the files' names, sizes or modification times, or to the reader's settings, gives a new key.
An edit that keeps a file's size and modification time (``cp -p`` of another picture of the
same byte count) is not seen: ``FACSNET_NO_CACHE=1`` reads every file afresh. A change to how
a reader decodes or labels faces bumps ``CACHE_VERSION``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..utils import atomic_write_bytes, cache_dir

CACHE_VERSION = 2


def fingerprint_files(files, root: Path, settings: dict) -> str:
    """A hash over (relative path, size, mtime) of ``files`` and the reader ``settings``."""
    h = hashlib.sha1()
    h.update(json.dumps({"v": CACHE_VERSION, **settings}, sort_keys=True, default=str).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def load_cached(key: str) -> dict | None:
    """The arrays stored under ``key``, or None when absent or unreadable."""
    if os.environ.get("FACSNET_NO_CACHE"):
        return None
    path = cache_dir() / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return None  # a damaged cache file is rebuilt, never trusted


def save_cached(key: str, arrays: dict) -> None:
    """Store ``arrays`` under ``key``; a read-only or missing cache folder is not an error."""
    if os.environ.get("FACSNET_NO_CACHE"):
        return
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    try:
        atomic_write_bytes(cache_dir() / f"{key}.npz", buf.getvalue())
    except OSError:
        pass
