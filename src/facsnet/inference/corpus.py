"""Analyse a corpus, not a file: one result file per input, written as each input finishes, so a
stopped run redoes only what was not finished; a deterministic split into shards for independent
processes (a Slurm array, several machines over one disk); the same per-input work as Ray tasks.

A run folder ``DIR`` holds ``config.json`` (the analysis settings and the weights' digests: a rerun
with other settings is refused), ``inputs.json`` (every input in order, with its manifest columns)
and ``results/<name>-<hash>.json`` (one per input: its rows, or why it was skipped, and the size and
time stamp of the file it came from). :func:`merge_corpus` joins them into one table.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..training.calibration import prior_strength
from ..training.run_folder import check_run_folder
from ..utils import atomic_write_json, folder_lock, shard_of
from .corpus_inputs import CorpusInput, corpus_inputs

log = logging.getLogger("facsnet")

RESULTS = "results"


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


# ----------------------------------------------------------------------------- one input
def file_stamp(path: str) -> list | None:
    """Size and modification time: a result is redone when its input file changed."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def read_result(out_dir: Path, inp: CorpusInput, run: str) -> dict | None:
    """The input's result record when it is complete: of this run (settings and input list), of the
    file as it is now (size and time stamp), and analysed (a skipped input is tried again)."""
    try:
        record = json.loads((out_dir / RESULTS / inp.result_name).read_text())
    except (OSError, ValueError):
        return None
    ok = (record.get("run") == run and record.get("source") == inp.path and record.get("stamp") == file_stamp(inp.path)
          and record.get("frames", 0) > 0)
    return record if ok else None


def analyze_input(analyzer, inp: CorpusInput, out_dir: Path, run: str, stride: int = 1,
                  max_frames: int | None = None) -> dict:
    """Analyse one input and write its result file atomically; returns a line of bookkeeping. An
    unforeseen failure of one input is reported and leaves no result, so a rerun tries it again."""
    from .. import __version__

    t0 = time.perf_counter()
    stamp = file_stamp(inp.path)
    try:
        res = analyzer.analyze([Path(inp.path)], stride=stride, max_frames=max_frames)
    except Exception as exc:  # noqa: BLE001 - one input never stops the corpus
        log.warning("skipped %s: %s: %s", inp.path, type(exc).__name__, exc)
        return {"path": inp.path, "frames": 0, "seconds": time.perf_counter() - t0,
                "skipped": f"{inp.path}: failed ({type(exc).__name__}: {exc}); a rerun tries it again"}
    record = {"run": run, "source": inp.path, "stamp": stamp, "frames": len(res.frames), "columns": res.columns,
              "facsnet": __version__, "skipped": [[s, why] for s, why in res.skipped],
              "rows": [_plain(r) for r in res.rows()]}
    atomic_write_json(out_dir / RESULTS / inp.result_name, record)
    return {"path": inp.path, "frames": len(res.frames), "seconds": time.perf_counter() - t0,
            "skipped": res.skipped[0][1] if res.skipped else None}


def _plain(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}   # NaN -> null


# ----------------------------------------------------------------------------- a run
def served_strength_of(model: str) -> float:
    """The class-prior correction ``model`` (bundled name, checkpoint or .onnx) is served with unless told otherwise."""
    from ..models.checkpoint import read_checkpoint, served_prior_strength
    from ..models.hub import resolve_weights
    from .onnx_export import read_onnx_metadata

    if str(model).endswith(".onnx"):
        return read_onnx_metadata(Path(model))["prior_strength"]
    return served_prior_strength(read_checkpoint(resolve_weights(model)))


def analysis_settings(model: str, aus: str | None = None, au_intensity: str | None = None, stride: int = 1,
                      max_frames: int | None = None, **settings) -> dict:
    """What decides the rows: the analysis options and the content digests of the weights."""
    from ..models.hub import weights_digest

    def digest(name):
        return weights_digest(name) if name else None

    record = {"model": str(model), "model_digest": digest(model), "aus": aus, "aus_digest": digest(aus),
              "au_intensity": au_intensity, "au_intensity_digest": digest(au_intensity),
              "stride": stride, "max_frames": max_frames, **settings}
    record["compute_precision"] = record.pop("precision", "auto")   # "precision" alone would count as resumable
    return {"kind": "analyze-corpus", "settings": record}


