"""``facsnet VERB ...``: parse, call the API function of the verb, print its result."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from .. import api
from ..models.checkpoint import read_checkpoint
from ..models.hub import DEFAULT_MODEL
from .parser import _training_settings, parse


def main(argv=None) -> int:
    args = parse(argv)
    from ..provenance import set_command

    set_command(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from ..data import DatasetError
    from ..models.checkpoint import CheckpointError

    try:
        return VERBS[args.command](args) or 0
    except (DatasetError, CheckpointError, OSError, ValueError) as exc:   # the input's or the disk's fault: said plainly
        print(f"facsnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"facsnet {args.command}: interrupted; {_what_was_kept(args, exc)}", file=sys.stderr)
        return 130
    except Exception as exc:   # noqa: BLE001 - anything unforeseen: one line, the traceback on request
        if args.debug:
            raise
        print(f"facsnet {args.command}: error: {type(exc).__name__}: {exc}\n"
              f"(an unexpected failure: rerun as 'facsnet --debug {args.command} ...' for the traceback, and report it)",
              file=sys.stderr)
        return 1



def _run_train(args) -> int | None:
    """Train one model; print where it went and how it scored."""
    res = api.train(args.data, val=args.val, out=args.out, val_fraction=args.val_fraction,
                    train_fraction=args.train_fraction, subject_pattern=args.subject_pattern, overwrite=args.overwrite, **_training_settings(args))
    print(json.dumps({"out_dir": res.out_dir, "completed": res.completed, "epochs_done": res.epochs_done,
                      "best_epoch": res.best_epoch,
                      "best_val_accuracy": res.best_val_accuracy,
                      "final_val_accuracy": res.final.accuracy if res.final else None,
                      "train_img_per_s": round(res.images_per_s, 1)}, indent=2))


def _run_cv(args) -> int | None:
    """k-fold cross-validation, or the folds asked for; print the summary once every fold has run."""
    folds = _fold_numbers(args.folds) if args.folds else None
    res = api.cv(args.data, k=args.k, protocol=args.protocol, out=args.out, fold_seed=args.fold_seed,
                 folds=folds, subject_pattern=args.subject_pattern, overwrite=args.overwrite,
                 **_training_settings(args))
    if res is None:   # some folds still to run: asked for others, or stopped by --max-minutes
        print(f"not every fold has run yet in {args.out}: the same command (or one per --folds) goes on, "
              f"and the summary is written when every fold has run")
    else:
        print(res.to_markdown())
        print(f"cv.json, cv.md, confusion.png and one folder per fold in {args.out}", file=sys.stderr)


def _run_evaluate(args) -> int | None:
    """Score a model on a labelled set: a summary line and per-class recall, or JSON; a report folder with --out."""
    if args.out:
        from ..utils import check_writable_file

        check_writable_file(Path(args.out) / "report.html")
    res = api.evaluate(args.model, args.data, tta_flip=args.tta_flip, subject_pattern=args.subject_pattern,
                       balanced=_prior_strength(args), data_classes_only=args.data_classes_only)
    if args.out:
        from ..provenance import command
        from ..report import write_evaluation

        write_evaluation(res, args.out, command=command())
        print(f"eval.json, confusion.png and report.html in {args.out}", file=sys.stderr)
    if args.json:
        from ..provenance import provenance

        print(json.dumps({**res.to_dict(), "provenance": provenance()}, indent=2))
    else:
        from ..report.evaluation import balanced_hint, settings_note

        print(f"{res.model} on {res.dataset}: accuracy {100 * res.accuracy:.2f}%, balanced recall (UAR) "
              f"{100 * res.uar:.2f}%, ECE {res.ece:.3f} on {res.n} images"
              f"{settings_note(res)}")
        for c, r in res.per_class_recall.items():
            print(f"  {c:9s} recall {100 * r:.1f}%")
        if res.left_out_classes:
            print(f"  left out (model lacks the class): {res.left_out_classes}")
        if res.skipped_files:
            print(f"  skipped files: {len(res.skipped_files)}")
        hint = balanced_hint(res)
        if hint:
            print(f"  {hint}")


def _run_calibrate(args) -> int | None:
    """Fit the temperature (and, if asked, the class-prior strength) on held-out faces; write the calibrated checkpoint."""
    if args.prior_strength not in (None, "auto") and not 0 <= args.prior_strength <= 1:
        raise ValueError(f"--prior-strength {args.prior_strength:g}: give 'auto' or a number between 0 "
                         "(uncorrected) and 1 (equally likely classes)")
    res = api.calibrate(args.model, args.data, val=args.val, val_fraction=args.val_fraction,
                        tta_flip=args.tta_flip, out=args.out, subject_pattern=args.subject_pattern,
                        prior_strength=args.prior_strength)
    served = (f"; class prior corrected at strength {res.prior_strength:g}"
              f"{' (chosen there)' if res.prior_strength_rule == 'uar_keeping_accuracy' else ''}"
              if args.prior_strength is not None else "")
    print(f"temperature {res.temperature:.3f} fitted on {res.n} faces of {res.fitted_on}: "
          f"ECE {res.ece_before:.4f} -> {res.ece_after:.4f}, NLL {res.nll_before:.4f} -> {res.nll_after:.4f}"
          f"{served}; written to {args.out}")


def _run_ensemble(args) -> int | None:
    """Average several checkpoints' probabilities in one checkpoint."""
    out = api.ensemble(args.models, args.out, keep=args.keep)
    members = len(read_checkpoint(out).get("members", []))       # an ensemble among the inputs counts its members
    print(f"ensemble of {members} members written to {out}")


