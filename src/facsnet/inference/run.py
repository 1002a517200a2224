"""``facsnet analyze`` as a run: one table (written as rows finish, replaced only when complete),
or a corpus folder (one result per input, resumable, sharded), with a progress bar on a terminal."""
from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..models.hub import DEFAULT_MODEL
from ..samples import sample_paths
from ..utils import check_writable_file, check_writable_folder, parse_shard
from .annotate import check_annotation_target
from .corpus import analyze_corpus as run_corpus
from .corpus import merge_corpus
from .media import expected_frames
from .pipeline import Analyzer, _as_sources
from .results import COLUMNS, TABLE_SUFFIXES, RowStream

log = logging.getLogger("facsnet")


def analyze(inputs=None, model: str | None = None, out: str | None = None, annotate: str | None = None,
            detector: str = "blazeface", backend: str = "auto", stride: int = 1, max_frames: int | None = None,
            min_face_score: float = 0.5, level_eyes: bool = True, photo_tiles: int = 2, aus: str | None = "ckplus_au",
            au_intensity: str | None = "ckplus_au_intensity",
            detect_every: int = 1, precision: str = "auto", balanced: bool | float | None = None, num_threads: int | None = None,
            progress: bool = True, device: str = "cpu", landmarks: bool = True, eyes: str = "detector",
            save_crops: str | None = None):
    """Faces and emotion probabilities for photos, folders, videos (``camera:N`` for a camera) or
    arrays; with no inputs, the photos bundled with the package. ``out`` writes the table
    (.csv/.parquet/.jsonl/.json); ``annotate`` a folder of annotated photos or an annotated video;
    ``aus`` an Action Unit model (bundled ``ckplus_au`` or a checkpoint) adds one probability column per AU
    and ``au_intensity`` (bundled ``ckplus_au_intensity``) one 0-5 intensity column per AU (None: none);
    ``balanced`` treats the emotions as equally likely (corrects for the training class shares; a number
    between 0 and 1 corrects part of the way, see :func:`facsnet.training.calibration.prior_corrected`;
    None, the default: as far as the model's checkpoint asks, False: not at all);
    ``landmarks`` adds head pose and named face-mesh points per face (False: none, a little faster);
    ``eyes`` ("detector" or "mesh") names the eye points that level and frame each crop; ``detector``
    "crops" takes each image as one face crop already (nothing is detected); ``save_crops`` a folder for
    the crop the emotion model saw of each face (``<name>[.frame<k>].face<i>.png``)."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = sample_paths() if inputs is None or (not isinstance(inputs, np.ndarray) and len(inputs) == 0) else inputs
    if out:
        if Path(out).suffix.lower() not in TABLE_SUFFIXES:
            raise ValueError(f"{out}: a table's format follows its suffix, one of {', '.join(TABLE_SUFFIXES)}; "
                             "for one result file per input, give a folder (end it with /)")
        check_writable_file(out, TABLE_SUFFIXES)
    if annotate:
        check_annotation_target(annotate)
    if save_crops:
        check_writable_folder(save_crops, "--save-crops")
        given = [] if isinstance(inputs, np.ndarray) else [i for i in inputs if isinstance(i, (str, Path))]
        if any(Path(i).resolve() == Path(save_crops).resolve() for i in given):
            raise ValueError(f"--save-crops {save_crops}: an input folder; the crops would be read as photos on the "
                             "next run")
    analyzer = Analyzer(model or DEFAULT_MODEL, detector=detector, backend=backend, min_face_score=min_face_score,
                        level_eyes=level_eyes, photo_tiles=photo_tiles, au_model=aus, au_intensity_model=au_intensity,
                        detect_every=detect_every, landmarks=landmarks, eyes=eyes,
                        precision=precision, balanced=balanced, num_threads=num_threads, device=device)
    stream = None
    if out:   # finished rows go to TABLE.partial.* as they come; the complete table replaces OUT at the end
        extra = analyzer.face_columns + analyzer.au_names
        stream = RowStream(partial_path(out), COLUMNS + extra)
    bar = _frame_bar(inputs, stride, max_frames) if progress else None

    def finished(fr):
        if stream is not None:
            stream.write(fr, extra)
        if bar is not None:
            bar.update(1)

    try:
        result = analyzer.analyze(inputs, stride=stride, max_frames=max_frames, annotate_to=annotate,
                                  progress=bar is None and progress, on_frame=finished, crops_to=save_crops)
    except BaseException as exc:   # Ctrl-C, a crash: the finished rows stay in the partial table
        if stream is not None:
            exc.kept = stream.close(keep=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    if out and result.frames:   # an existing table is only ever replaced by a complete new one
        result.save(out)
    elif out:
        log.warning("nothing was analysed: %s left as it was", out)
    if stream is not None:
        stream.close(keep=False)
    return result


def _frame_bar(inputs, stride: int, max_frames: int | None):
    """A progress bar over the frames to analyse (total, rate, time left) on a terminal; None elsewhere."""
    if not sys.stderr.isatty():
        return None
    try:
        sources = _as_sources(inputs, [])
    except ValueError:        # the analysis itself will say what is wrong
        return None
    return tqdm(total=expected_frames(sources, stride, max_frames), unit="frame", desc="analyse", leave=False)


def is_corpus_out(out) -> bool:
    """``--out DIR`` (no suffix, an existing folder, or a trailing slash): one result file per input,
    resumable (see analyze_corpus); ``--out TABLE.csv`` (or .parquet, .jsonl, .json): one table."""
    if out is None:
        return False
    if str(out).strip() in ("", "."):
        raise ValueError(f"--out {str(out)!r}: name a table file or a new folder")

    if str(out).endswith(("/", "\\")):
        return True
    return Path(out).suffix.lower() not in TABLE_SUFFIXES and (Path(out).suffix == "" or Path(out).is_dir())


def analyze_corpus(inputs, out: str, shard: str | tuple[int, int] = (1, 1), engine: str = "local",
                   workers: int | None = None, ray_address: str | None = None, overwrite: bool = False,
                   model: str | None = None, **settings):
    """Photos and videos of folders, globs or manifests (CSV with a ``path`` column), one result file
    per input in the folder ``out`` as each finishes; a rerun does only what is missing; ``shard``
    ``"i/n"`` does the i-th of n deterministic parts; ``engine="ray"`` runs the inputs as Ray tasks.
    Join the results with :func:`merge`."""
    shard = parse_shard(shard)
    defaults = inspect.signature(analyze).parameters          # analyze's defaults, read from its signature
    for name in ("aus", "au_intensity", "landmarks"):
        settings.setdefault(name, defaults[name].default)
    return run_corpus(inputs, out, shard=shard, engine=engine, workers=workers, ray_address=ray_address,
                      overwrite=overwrite, model=model or DEFAULT_MODEL, **settings)


def merge(run_dir: str, out: str | None = None, allow_missing: bool = False):
    """The per-input results of a corpus run as one table (written to ``out`` when given)."""
    return merge_corpus(run_dir, out, allow_missing=allow_missing)


def partial_path(out: str | Path) -> Path:
    """Where a run keeps its finished rows until the table is complete: ``table.csv`` ->
    ``table.partial.csv``; other formats stream as JSON Lines (``table.partial.jsonl``)."""
    out = Path(out)
    suffix = ".csv" if out.suffix.lower() == ".csv" else ".jsonl"
    return out.with_name(f"{out.stem}.partial{suffix}")

