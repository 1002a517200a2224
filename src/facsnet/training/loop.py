"""Training runs: Adam with Keras-style time decay (or SGD / cosine, as options), batched augmentation,
mixed precision, best-on-validation checkpoints, resume after interruption, and DistributedDataParallel
when launched by ``torchrun``. One function, :func:`train`, for the CLI, cross-validation and tests;
its optimizer steps are :func:`facsnet.training.fit.optimizer_steps`, the package's one loop.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.augment import Augment
from ..data.faceset import FaceSet
from ..models import create_model
from ..hardware import resolve_precision
from ..utils import atomic_write_json, pick_device, seed_everything
from ..models.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from ..provenance import provenance
from .config import TrainConfig
from .distributed import dist_info, gather_states, init_distributed
from .fit import optimizer_steps
from .metrics import ClassificationMetrics
from .mixup import mix_batch, mixup_weight
from .distill import distillation_loss, load_teacher
from .predict import evaluate_model
from .schedules import make_optimizer
from .run_folder import check_run_folder, read_run_record

log = logging.getLogger("facsnet.train")

RUN_FILES = ("last.pt", "best.pt", "final.pt", "history.json", "provenance.json")   # what a training run writes besides config.json


@dataclass(frozen=True)
class TrainResult:
    out_dir: str
    best_epoch: int
    best_val_accuracy: float | None
    final: ClassificationMetrics | None   # metrics of the final weights on the validation set
    history: list[dict]
    images_per_s: float
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # the final weights
    completed: bool = True   # False when the time limit stopped the run first: no final.pt, resume to finish

    @property
    def epochs_done(self) -> int:
        return self.history[-1]["epoch"] if self.history else 0


# ----------------------------------------------------------------------------- helpers
def _build_model(cfg: TrainConfig, train_set: FaceSet) -> nn.Module:
    kwargs = dict(in_chans=1, num_classes=len(train_set.class_names), img_size=train_set.image_size,
                  norm=cfg.norm, class_names=train_set.class_names)
    if not cfg.init:
        return create_model(cfg.model, **kwargs)
    from ..models.hub import resolve_weights

    src = model_from_checkpoint(read_checkpoint(resolve_weights(cfg.init)))
    model = create_model(cfg.model, **{**kwargs, "norm": src.config["norm"]})
    state = {k: v for k, v in src.state_dict().items() if not k.startswith("head.")}
    missing, _ = model.load_state_dict(state, strict=False)
    if [m for m in missing if not m.startswith("head.")]:
        raise ValueError(f"init weights {cfg.init} do not fit model {cfg.model}: missing {missing}")
    if src.class_names == list(train_set.class_names):
        model.head.load_state_dict(src.head.state_dict())
    return model


# ----------------------------------------------------------------------------- train
def train(train_set: FaceSet, val_set: FaceSet | None = None, config: TrainConfig | None = None,
          out_dir: str | Path = "runs/train", resume: bool = True, overwrite: bool = False,
          kept_out: FaceSet | None = None) -> TrainResult:
    """Train ``config.model`` on ``train_set``; keep ``best.pt`` (best validation accuracy)
    and ``last.pt`` (everything needed to resume) in ``out_dir``. ``kept_out``: the whole hold-out when
    ``val_set`` is a part of it, recorded so that it can be recognised as never trained on.

    With ``resume`` and a ``last.pt`` already there, training continues from it. A folder holding
    a run with other settings or data is refused (:class:`RunFolderError`) unless ``overwrite``.
    """
    cfg = config or TrainConfig()
    out = Path(out_dir)
    device, distributed, rank, world = _devices(cfg)
    if val_set is not None and val_set.class_names != train_set.class_names:
        raise ValueError(f"validation classes {val_set.class_names} differ from training classes {train_set.class_names}")
    seed_everything(cfg.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = _build_model(cfg, train_set).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = len(train_set) // (cfg.batch_size * world)
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train_set)} training images are fewer than one batch of {cfg.batch_size * world}")
    optimizer, scheduler = make_optimizer(cfg, model.parameters(), steps_per_epoch)
    order_gen = torch.Generator().manual_seed(cfg.seed)            # same on every rank
    aug_gen = torch.Generator().manual_seed(cfg.seed * 1000 + 17 + rank)
    precision = resolve_precision(cfg.precision, device)
    teacher = (load_teacher(cfg.teacher, train_set.class_names, device, cfg.channels_last, train_set.image_size)
               if cfg.teacher else None)
    run_meta = _run_record(cfg, train_set, val_set, world, precision, teacher, kept_out)
    _claim_folder(out, cfg, run_meta, overwrite, rank, world)
    history: list[dict] = []
    start_epoch, best_acc, best_epoch = 0, -1.0, -1
    last_path = out / "last.pt"
    if resume and last_path.exists():
        history, start_epoch, best_acc, best_epoch = _resume(last_path, model, optimizer, scheduler, order_gen, aug_gen,
                                                             rank, device)
    net = model
    if distributed:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    amp = precision.autocast_dtype
    if rank == 0:
        log.info("precision %s (%s)", precision.precision, precision.reason)
    step_loss = _StepLoss(cfg, net, train_set, teacher, aug_gen, amp, device, rank)
    if rank == 0:
        _open_folder(out, run_meta, start_epoch, cfg.epochs, device, has_val=val_set is not None)

    images_seen, t_train, t_start = 0, 0.0, time.perf_counter()
    if rank == 0 and start_epoch < cfg.epochs:
        _log_plan(cfg, train_set, start_epoch, steps_per_epoch, world, device)
    completed = True
    for epoch in range(start_epoch, cfg.epochs):
        if _time_is_up(cfg, t_start, epoch, rank):
            completed = False
            break
        row, seconds = _train_epoch(epoch, start_epoch, cfg, net, step_loss, optimizer, scheduler, order_gen,
                                    len(train_set), steps_per_epoch, rank, world, device)
        t_train += seconds
        images_seen += steps_per_epoch * cfg.batch_size * world
        if val_set is not None:
            row["val_accuracy"], best_acc, best_epoch = _validate(model, val_set, cfg, amp, epoch, best_acc, best_epoch,
                                                                  out / "best.pt" if rank == 0 else None, run_meta)
        history.append(row)
        if rank == 0:
            log.info("epoch %d/%d %s", epoch + 1, cfg.epochs,
                     " ".join(f"{k}={v}" for k, v in row.items() if k != "epoch"))
            _save_last(last_path, model, cfg, epoch, best_acc, best_epoch, optimizer, scheduler, order_gen, aug_gen,
                       world, history, run_meta)
        elif world > 1:
            gather_states(aug_gen, world)

    # final.pt (and, without validation, best.pt) only once every epoch has run: a run stopped by its
    # time limit keeps last.pt to resume from and writes nothing that looks finished
    final = (evaluate_model(model, val_set, tta_flip=cfg.tta_flip, autocast_dtype=amp)
             if completed and val_set is not None else None)
    if rank == 0:
        _close_folder(out, model, cfg, run_meta, history, final, completed, has_val=val_set is not None)
    return TrainResult(
        out_dir=str(out), best_epoch=best_epoch, best_val_accuracy=best_acc if best_acc >= 0 else None,
        final=final, history=history, images_per_s=images_seen / t_train if t_train else 0.0,
        model=model, completed=completed,
    )


# ----------------------------------------------------------------------------- the parts of a run
def _log_plan(cfg: TrainConfig, train_set: FaceSet, start_epoch: int, steps_per_epoch: int, world: int,
              device: torch.device) -> None:
    log.info("plan: %s on %s (%d faces, %d classes), epochs %d-%d of %d, %d steps of %d per epoch, on %s",
             cfg.model, train_set.name, len(train_set), len(train_set.class_names), start_epoch + 1, cfg.epochs,
             cfg.epochs, steps_per_epoch, cfg.batch_size * world, device)


def _time_is_up(cfg: TrainConfig, t_start: float, epoch: int, rank: int) -> bool:
    """Whether ``max_minutes`` has passed (checked between epochs; the run stops resumably)."""
    if cfg.max_minutes is None or time.perf_counter() - t_start <= 60 * cfg.max_minutes:
        return False
    if rank == 0:
        log.warning("stopping after epoch %d of %d: time limit of %.1f min reached (resume with the same "
                    "command)", epoch, cfg.epochs, cfg.max_minutes)
    return True


def _validate(model: nn.Module, val_set: FaceSet, cfg: TrainConfig, amp, epoch: int, best_acc: float,
              best_epoch: int, best_path: Path | None, run_meta: dict) -> tuple[float, float, int]:
    """Score the epoch's weights on ``val_set``: (rounded accuracy, best accuracy, its epoch); a new best is
    saved to ``best_path`` (None on ranks other than 0)."""
    m = evaluate_model(model, val_set, tta_flip=cfg.tta_flip, autocast_dtype=amp)
    if m.accuracy > best_acc:
        best_acc, best_epoch = m.accuracy, epoch + 1
        if best_path is not None:
            save_checkpoint(best_path, model, cfg.model, epoch=epoch + 1, metrics=m.to_dict(), **run_meta)
    return round(m.accuracy, 5), best_acc, best_epoch


def _devices(cfg: TrainConfig) -> tuple[torch.device, bool, int, int]:
    """(device, distributed, rank, world size): one process, or one rank of a ``torchrun`` launch."""
    device = pick_device(cfg.device)
    distributed = init_distributed(device)
    rank, world = dist_info()
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return device, distributed, rank, world


def _run_record(cfg: TrainConfig, train_set: FaceSet, val_set: FaceSet | None, world: int, precision,
                teacher, kept_out: FaceSet | None = None) -> dict:
    """What makes a run this run (``config.json``, and every checkpoint): settings, data, world size,
    precision and teacher. A folder holding another record is not resumed."""
    val = _data_record(val_set) if val_set is not None else None
    if val is not None and kept_out is not None:   # validated on a part of this hold-out
        val["holdout_fingerprint"] = kept_out.fingerprint()
    return {
        "train_config": cfg.record(),
        "data": {"train": _data_record(train_set, with_soft=cfg.soft_targets), "val": val},
        "world_size": world,
        "precision": precision.to_dict(),
        **({"teacher": teacher.record()} if teacher is not None else {}),
    }


def _claim_folder(out: Path, cfg: TrainConfig, run_meta: dict, overwrite: bool, rank: int, world: int) -> None:
    """Refuse a folder that holds another run (unless ``overwrite``, which clears it).

    More epochs continue a run on the Keras schedule (the lr of a step does not depend on the total);
    fewer, or any change under a cosine schedule, make another run. Every rank checks (so all refuse
    together); rank 0 alone clears the folder."""
    before = (read_run_record(out) or {}).get("train_config", {}).get("epochs", 0)
    longer = frozenset({"epochs"}) if cfg.schedule == "keras" and cfg.epochs >= before else frozenset()
    check_run_folder(out, run_meta, overwrite, files=RUN_FILES, also_resumable=longer, clear=rank == 0)
    if world > 1:
        torch.distributed.barrier()


def _open_folder(out: Path, run_meta: dict, start_epoch: int, epochs: int, device: torch.device,
                 has_val: bool) -> None:
    """Write ``config.json``; with epochs to go, record this start and remove the weights that a shorter
    run left as finished (``final.pt``, and ``best.pt`` when there is no validation to choose it)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", run_meta)
    if start_epoch < epochs:
        _record_start(out, start_epoch, device, run_meta["data"]["train"]["fingerprint"])
        (out / "final.pt").unlink(missing_ok=True)
        if not has_val:
            (out / "best.pt").unlink(missing_ok=True)


