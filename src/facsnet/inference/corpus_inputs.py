"""Which inputs a corpus run has: files, folders, globs and manifests (a CSV with a ``path`` column
and metadata columns), each once, in order (their split into shards: ``facsnet.utils.shard_of``)."""
from __future__ import annotations

import csv
import glob
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .media import expand_paths


@dataclass(frozen=True)
class CorpusInput:
    path: str                                   # the file, as found (manifest paths resolved against the manifest)
    meta: dict = field(default_factory=dict)    # the manifest's other columns (participant, condition, ...)

    @property
    def result_name(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(self.path).name)[:60]
        return f"{stem}-{hashlib.sha1(self.path.encode()).hexdigest()[:10]}.json"



def read_manifest(path: str | Path) -> list[CorpusInput]:
    """A CSV with a ``path`` column (relative paths are relative to the manifest) and any other
    columns, kept as metadata of each input."""
    from .results import COLUMNS, FACE_MESH_COLUMNS

    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:        # a spreadsheet's "CSV UTF-8" starts with a BOM
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        rows = [dict(zip(header, (v.strip() for v in r))) for r in reader if any(v.strip() for v in r)]
    if "path" not in header:
        raise ValueError(f"{path}: a manifest needs a 'path' column, found {header}")
    clash = [h for h in header if h != "path" and (h in COLUMNS or h in FACE_MESH_COLUMNS or h.startswith("AU"))]
    if clash:
        raise ValueError(f"{path}: column(s) {', '.join(clash)} would hide result columns of the same name; rename them")
    if not rows:
        raise ValueError(f"{path}: the manifest lists no inputs")
    out, meta_of = [], {}
    for line, row in enumerate(rows, 2):
        p = Path(row.pop("path"))
        full = os.path.abspath(p if p.is_absolute() else path.parent / p)
        if full in meta_of and meta_of[full] != row:
            raise ValueError(f"{path}:{line}: {p} is listed twice with different columns")
        meta_of[full] = row
        out.append(CorpusInput(full, row))
    return out


def corpus_inputs(inputs, ignored: list[tuple[str, str]], run_dir: Path | None = None) -> list[CorpusInput]:
    """Files, folders (their photos and videos), globs and manifests (``*.csv``), in the order given,
    each input once, as absolute paths; what folders held besides is appended to ``ignored`` (the
    run's own folder ``run_dir`` aside)."""
    found: list[CorpusInput] = []
    for item in inputs:
        text = str(item)
        if text.lower().endswith(".csv") and Path(text).is_file():
            found.extend(read_manifest(text))
        elif any(c in text for c in "*?[") and not Path(text).exists():
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                ignored.append((text, f"{text}: the pattern matches nothing"))
            found.extend(CorpusInput(os.path.abspath(p)) for p in expand_paths(matches, ignored))
        else:
            found.extend(CorpusInput(os.path.abspath(p)) for p in expand_paths([text], ignored))
    if run_dir is not None:
        ignored[:] = [(s, why) for s, why in ignored if os.path.abspath(s) != os.path.abspath(run_dir)]
    seen, unique = set(), []
    for inp in found:
        if inp.path not in seen:
            seen.add(inp.path)
            unique.append(inp)
    return unique
