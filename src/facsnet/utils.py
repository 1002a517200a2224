"""Small helpers shared by the package: atomic writes, seeding, device choice."""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import tempfile
from pathlib import Path

import numpy as np
import torch


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half (``durable``:
    flushed to disk first, so that a crash of the machine keeps it too)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_torch_save(obj, path: str | Path) -> None:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def folder_lock(folder: str | Path):
    """Hold an exclusive lock on ``folder`` (its ``.lock`` file) while the block runs: processes that
    share a run folder (shards) check, clear and record it, or merge into one file, one at a time."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:    # no fcntl (Windows): one process per folder at a time is then the user's care
            pass
        yield


def parse_shard(shard: str | tuple[int, int]) -> tuple[int, int]:
    """``"2/4"`` or ``(2, 4)`` -> (2, 4): the second of four shards (1-based, as ``--array=1-4`` numbers
    them); anything else is a ValueError that says how to write one."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard if isinstance(shard, str) else "/".join(map(str, shard)))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--shard {shard!r}: give I/N with 1 <= I <= N, e.g. --shard 1/4")
    return int(m.group(1)), int(m.group(2))


def shard_of(items: list, shard: tuple[int, int]) -> list:
    """Every N-th item from the I-th (1-based): the same items always go to the same shard, shards never overlap."""
    i, n = shard
    return items[i - 1::n]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def parse_device(device: str | None) -> torch.device | None:
    """``device`` as a torch device (None for ``auto``); a name torch does not know is a ValueError."""
    if not device or device == "auto":
        return None
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"device = {device!r}: not a device; use auto, cpu, cuda or cuda:N") from None


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else the CPU."""
    return parse_device(device) or torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_writable_file(path: str | Path, suffixes: tuple[str, ...] | None = None) -> Path:
    """Refuse, before any work, an output file path that cannot be written: a folder, a place under
    a file, a read-only folder, or (with ``suffixes``) an unknown format."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise ValueError(f"{path}: the format follows the suffix, one of {', '.join(suffixes)}")
    _check_place(path.parent, f"{path}")
    return path


def _check_place(place: Path, named: str) -> None:
    """The nearest existing folder at or above ``place`` must be a writable folder."""
    while not place.exists():
        place = place.parent
    if not place.is_dir():
        raise ValueError(f"{named}: {place} is a file, not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise ValueError(f"{named}: {place} is not writable")


def check_not_an_input(out: str | Path, inputs) -> None:
    """Refuse an output file that is one of the command's own input files: writing it would lose them."""
    target = Path(out).resolve()
    for source in inputs:
        if Path(source).resolve() == target:
            raise ValueError(f"--out {out}: that is the input {source} itself; write to another file "
                             "(the input would be lost)")


def check_writable_folder(path: str | Path, what: str = "--out") -> Path:
    """Refuse, before any work, an output folder that cannot be made or written: a file, a place under a
    file, or a read-only place."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path}: a file, not a folder")
    _check_place(path, f"{what} {path}")
    return path


def cache_dir() -> Path:
    """``$FACSNET_CACHE``, else ``$XDG_CACHE_HOME/facsnet``, else ``~/.cache/facsnet``."""
    if os.environ.get("FACSNET_CACHE"):
        return Path(os.environ["FACSNET_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facsnet"