def _run_au_correlate(args) -> int | None:
    """The filter-to-Action-Unit correlation P(j, u) on CK+'s FACS labels."""
    res = api.au_correlate(args.model, args.data, labels=args.labels, layer=args.layer,
                           ns=[int(n) for n in args.n.split(",")], permutations=args.permutations,
                           eps=args.eps, out=args.out)
    print(res.to_markdown())
    print(f"au.json and au.md in {args.out}" if args.out else "not written (give --out DIR to keep it)",
          file=sys.stderr)


def _run_visualize(args) -> int | None:
    """Deconvnet / guided-backprop figures of single filters and their top images."""
    filters = [int(f) for f in args.filters.split(",")] if args.filters else None
    index = api.visualize(args.model, args.data, out=args.out, layer=args.layer, filters=filters, n=args.n,
                          rule=args.rule, eps=args.eps, au_labels=args.au_labels, au_n=args.au_n)
    print(f"{len(index['filters'])} filter figures ({index['live_filters']} live filters in {args.layer}) in {args.out}")
    if index.get("au_figures"):
        print("AU figures: " + ", ".join(f"{k} (filter {v})" for k, v in index["au_figures"].items()))


def _run_analyze_corpus(args) -> int | None:
    """One result file per input in a folder, resumable, split by --shard or run on Ray."""
    if not api.is_corpus_out(args.out):
        raise ValueError("--shard and --engine write one result per input: give --out a folder (no suffix)")
    if args.annotate or args.save_crops:
        raise ValueError(f"{'--annotate' if args.annotate else '--save-crops'} is for one table run; a corpus run "
                         "(--out DIR) writes results only")
    if args.device != "cpu":
        raise ValueError("--device is for one table run; a corpus run uses the CPU (or --engine ray)")
    res = api.analyze_corpus(
        args.inputs, args.out, shard=args.shard, engine=args.engine, workers=args.workers,
        ray_address=args.ray_address, overwrite=args.overwrite, model=args.model, detector=args.detector,
        backend=args.backend, stride=args.stride, max_frames=args.max_frames,
        min_face_score=args.min_face_score, level_eyes=args.level_eyes, photo_tiles=args.photo_tiles,
        aus=None if args.no_aus else args.aus, au_intensity=_au_intensity(args),
        detect_every=args.detect_every, precision=args.precision, balanced=_prior_strength(args),
        num_threads=args.threads, landmarks=args.landmarks, eyes=args.eyes)
    print(res.to_text(), file=sys.stderr)
    if res.inputs and not res.frames and not res.already_done:     # nothing of this shard could be read
        return 1


def _run_samples(args) -> int | None:
    """Copy the bundled photos and clip into a folder."""
    from ..samples import copy_samples

    copies = copy_samples(args.folder)
    print(f"{len(copies)} files in {args.folder}: {', '.join(p.name for p in copies)}", file=sys.stderr)


def _run_merge(args) -> int | None:
    """Join a corpus run's per-input results into one table."""
    out = args.out or str(Path(args.run_dir) / "merged.csv")
    table = api.merge(args.run_dir, out, allow_missing=args.allow_missing)
    print(f"{len(table)} row(s) from {table['path'].nunique()} input(s) in {out}", file=sys.stderr)


def _run_analyze_table(args) -> int | None:
    """Find, level and classify the faces of the inputs into one table (and annotated copies)."""
    t0 = time.perf_counter()
    res = api.analyze(args.inputs, model=args.model, out=args.out, annotate=args.annotate, save_crops=args.save_crops,
                      detector=args.detector, backend=args.backend, stride=args.stride,
                      max_frames=args.max_frames, min_face_score=args.min_face_score,
                      level_eyes=args.level_eyes, photo_tiles=args.photo_tiles,
                      aus=None if args.no_aus else args.aus,
                      au_intensity=_au_intensity(args), device=args.device, landmarks=args.landmarks, eyes=args.eyes,
                      detect_every=args.detect_every, precision=args.precision, balanced=_prior_strength(args),
                      num_threads=args.threads)
    _print_analysis(res, args, time.perf_counter() - t0)
    if res.skipped and not res.frames:
        return 1