def analyze_corpus(inputs, out_dir: str | Path, shard: tuple[int, int] = (1, 1), engine: str = "local",
                   workers: int | None = None, ray_address: str | None = None, overwrite: bool = False,
                   stride: int = 1, max_frames: int | None = None, num_threads: int | None = None,
                   **analyzer_settings) -> CorpusSummary:
    """Analyse every input (of this shard) that has no complete result in ``out_dir`` yet."""
    from ..models.hub import DEFAULT_MODEL

    if engine not in ("local", "ray"):
        raise ValueError(f"engine = {engine!r}: choose local or ray")
    if overwrite and shard != (1, 1):
        raise ValueError("--overwrite clears the whole run folder: do it once, without --shard, then start the shards")
    check_analyzer_settings(analyzer_settings)    # before anything is recorded: a typo must not make a run
    for key in ("model", "aus", "au_intensity"):      # checkpoint files by absolute path, so every process and node means the same
        value = analyzer_settings.get(key)
        if value and Path(value).exists():
            analyzer_settings[key] = os.path.abspath(value)
    analyzer_settings.setdefault("model", DEFAULT_MODEL)
    # the correction the rows will have, checked before anything is recorded: None (as the model asks) becomes the
    # model's own strength, so that False, 0.0 and None on an uncorrected model are one run, not three
    strength = prior_strength(analyzer_settings.get("balanced"), served_strength_of(analyzer_settings["model"]))
    analyzer_settings["balanced"] = bool(strength) if strength in (0.0, 1.0) else strength
    out = Path(os.path.abspath(out_dir))
    ignored: list[tuple[str, str]] = []
    everything = corpus_inputs(inputs, ignored, run_dir=out)
    if not everything:
        raise ValueError("no photos or videos to analyse" + "".join(f"; {why}" for _, why in ignored))
    record = analysis_settings(stride=stride, max_frames=max_frames, **analyzer_settings)
    record["inputs_digest"] = hashlib.sha256("\n".join(i.path for i in everything).encode()).hexdigest()[:16]
    record["inputs_count"] = len(everything)
    run = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]
    with _run_lock(out):
        check_run_folder(out, record, overwrite, files=("inputs.json",), folders=RESULTS)
        (out / RESULTS).mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "inputs.json", {"run": run, "ignored": ignored, "inputs": [
            {"path": i.path, "meta": i.meta, "result": i.result_name} for i in everything]})
        atomic_write_json(out / "config.json", record)
    mine = shard_of(everything, shard)
    todo = [i for i in mine if read_result(out, i, run) is None]
    log.info("%d input(s) in shard %d/%d, %d already done, %d to analyse", len(mine), *shard,
             len(mine) - len(todo), len(todo))
    summary = CorpusSummary(str(out), len(mine), 0, len(mine) - len(todo), 0, 0.0,
                            failed=[(s, w) for s, w in ignored] if shard[0] == 1 else [])
    t0 = time.perf_counter()
    if engine == "ray":
        from .ray_engine import run_on_ray

        lines = run_on_ray(todo, out, run, analyzer_settings, stride, max_frames, workers, ray_address)
    else:
        lines = _run_here(todo, out, run, analyzer_settings, stride, max_frames, num_threads)
    for k, line in enumerate(lines, 1):
        summary.done += 1
        summary.frames += line["frames"]
        summary.seconds = time.perf_counter() - t0
        if line["skipped"]:
            summary.failed.append((line["path"], line["skipped"]))
        left = summary.seconds / k * (len(todo) - k)
        log.info("[%d/%d] %s: %d frame(s); %.1f frames/s; about %.0f s left", summary.already_done + k, len(mine),
                 Path(line["path"]).name, line["frames"], summary.frames_per_s, left)
    summary.seconds = time.perf_counter() - t0
    return summary


@contextlib.contextmanager
def _run_lock(out: Path):
    """One process at a time checks, clears and records the run folder (shards start together);
    a folder that holds other things than a run is refused."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file; --out for a corpus is a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "config.json").exists() and not (out / ".lock").exists():
        raise ValueError(f"{out}: holds other files; a corpus run needs a new or empty folder")
    with folder_lock(out):
        yield


def _run_here(todo, out: Path, run: str, settings: dict, stride: int, max_frames: int | None,
              num_threads: int | None):
    from .pipeline import Analyzer

    if not todo:
        return
    analyzer = Analyzer(**analyzer_kwargs(settings), num_threads=num_threads)
    for inp in todo:
        yield analyze_input(analyzer, inp, out, run, stride, max_frames)


def check_analyzer_settings(settings: dict) -> None:
    """Refuse, by name, settings that :class:`~facsnet.inference.pipeline.Analyzer` does not take."""
    import inspect

    from .pipeline import Analyzer

    taken = set(inspect.signature(Analyzer).parameters) - {"num_threads"}   # num_threads: analyze_corpus's own
    unknown = sorted(set(analyzer_kwargs(settings)) - taken)
    if unknown:
        raise ValueError(f"unknown analysis setting(s) {', '.join(unknown)}; the analyzer takes "
                         f"{', '.join(sorted(taken))} (aus and au_intensity for au_model and au_intensity_model)")


def analyzer_kwargs(settings: dict) -> dict:
    """The run's settings as Analyzer arguments (``aus`` -> ``au_model``, ``au_intensity`` -> ``au_intensity_model``)."""
    names = {"aus": "au_model", "au_intensity": "au_intensity_model"}
    return {names.get(k, k): v for k, v in settings.items()}


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
            record = None
        if record is None or record.get("run") != listing.get("run"):     # none yet, or left by another run
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
    for c in ("face", "face_id", "frame"):
        table[c] = table[c].astype("Int64")
    if out is not None:
        from .results import write_frame

        write_frame(table, out)
    return table