class _StepLoss:
    """The loss of one optimizer step: the batch's faces augmented (and mixed, with mixup), the model's
    cross-entropy on their labels or vote distributions, and with a teacher its distillation term."""

    def __init__(self, cfg: TrainConfig, net: nn.Module, train_set: FaceSet, teacher, aug_gen: torch.Generator,
                 amp: torch.dtype | None, device: torch.device, rank: int):
        self.cfg, self.net, self.teacher, self.aug_gen, self.amp, self.device, self.rank = (
            cfg, net, teacher, aug_gen, amp, device, rank)
        self.augment = Augment(**cfg.augment)
        self.images, self.labels = train_set.tensors(device)
        self.soft = (torch.from_numpy(train_set.soft).to(device)
                     if cfg.soft_targets and train_set.soft is not None else None)

    def __call__(self, epoch: int, step: int, idx: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        xb = self.augment(self.images[idx].float().div_(255.0), self.aug_gen)
        target = self.soft[idx] if self.soft is not None else self.labels[idx]
        if cfg.mixup > 0:
            weight = mixup_weight(cfg.mixup, cfg.seed, self.rank, epoch, step)
            xb, partner = mix_batch(xb, weight, self.aug_gen)
        if cfg.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.amp or torch.bfloat16, enabled=self.amp is not None):
            logits = self.net(xb).float()
        loss = F.cross_entropy(logits, target, label_smoothing=cfg.label_smoothing)
        if cfg.mixup > 0:
            partner_loss = F.cross_entropy(logits, target[partner], label_smoothing=cfg.label_smoothing)
            loss = weight * loss + (1.0 - weight) * partner_loss
        if self.teacher is not None:   # the teacher sees the very batch the student does, mixed and augmented
            taught = distillation_loss(logits, self.teacher.logits(xb, self.amp), cfg.distill_temperature)
            loss = (1.0 - cfg.distill_weight) * loss + cfg.distill_weight * taught
        return loss