def _run_export(args) -> int | None:
    """Export a model to ONNX."""
    print(api.export(args.model, args.out))


def _run_report(args) -> int | None:
    """One self-contained HTML page of a run folder or an analyze table."""
    from ..report import build_analysis_report, build_report

    if Path(args.run_dir).is_file():
        print(build_analysis_report(args.run_dir, args.out, video=args.video))
    else:
        print(build_report(args.run_dir, args.out))


def _run_analyze(args) -> int | None:
    """``--out DIR`` (or --shard / --engine): a corpus run; otherwise one table."""
    if api.is_corpus_out(args.out) or args.shard != "1/1" or args.engine != "local":
        return _run_analyze_corpus(args)
    return _run_analyze_table(args)


def _prior_strength(args) -> bool | float | None:
    """The class-prior correction asked for: ``--balanced`` (all the way), ``--balanced-strength S``, or
    neither (None: as far as the model's checkpoint asks)."""
    if args.balanced_strength is None:
        return True if args.balanced else None
    if not 0 <= args.balanced_strength <= 1:
        raise ValueError(f"--balanced-strength {args.balanced_strength:g}: give a number between 0 (the training "
                         "class shares, as trained) and 1 (equally likely classes, the same as --balanced)")
    if args.balanced and args.balanced_strength != 1:
        raise ValueError(f"--balanced and --balanced-strength {args.balanced_strength:g} ask for two different "
                         "corrections: give one of them")
    return args.balanced_strength


def _au_intensity(args) -> str | None:
    return None if args.no_aus or args.no_au_intensity else args.au_intensity


def _fold_numbers(text: str) -> list[int]:
    """``--folds 1,3`` as 0-based fold indices."""
    try:
        return [int(f) - 1 for f in text.split(",")]
    except ValueError:
        raise ValueError(f"--folds {text!r}: give fold numbers separated by commas, e.g. --folds 1,2,3") from None


def _what_was_kept(args, exc: KeyboardInterrupt) -> str:
    """One line on what an interrupted command leaves behind."""
    if args.command in ("train", "cv") or getattr(args, "micro_command", None) in ("megc2019", "loso"):
        out = Path(args.out) if getattr(args, "out", None) else None
        kept = out is not None and any(f for pattern in ("last.pt", "final.pt", "fold_*.json") for f in out.rglob(pattern))
        if not kept:   # the run record alone holds no finished epoch or fold
            return "nothing was written yet"
        return (f"finished epochs and folds are kept in {args.out}; "
                "the same command resumes from the last one")
    if args.command == "analyze":
        kept = getattr(exc, "kept", None)
        return f"the finished rows are in {kept}" if kept else "no table was written"
    return "nothing was written"


def _print_models() -> None:
    """One line per bundled model, from the checkpoints themselves."""
    from ..models.checkpoint import served_prior_strength
    from ..models.hub import BUNDLED, resolve_weights

    for name in BUNDLED:
        ck = read_checkpoint(resolve_weights(name))
        cfg, classes = ck["model_config"], ck["class_names"]
        mark = "*" if name == DEFAULT_MODEL else " "
        metrics, val = ck.get("metrics") or {}, ((ck.get("data") or {}).get("val") or {}).get("name")
        scored = (f"  [{100 * metrics['accuracy']:.1f}% on {val} when trained, before fp16 storage]"
                  if metrics.get("accuracy") and val else "")
        strength = served_prior_strength(ck)
        served = f"  [class prior corrected at strength {strength:g}]" if strength else ""
        print(f"{mark}{name:15s} {ck.get('task', 'emotion'):7s} {ck['model_name']:14s} "
              f"{cfg.get('in_chans', 1)}x{cfg['img_size']}x{cfg['img_size']}  {len(classes)} classes: {' '.join(classes)}"
              f"{scored}{served}")
    print("* the default model of analyze and evaluate")


