"""Analyse a corpus, not a file: one result file per input, written as each input finishes, so a
stopped run redoes only what was not finished; a deterministic split into shards for independent
processes (a Slurm array, several machines over one disk); the same per-input work as Ray tasks.

A run folder ``DIR`` holds ``config.json`` (the analysis settings and the weights' digests: a rerun
with other settings is refused), ``inputs.json`` (every input in order, with its manifest columns)
and ``results/<name>-<hash>.json`` (one per input: its rows, or why it was skipped, and the size and
time stamp of the file it came from). :func:`merge_corpus` joins them into one table.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..training.run_folder import check_run_folder
from ..utils import atomic_write_json
from .media import expand_paths

log = logging.getLogger("facsnet")

RESULTS = "results"
ANALYZER_SETTINGS = ("model", "detector", "backend", "min_face_score", "level_eyes", "photo_tiles", "aus",
                     "detect_every", "precision", "balanced")


@dataclass(frozen=True)
class CorpusInput:
    path: str                                   # the file, as found (manifest paths resolved against the manifest)
    meta: dict = field(default_factory=dict)    # the manifest's other columns (participant, condition, ...)

    @property
    def result_name(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(self.path).name)[:60]
        return f"{stem}-{hashlib.sha1(self.path.encode()).hexdigest()[:10]}.json"


@dataclass
class CorpusSummary:
    out_dir: str
    inputs: int                 # in this shard
    done: int                   # analysed by this run
    already_done: int           # complete from an earlier run, not redone
    frames: int
    seconds: float
    failed: list[tuple[str, str]] = field(default_factory=list)   # (input, why it was skipped)

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_text(self) -> str:
        text = (f"{self.done} input(s) analysed, {self.already_done} already done, {len(self.failed)} skipped; "
                f"{self.frames} frame(s) at {self.frames_per_s:.1f} frames/s; results in {self.out_dir}")
        return text + "".join(f"\n  skipped: {why}" for _, why in self.failed)


# ----------------------------------------------------------------------------- which inputs
def read_manifest(path: str | Path) -> list[CorpusInput]:
    """A CSV with a ``path`` column (relative paths are relative to the manifest) and any other
    columns, kept as metadata of each input."""
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ValueError(f"{path}: a manifest needs a 'path' column, found {reader.fieldnames}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path}: the manifest lists no inputs")
    out = []
    for row in rows:
        p = Path(row.pop("path"))
        out.append(CorpusInput(str(p if p.is_absolute() else path.parent / p), row))
    return out


def corpus_inputs(inputs, ignored: list[tuple[str, str]]) -> list[CorpusInput]:
    """Files, folders (their photos and videos), globs and manifests (``*.csv``), in the order given,
    each input once; what folders held besides is appended to ``ignored``."""
    found: list[CorpusInput] = []
    for item in inputs:
        text = str(item)
        if text.lower().endswith(".csv") and Path(text).is_file():
            found.extend(read_manifest(text))
        elif any(c in text for c in "*?[") and not Path(text).exists():
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                ignored.append((text, f"{text}: the pattern matches nothing"))
            found.extend(CorpusInput(str(p)) for p in expand_paths(matches, ignored))
        else:
            found.extend(CorpusInput(str(p)) for p in expand_paths([text], ignored))
    seen, unique = set(), []
    for inp in found:
        if inp.path not in seen:
            seen.add(inp.path)
            unique.append(inp)
    return unique


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): the second of four shards (1-based, as ``--array=1-4`` numbers them)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--shard {text!r}: give I/N with 1 <= I <= N, e.g. --shard 1/4")
    return int(m.group(1)), int(m.group(2))


def shard_of(items: list, shard: tuple[int, int]) -> list:
    """Every N-th input from the I-th: the same inputs always go to the same shard, shards never overlap."""
    i, n = shard
    return items[i - 1::n]


# ----------------------------------------------------------------------------- one input
def file_stamp(path: str) -> list | None:
    """Size and modification time: a result is redone when its input file changed."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def is_complete(out_dir: Path, inp: CorpusInput) -> bool:
    try:
        record = json.loads((out_dir / RESULTS / inp.result_name).read_text())
    except (OSError, ValueError):
        return False
    return record.get("source") == inp.path and record.get("stamp") == file_stamp(inp.path)


def analyze_input(analyzer, inp: CorpusInput, out_dir: Path, stride: int = 1, max_frames: int | None = None) -> dict:
    """Analyse one input and write its result file atomically; returns a line of bookkeeping."""
    t0 = time.perf_counter()
    stamp = file_stamp(inp.path)
    res = analyzer.analyze([Path(inp.path)], stride=stride, max_frames=max_frames)
    record = {"source": inp.path, "stamp": stamp, "frames": len(res.frames), "columns": res.columns,
              "skipped": [[s, why] for s, why in res.skipped], "rows": [_plain(r) for r in res.rows()]}
    atomic_write_json(out_dir / RESULTS / inp.result_name, record)
    return {"path": inp.path, "frames": len(res.frames), "seconds": time.perf_counter() - t0,
            "skipped": res.skipped[0][1] if res.skipped and not res.frames else None}


def _plain(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}   # NaN -> null