def _train_epoch(epoch: int, start_epoch: int, cfg: TrainConfig, net: nn.Module, step_loss: _StepLoss, optimizer,
                 scheduler, order_gen: torch.Generator, n: int, steps_per_epoch: int, rank: int, world: int,
                 device: torch.device) -> tuple[dict, float]:
    """One pass over a fresh shuffle of the training faces (this rank's share of it); returns the
    epoch's history row (loss, learning rate, seconds, images per second) and its seconds unrounded."""
    net.train()
    perm = torch.randperm(n, generator=order_gen)
    perm = perm[: steps_per_epoch * cfg.batch_size * world][rank::world].to(device)
    t0 = time.perf_counter()
    bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", cfg.progress and rank == 0)

    def after_step(step: int) -> None:
        if bar is not None:
            bar.update(1)
        if rank == 0 and epoch == start_epoch and step == min(19, steps_per_epoch - 1):
            _log_estimate(time.perf_counter() - t0, step + 1, steps_per_epoch, cfg.epochs - start_epoch)

    batches = [(step, perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]) for step in range(steps_per_epoch)]
    total_loss = optimizer_steps(batches, lambda batch: step_loss(epoch, *batch), optimizer, scheduler,
                                 after_step=after_step)
    if bar is not None:
        bar.close()
    train_loss = float(total_loss) / steps_per_epoch
    if not math.isfinite(train_loss):
        raise FloatingPointError(f"training loss became {train_loss} at epoch {epoch + 1}")
    dt = time.perf_counter() - t0
    return {"epoch": epoch + 1, "train_loss": round(train_loss, 5), "lr": scheduler.get_last_lr()[0],
            "seconds": round(dt, 2), "img_per_s": round(steps_per_epoch * cfg.batch_size * world / dt, 1)}, dt


