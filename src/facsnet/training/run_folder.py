"""Run folders know what they hold: a rerun into a folder made with other settings or other data
is refused (with what differs), instead of silently "resuming" the old run; ``overwrite`` clears
the folder's own files first."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

# Settings that may change between a run and its resumption without changing what it trains on or
# how (a run started on a GPU may go on on a CPU, in another precision or memory layout, with another
# time limit or scoring option; data moved to another folder, or shown under another label, is the
# same data when its content fingerprint is).
RESUMABLE_CHANGES = frozenset({"progress", "max_minutes", "device", "precision", "channels_last", "tta_flip",
                               "source", "name"})


class RunFolderError(ValueError):
    """A run folder holds a run with other settings or data."""


def differences(old, new, prefix: str = "", ignore: frozenset = RESUMABLE_CHANGES) -> list[str]:
    """``key: old -> new`` for every leaf that differs between two JSON-like records (keys in
    ``ignore`` left out)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if key in ignore:
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in old and _neutral(new[key]):
                continue   # a setting added to facsnet after the run began, at its default "off"
            if key not in old or key not in new:
                out.append(f"{name}: {'absent' if key not in old else _short(old[key])} -> "
                           f"{'absent' if key not in new else _short(new[key])}")
            else:
                out.extend(differences(old[key], new[key], name, ignore))
        return out
    return [] if _canonical(old) == _canonical(new) else [f"{prefix}: {_short(old)} -> {_short(new)}"]


def _neutral(value) -> bool:
    return value is None or value is False or (isinstance(value, (int, float)) and value == 0)


def _canonical(value):
    return json.loads(json.dumps(value, default=str))   # tuples and lists, paths and strings alike


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def read_run_record(out: Path) -> dict | None:
    """The ``config.json`` a run wrote into ``out``, or None (none there, or unreadable)."""
    try:
        return json.loads((Path(out) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def check_run_folder(out: Path, record: dict, overwrite: bool, files: tuple[str, ...] = (),
                     folders: str | None = None, also_resumable: frozenset = frozenset(),
                     clear: bool = True) -> None:
    """Raise :class:`RunFolderError` when ``out/config.json`` records another run than ``record``
    (settings in ``also_resumable`` may differ too); with ``overwrite``, remove that run's ``files``
    (and sub-folders matching ``folders``) instead, its record last (``clear=False``: leave the
    removing to another process, e.g. rank 0 of a distributed run)."""
    path = Path(out) / "config.json"
    if not path.is_file():
        return
    old = read_run_record(out)
    if old is None and not overwrite:
        raise RunFolderError(f"{path}: unreadable run record; start fresh with --overwrite or a new --out")
    diffs = differences(old, record, ignore=RESUMABLE_CHANGES | also_resumable) if old is not None else ["unreadable record"]
    if not diffs:
        return
    if not overwrite:
        shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
        raise RunFolderError(f"{out} holds a run with other settings or data ({shown}); rerun the same "
                             "command to resume it, or start fresh with --overwrite or a new --out")
    if not clear:
        return
    for name in files:
        (Path(out) / name).unlink(missing_ok=True)
    if folders:
        for sub in Path(out).glob(folders):
            if sub.is_dir():
                shutil.rmtree(sub)
    path.unlink(missing_ok=True)   # last: a stop half-way still leaves the record that refuses a resume