# ----------------------------------------------------------------------------- a run
def analysis_settings(model: str, aus: str | None = None, stride: int = 1, max_frames: int | None = None,
                      **settings) -> dict:
    """What decides the rows: the analysis options and the content digests of the weights."""
    from ..pretrained import resolve_weights

    def digest(name):
        if not name:
            return None
        path = Path(name) if str(name).endswith(".onnx") else Path(resolve_weights(name))
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    record = {"model": str(model), "model_digest": digest(model), "aus": aus, "aus_digest": digest(aus),
              "stride": stride, "max_frames": max_frames, **settings}
    record["compute_precision"] = record.pop("precision", "auto")   # "precision" alone would count as resumable
    return {"kind": "analyze-corpus", "settings": record}


def analyze_corpus(inputs, out_dir: str | Path, shard: tuple[int, int] = (1, 1), engine: str = "local",
                   workers: int | None = None, ray_address: str | None = None, overwrite: bool = False,
                   stride: int = 1, max_frames: int | None = None, num_threads: int | None = None,
                   **analyzer_settings) -> CorpusSummary:
    """Analyse every input (of this shard) that has no complete result in ``out_dir`` yet."""
    from ..pretrained import DEFAULT_MODEL

    if engine not in ("local", "ray"):
        raise ValueError(f"engine = {engine!r}: choose local or ray")
    analyzer_settings.setdefault("model", DEFAULT_MODEL)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file; --out for a corpus is a folder")
    ignored: list[tuple[str, str]] = []
    everything = corpus_inputs(inputs, ignored)
    if not everything:
        raise ValueError("no photos or videos to analyse" + "".join(f"; {why}" for _, why in ignored))
    record = analysis_settings(stride=stride, max_frames=max_frames, **analyzer_settings)
    check_run_folder(out, record, overwrite, files=("inputs.json",), folders=RESULTS)
    (out / RESULTS).mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", record)
    atomic_write_json(out / "inputs.json", {"inputs": [{"path": i.path, "meta": i.meta, "result": i.result_name}
                                                       for i in everything], "ignored": ignored})
    mine = shard_of(everything, shard)
    todo = [i for i in mine if not is_complete(out, i)]
    log.info("%d input(s) in shard %d/%d, %d already done, %d to analyse", len(mine), *shard,
             len(mine) - len(todo), len(todo))
    summary = CorpusSummary(str(out), len(mine), 0, len(mine) - len(todo), 0, 0.0,
                            failed=[(s, w) for s, w in ignored] if shard[0] == 1 else [])
    t0 = time.perf_counter()
    if engine == "ray":
        from .ray_engine import run_on_ray

        lines = run_on_ray(todo, out, analyzer_settings, stride, max_frames, workers, ray_address)
    else:
        lines = _run_here(todo, out, analyzer_settings, stride, max_frames, num_threads)
    for k, line in enumerate(lines, 1):
        summary.done += 1
        summary.frames += line["frames"]
        summary.seconds = time.perf_counter() - t0
        if line["skipped"]:
            summary.failed.append((line["path"], line["skipped"]))
        left = summary.seconds / k * (len(todo) - k)
        log.info("[%d/%d] %s: %d frame(s); %.1f frames/s; about %.0f s left", k, len(todo),
                 Path(line["path"]).name, line["frames"], summary.frames_per_s, left)
    summary.seconds = time.perf_counter() - t0
    return summary


def _run_here(todo, out: Path, settings: dict, stride: int, max_frames: int | None, num_threads: int | None):
    from .pipeline import Analyzer

    if not todo:
        return
    analyzer = Analyzer(**{("au_model" if k == "aus" else k): v for k, v in settings.items()}, num_threads=num_threads)
    for inp in todo:
        yield analyze_input(analyzer, inp, out, stride, max_frames)


# ----------------------------------------------------------------------------- one table
def merge_corpus(out_dir: str | Path, out: str | Path | None = None, allow_missing: bool = False):
    """The per-input results of ``out_dir`` as one DataFrame in input order, manifest columns after
    ``path``; written to ``out`` (.csv, .parquet or .jsonl) when given. Inputs without a result are
    refused by name unless ``allow_missing``."""
    import pandas as pd

    root = Path(out_dir)
    try:
        listing = json.loads((root / "inputs.json").read_text())
    except (OSError, ValueError):
        raise ValueError(f"{root}: not a corpus run folder (no readable inputs.json)") from None
    frames, missing, columns, meta_cols = [], [], None, []
    for entry in listing["inputs"]:
        try:
            record = json.loads((root / RESULTS / entry["result"]).read_text())
        except (OSError, ValueError):
            missing.append(entry["path"])
            continue
        columns = columns or record["columns"]
        df = pd.DataFrame(record["rows"], columns=record["columns"])
        for k, v in entry["meta"].items():
            df[k] = v
            if k not in meta_cols:
                meta_cols.append(k)
        frames.append(df)
    if missing and not allow_missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ValueError(f"{root}: {len(missing)} of {len(listing['inputs'])} input(s) have no result yet ({shown}); "
                         "rerun the analysis (it does only what is missing) or merge with --allow-missing")
    if not frames:
        raise ValueError(f"{root}: no results to merge")
    ignored = [{"path": src, "note": f"skipped: {why}"} for src, why in listing.get("ignored", [])]
    table = pd.concat(frames + ([pd.DataFrame(ignored)] if ignored else []), ignore_index=True)
    order = ["path", *meta_cols, *[c for c in columns if c != "path"]]
    table = table[order]
    for c in ("face", "frame"):
        table[c] = table[c].astype("Int64")
    if out is not None:
        from .results import write_frame

        write_frame(table, out)
    return table