def _save_last(last_path: Path, model: nn.Module, cfg: TrainConfig, epoch: int, best_acc: float, best_epoch: int,
               optimizer, scheduler, order_gen: torch.Generator, aug_gen: torch.Generator, world: int,
               history: list[dict], run_meta: dict) -> None:
    """``last.pt``: everything :func:`_resume` needs to go on exactly as if the run had not stopped.
    Its "epoch" is the 0-based index of the epoch just trained; best.pt and final.pt count epochs from 1,
    as the log and history.json do. Rank 0 calls it; gathering the ranks' augmentation states is a collective
    call, which every other rank answers with its own ``gather_states`` at the same point of the epoch."""
    save_checkpoint(
        last_path, model, cfg.model, epoch=epoch, best_val_accuracy=best_acc, best_epoch=best_epoch,
        optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
        rng={"order": order_gen.get_state(), "augment": gather_states(aug_gen, world),
             "torch": torch.get_rng_state()},
        history_json=json.dumps(history), **run_meta,
    )


def _close_folder(out: Path, model: nn.Module, cfg: TrainConfig, run_meta: dict, history: list[dict],
                  final: ClassificationMetrics | None, completed: bool, has_val: bool) -> None:
    """``history.json``, and once every epoch has run ``final.pt`` (and, with no validation to choose
    ``best.pt``, the final weights as best.pt too)."""
    if completed:
        save_checkpoint(out / "final.pt", model, cfg.model, epoch=cfg.epochs,
                        metrics=final.to_dict() if final else None, **run_meta)
        if not has_val:
            save_checkpoint(out / "best.pt", model, cfg.model, epoch=cfg.epochs, metrics=None, **run_meta)
    atomic_write_json(out / "history.json", history)


