"""The two micro-expression experiments behind ``facsnet micro``: the MEGC 2019 composite and a
database's own frame sequences, both leave one subject out."""
from __future__ import annotations

import logging
from pathlib import Path

from ..data.registry import data_root
from ..faces.align import AlignSpec
from ..models.checkpoint import read_checkpoint
from ..training.run_folder import check_run_folder
from ..models.hub import framing_of, resolve_weights, weights_digest
from ..utils import parse_shard
from .data import read_megc2019, sequence_set
from .tables import read_coding_table
from .model import MicroConfig
from .run import COMPOSITE_VARIANTS, TWINS, composite_fold, run_loso, run_record, score_store, sequence_fold

log = logging.getLogger("facsnet")


def _init_provenance(init: str | None) -> dict:
    """Which pretrained weights a micro-expression run started from (their SHA-256 prefix)."""
    return {"init_sha256": weights_digest(init)} if init else {}


def _micro_config(init, epochs, lstm_epochs, seed, device, frozen=False, **extra):
    return MicroConfig(init=init, cnn_epochs=epochs, lstm_epochs=lstm_epochs, seed=seed, device=device,
                       frozen=frozen, **extra)


def micro_megc2019(data: str | None = None, variants=None, init: str | None = "fer2013", out: str = "runs/micro/megc2019",
                   epochs: int = 30, lstm_epochs: int = 150, seed: int = 0, device: str = "auto",
                   shard: str | tuple[int, int] = (1, 1), max_minutes: float | None = None, score_only: bool = False,
                   overwrite: bool = False):
    """Leave-one-subject-out on the MEGC 2019 composite (apex crop + onset->apex flow per clip):
    ``apex``, ``flow``, ``lstm`` over [flow, apex], each beside its ``_scratch`` twin (random init) and
    its ``_frozen`` twin (pretrained conv layers fixed, dense layers trained). Resumable (a folder
    holding a run with other settings is refused unless ``overwrite``);
    ``shard=(i, n)`` or ``"i/n"`` (1-based) lets n processes share the folds. Returns the scored ``LosoResult`` list."""
    shard = parse_shard(shard)                 # a bad shard stops before any data is read
    root = Path(data) if data else data_root() / "MEGC2019_composite_HTNet"
    micro_set = read_megc2019(root)
    for p in micro_set.problems:
        log.warning("%s", p)
    variants = list(variants or (v for v in COMPOSITE_VARIANTS if init or v.endswith("_scratch")))
    unknown = sorted(set(variants) - set(COMPOSITE_VARIANTS))
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(COMPOSITE_VARIANTS)}")
    cfg = _micro_config(init, epochs, lstm_epochs, seed, device)
    title = "MEGC 2019 composite (CASME II + SAMM + SMIC-HS), leave one subject out"
    extra = {"source": str(root), **_init_provenance(init)}
    if score_only:
        check_run_folder(Path(out), run_record(micro_set, cfg, title, extra), overwrite=False)   # scored as recorded
        return score_store(micro_set, variants, cfg, out, title, extra)
    return run_loso(micro_set, variants, cfg, out, composite_fold, title, shard=shard, max_minutes=max_minutes,
                    extra=extra, overwrite=overwrite)


def micro_loso(table: str, frames: str, database: str | None = None, classes: str = "megc3", select: str = "five",
               variants=("lstm", "apex"), init: str | None = "fer2013", out: str = "runs/micro/loso",
               epochs: int = 30, lstm_epochs: int = 150, seed: int = 0, device: str = "auto",
               detector="blazeface", max_minutes: float | None = None, overwrite: bool = False):
    """The paper's pipeline on a database's own frames (e.g. CASME II ``sub01/EP02_01f/img46.jpg``):
    frames chosen per clip (``five`` or ``every:K``), one aligned crop per clip, the CNN trained on the
    frames, the LSTM on the encoded frames, leave one subject out."""
    coding = read_coding_table(table, database)
    for p in coding.problems:
        log.warning("%s", p)
    spec = AlignSpec()
    if init:
        framing = framing_of(read_checkpoint(resolve_weights(init)), str(init))
        spec = framing or spec
    micro_set = sequence_set(coding.clips, frames, classes=classes, mode=select, detector=detector, spec=spec)
    for p in micro_set.problems:
        log.warning("%s", p)
    log.info("%s", micro_set.summary())
    cfg = _micro_config(init, epochs, lstm_epochs, seed, device)

    allowed = [b + t for t in TWINS for b in ("lstm", "apex")]
    bad = sorted(set(variants) - set(allowed))
    if bad:
        raise ValueError(f"unknown variant(s) {bad}; choose from {', '.join(allowed)}")
    title = f"{coding.database} frame sequences ({select}), CNN + LSTM, leave one subject out"
    return run_loso(micro_set, list(variants), cfg, out, sequence_fold, title, max_minutes=max_minutes,
                    extra={"table": str(table), "frames": str(frames), "classes": classes, "select": select,
                           "detector": detector if isinstance(detector, str) or detector is None else type(detector).__name__,
                           "table_problems": coding.problems, **_init_provenance(init)}, overwrite=overwrite)