def _run_transfer(args) -> None:
    split = lambda text: [x.strip() for x in text.split(",") if x.strip()]  # noqa: E731
    if args.transfer_command == "cross":
        from ..transfer import to_markdown

        cells = api.transfer_cross(split(args.sources), split(args.targets), out=args.out, k=args.k,
                                   epochs=args.epochs, seed=args.seed, update=args.update)
        print("accuracy % (as-is / output layer re-fitted), on the classes model and dataset share")
        print(to_markdown(cells))
        return
    if args.transfer_command == "au-intensity-model":
        print(api.train_au_intensity_model(args.backbone, args.data, intensities=args.intensities, out=args.out,
                                           epochs=args.epochs))
        return
    if args.transfer_command == "au-model":
        print(api.train_au_model(args.backbone, args.data, labels=args.labels, out=args.out, epochs=args.epochs,
                                 l1=args.l1, l2=args.l2))
        return
    aus = [int(a) for a in split(args.aus)] if args.aus else None
    if args.transfer_command == "au":
        res = api.transfer_au(args.backbone, args.data, labels=args.labels, task=args.task, k=args.k,
                              epochs=args.epochs, l1=args.l1, l2=args.l2, min_sequences=args.min_sequences,
                              aus=aus, seed=args.seed, out=args.out, balanced=args.balanced,
                              fine_tune=args.fine_tune, lr=args.lr)
    else:
        res = api.transfer_intensity(args.backbone, args.data, intensities=args.labels, k=args.k, epochs=args.epochs,
                                     min_coded=args.min_coded, aus=aus, seed=args.seed, out=args.out,
                                     fine_tune=args.fine_tune, lr=args.lr, hurdle=args.hurdle)
    print(res.to_markdown())


def _run_micro(args) -> None:
    from ..micro.loso import to_markdown

    split = lambda text: [x.strip() for x in text.split(",") if x.strip()]  # noqa: E731
    if args.micro_command == "tables":
        _print_tables(args)
        return
    init = None if str(args.init).lower() == "none" else args.init
    common = dict(init=init, out=args.out, epochs=args.epochs, lstm_epochs=args.lstm_epochs, seed=args.seed,
                  device=args.device, max_minutes=args.max_minutes, overwrite=args.overwrite)
    if args.micro_command == "megc2019":
        res = api.micro_megc2019(args.data, split(args.variants) if args.variants else None, shard=args.shard,
                                 score_only=args.score_only, **common)
    else:
        res = api.micro_loso(args.table, args.frames, database=args.database, classes=args.classes,
                             select=args.select, variants=split(args.variants), **common)
    print(to_markdown(res))


def _print_tables(args) -> None:
    from pathlib import Path

    from ..micro import read_coding_table

    paths = [Path(p) for p in args.paths]
    if not paths:
        from ..data.registry import data_root
        paths = [data_root() / "micro-expression-labels" / "Onset_Apex_Files"]
    files = [f for p in paths for f in (sorted(p.rglob("*.xlsx")) if p.is_dir() else [p])]
    for f in files:
        t = read_coding_table(f, args.database)
        print(t.summary())
        for line in t.problems:
            print(f"  reported: {line}")


def _face_extras(face) -> str:
    """", yaw +3 pitch -2 roll +1, AU6 AU12" for a face with a pose and AUs present (p >= 0.5)."""
    text = ""
    if face.pose is not None:
        text += f", yaw {face.pose.yaw:+.0f} pitch {face.pose.pitch:+.0f} roll {face.pose.roll:+.0f}"
    present = [n for n, p in face.aus.items() if not n.endswith("_intensity") and p >= 0.5]
    return text + (", " + " ".join(present) if present else "")


def _print_analysis(res, args, seconds: float) -> None:
    if not args.out:  # no table file: print one line per face
        for fr in res.frames:
            where = fr.path + (f" frame {fr.frame}" if fr.time_s is not None or fr.frame else "")
            if not fr.faces:
                print(f"{where}: no face found")
            for i, f in enumerate(fr.faces):
                print(f"{where} face {i}: {f.emotion} {f.probabilities[f.emotion]:.2f}{_face_extras(f)} at "
                      f"x={f.box[0]:.0f} y={f.box[1]:.0f} w={f.box[2]:.0f} h={f.box[3]:.0f}")
    speed = f" in {seconds:.1f} s ({len(res.frames) / seconds:.1f} frames/s)" if res.frames and seconds > 0 else ""
    print(res.summary() + speed + (f"; table in {args.out}" if args.out and res.frames else "")
          + (f"; annotated in {args.annotate}" if args.annotate else "")
          + (f"; crops in {args.save_crops}" if args.save_crops and res.faces else ""), file=sys.stderr)


# one function per verb; each returns the exit status (None: 0)
VERBS = {
    "train": _run_train, "cv": _run_cv, "evaluate": _run_evaluate, "calibrate": _run_calibrate,
    "ensemble": _run_ensemble, "au-correlate": _run_au_correlate, "visualize": _run_visualize,
    "analyze": _run_analyze, "samples": _run_samples, "merge": _run_merge,
    "transfer": _run_transfer, "micro": _run_micro,
    "export": _run_export, "models": lambda args: _print_models(), "report": _run_report,
}