def _resume(last_path: Path, model: nn.Module, optimizer, scheduler, order_gen: torch.Generator,
            aug_gen: torch.Generator, rank: int, device: torch.device) -> tuple[list[dict], int, float, int]:
    """Load everything ``last.pt`` holds back into the run (weights, optimizer, schedule, random
    states); returns (history, first epoch to run, best validation accuracy, its epoch)."""
    ck = read_checkpoint(last_path)
    model.load_state_dict(ck["state_dict"])
    optimizer.load_state_dict(ck["optimizer"])
    for group in optimizer.param_groups:   # a checkpoint from an unfused optimizer resumes fused
        group["fused"] = True
        for p in group["params"]:               # fused kernels keep their step counts beside the weights
            st = optimizer.state.get(p, {})
            if torch.is_tensor(st.get("step")):
                st["step"] = st["step"].to(device=p.device, dtype=torch.float32)
    scheduler.load_state_dict(ck["scheduler"])
    order_gen.set_state(ck["rng"]["order"])
    aug_gen.set_state(ck["rng"]["augment"][rank] if rank < len(ck["rng"]["augment"]) else ck["rng"]["augment"][0])
    torch.set_rng_state(ck["rng"]["torch"])
    if rank == 0:
        log.info("resumed from %s at epoch %d", last_path, ck["epoch"] + 1)
    return json.loads(ck["history_json"]), ck["epoch"] + 1, ck["best_val_accuracy"], ck["best_epoch"]


def _record_start(out: Path, start_epoch: int, device: torch.device, data_fingerprint: str) -> None:
    """``provenance.json``: one record (command, version, host, date) per start of the run, the
    first and each resume, with the epoch it started from."""
    path = out / "provenance.json"
    starts = json.loads(path.read_text()).get("starts", []) if path.exists() else []
    starts.append(provenance(first_epoch=start_epoch + 1, device=str(device), data_fingerprint=data_fingerprint))
    atomic_write_json(path, {"starts": starts})


def _data_record(fs: FaceSet | None, with_soft: bool = False) -> dict | None:
    """What a run trains or is scored on; ``with_soft`` adds a hash of the soft targets it learns, so a
    run does not resume on other vote distributions (or another vote weight)."""
    if fs is None:
        return None
    record = {"name": fs.name, "source": fs.source, "n": len(fs), "fingerprint": fs.fingerprint(),
              "class_names": list(fs.class_names), "class_counts": fs.class_counts()}
    if with_soft and fs.soft is not None:
        record["soft_fingerprint"] = hashlib.sha1(np.ascontiguousarray(fs.soft, dtype=np.float32).tobytes()).hexdigest()[:16]
    return record


def _log_estimate(seconds: float, steps_done: int, steps_per_epoch: int, epochs_left: int) -> None:
    """The time the run will take on this host, from its first steps (evaluation passes not counted)."""
    per_epoch = seconds / steps_done * steps_per_epoch
    total = per_epoch * epochs_left
    when = f"{total / 3600:.1f} h" if total > 5400 else f"{total / 60:.1f} min" if total > 90 else f"{total:.0f} s"
    log.info("estimate from the first %d steps: %.0f s per epoch, about %s for the %d epoch(s) left on this host",
             steps_done, per_epoch, when, epochs_left)


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, leave=False, disable=None, unit="batch")
