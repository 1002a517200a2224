"""``facsnet`` command line: a thin shell over :mod:`facsnet.api` (one subcommand per function)."""
from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
import time
from pathlib import Path

from .data.augment import Augment
from .models.hub import DEFAULT_MODEL
from .training.loop import TrainConfig

DEFAULTS = TrainConfig()


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option that has a default value shows it; examples (the epilog) keep their line breaks."""

    def _get_help_string(self, action):
        text = (action.help or "").strip()
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)".strip()

    def _format_action(self, action):   # argparse leaves options without help text out of this step
        if action.help is None and action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            action.help = "(default: %(default)s)"
        return super()._format_action(action)


# One or two runnable examples per verb, shown at the end of `facsnet VERB --help`.
EXAMPLES = {
    "facsnet": "facsnet analyze photo.jpg --out faces.csv     # emotions of every face in a photo\n"
               "facsnet models                               # the bundled models\n"
               "facsnet VERB --help                          # options and examples of one verb",
    "models": "facsnet models",
    "train": "facsnet train --data fer2013 --val holdout --epochs 60 --out runs/fer   # FER2013, long on a CPU\n"
             "facsnet train --data path/to/class_folders --epochs 30 --init fer2013   # your faces, from FER weights",
    "cv": "facsnet cv --data ckplus48 --protocol subject --init fer2013 --epochs 30 --out runs/ck_cv",
    "evaluate": "facsnet evaluate --data fer2013:validation              # the default model on PublicTest\n"
                "facsnet evaluate --model fer2013 --data path/to/class_folders --balanced --json\n"
                "facsnet evaluate --data ckplus48 --out runs/eval_ck   # eval.json, confusion.png, report.html",
    "ensemble": "facsnet ensemble runs/a/final.pt runs/b/final.pt --out runs/ab.pt",
    "calibrate": "facsnet calibrate --model runs/fer/final.pt --data fer2013 --tta-flip --out runs/fer/calibrated.pt",
    "au-correlate": "facsnet au-correlate --model ckplus48 --layer conv3 --out runs/au",
    "visualize": "facsnet visualize --model ckplus48 --layer conv3 --filters 0,1,2 --out runs/vis",
    "analyze": "facsnet analyze                                  # the bundled sample photos\n"
               "facsnet analyze clip.mp4 --out clip.csv --annotate clip_annotated.mp4 --aus ckplus_au\n"
               "facsnet analyze videos/ --out runs/corpus --shard 1/4   # one result per input; rerun resumes\n"
               "facsnet analyze manifest.csv --out runs/corpus --engine ray --workers 8",
    "merge": "facsnet merge runs/corpus --out corpus.csv",
    "samples": "facsnet samples demo/     # then: facsnet analyze demo/clip.mp4 --out clip.csv",
    "transfer": "facsnet transfer cross --out runs/transfer\nfacsnet transfer au --task multilabel --l1 0.01 --l2 0.01",
    "micro": "facsnet micro megc2019 --variants apex,lstm --out runs/micro",
    "export": "facsnet export fer2013_bn model.onnx",
    "report": "facsnet report runs/ck_cv                          # curves, confusion matrices, tables\n"
              "facsnet report clip.csv --video clip_annotated.mp4   # emotions over time, the video beside",
}


class Parser(argparse.ArgumentParser):
    """argparse that refuses abbreviated options, shows defaults and examples in its help, and
    suggests the closest option (of the same verb) for an unknown one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        verb = self.prog.split()[-1]
        if self.epilog is None and verb in EXAMPLES:
            self.epilog = "examples:\n  " + EXAMPLES[verb].replace("\n", "\n  ")

    def error(self, message: str):
        if "unrecognized arguments" in message:
            words = message.split(":", 1)[1].split()
            known = _all_options(self)
            for w in words:
                close = difflib.get_close_matches(w.split("=")[0], known, n=1)
                if close:
                    message += f" (did you mean {close[0]}?)"
        self.exit(2, f"{self.prog}: error: {message}\n('{self.prog} --help' lists the options and examples)\n")


# Help for options that several verbs share (by destination), used where a verb gives none of its own.
SHARED_HELP = {
    "data": "dataset: a bundled name[:split] (fer2013, ferplus, ferplus-dist, ckplus48) or a folder",
    "out": "where to write (a run folder, table or file, as the verb says)",
    "model": "bundled model name or checkpoint",
    "val_fraction": "share of the training data held out for validation (no validation split, or --val holdout)",
    "epochs": "passes over the training data",
    "batch_size": "images per optimizer step",
    "weight_decay": "L2 weight decay",
    "label_smoothing": "label smoothing of the targets (0: none)",
    "norm": "input normalisation: per_image (zero mean, unit variance per face) or fixed",
    "channels_last": "keep the NCHW memory layout (channels-last is faster on CPUs)",
    "seed": "random seed: weights, shuffling, augmentation",
    "progress": "no progress bar",
    "k": "number of folds",
    "fold_seed": "seed of the fold assignment",
    "subject_pattern": "regular expression whose first group is the subject id in a file name (subject folds)",
    "layer": "convolution layer (conv1, conv2, conv3)",
    "permutations": "shuffles of the AU labels for the chance baseline",
    "rule": "guided (guided backprop, Springenberg) or deconvnet (Zeiler)",
    "eps": "activation above which a filter counts as firing",
    "detector": "face detector",
    "min_face_score": "lowest detector score kept as a face",
    "folder": "folder to copy the bundled photos and clip into",
    "run_dir": "a run folder (for merge: the folder of analyze --out DIR)",
    "backbone": "emotion model whose conv layers feed the new head (bundled name or checkpoint)",
    "labels": "CK+ AU label table (default: CK+_AU_labels/ under the data folder)",
    "intensities": "CK+ FACS intensity table (default: CK+_AU_labels/ under the data folder)",
    "l1": "L1 penalty on the head's outputs (sparsity)",
    "l2": "L2 penalty on the head's outputs",
    "task": "single (one detector per AU) or multilabel (one head for all AUs)",
    "min_sequences": "AUs coded in fewer CK+ sequences are left out",
    "min_coded": "AUs with fewer coded intensities are left out",
    "lstm_epochs": "LSTM training epochs",
    "device": "auto, cpu, cuda, cuda:1 ...",
    "database": "the coding table's database (casme2, samm, smic, casme3; default: read from the file)",
    "classes": "class set: megc3 (negative, positive, surprise) or the table's own",
}


def _fill_help(parser: argparse.ArgumentParser) -> None:
    """Give every option without help text the shared one for its destination."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _fill_help(sub)
        elif action.help is None and action.dest in SHARED_HELP:
            action.help = SHARED_HELP[action.dest]


def _all_options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of ``parser`` and its subcommands."""
    out = []
    for action in parser._actions:
        out += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += _all_options(sub)
    return out


def _add_training_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training (defaults: the paper's settings)")
    g.add_argument("--model", default=DEFAULTS.model, help="registered model name")
    g.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    g.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    g.add_argument("--lr", type=float, default=DEFAULTS.lr, help="initial learning rate")
    g.add_argument("--optimizer", choices=["adam", "sgd"], default=DEFAULTS.optimizer,
                   help="adam (the paper's) or sgd with Nesterov momentum")
    g.add_argument("--momentum", type=float, default=DEFAULTS.momentum, help="SGD momentum")
    g.add_argument("--schedule", choices=["keras", "cosine"], default=DEFAULTS.schedule,
                   help="keras: lr / (1 + decay * step) (the paper's); cosine: lr to 0 over --epochs")
    g.add_argument("--decay", type=float, default=DEFAULTS.decay, help="Keras time decay per step")
    g.add_argument("--erase", type=float, default=0.0,
                   help="probability of random erasing (a noise rectangle) on top of the flips and affine warps")
    g.add_argument("--degrade", type=float, default=0.0,
                   help="probability of each field degradation (blur, low resolution, JPEG, tone curve), as the "
                        "faces `facsnet analyze` finds in photos and videos")
    g.add_argument("--warmup-steps", type=int, default=DEFAULTS.warmup_steps, help="linear lr warm-up steps")
    g.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    g.add_argument("--label-smoothing", type=float, default=DEFAULTS.label_smoothing)
    g.add_argument("--soft-targets", action="store_true", help="train on vote distributions (ferplus-dist)")
    g.add_argument("--norm", choices=["per_image", "fixed"], default=DEFAULTS.norm)
    g.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=DEFAULTS.precision,
                   help="auto: bf16 where the hardware computes it natively (CUDA, AMX / AVX512_BF16 CPUs), "
                        "else fp32; bf16 on other CPUs is emulated and slow")
    g.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    g.add_argument("--seed", type=int, default=DEFAULTS.seed)
    g.add_argument("--device", default=DEFAULTS.device, help="auto, cpu, cuda, cuda:1 ...")
    g.add_argument("--init", default=None, help="start from a checkpoint or bundled model (transfer)")
    g.add_argument("--tta-flip", action="store_true", help="score with the mean over the mirror image")
    g.add_argument("--no-progress", dest="progress", action="store_false")
    g.add_argument("--max-minutes", type=float, default=None, help="stop resumably after this wall time")


def _training_settings(args) -> dict:
    keys = ["model", "epochs", "batch_size", "lr", "optimizer", "momentum", "schedule", "decay", "warmup_steps",
            "weight_decay", "label_smoothing", "soft_targets", "norm", "precision", "channels_last", "seed", "device",
            "init", "tta_flip", "progress", "max_minutes"]
    settings = {k: getattr(args, k) for k in keys}
    if args.erase or args.degrade:
        field = {k: args.degrade for k in ("blur", "lowres", "jpeg", "gamma")}
        settings["augment"] = {**Augment().to_dict(), "erase": args.erase, **field}
    return settings


def build_parser() -> Parser:
    parser = Parser(prog="facsnet", description="Facial expression analysis after Breuer & Kimmel (2017).")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    parser.add_argument("--version", action="version", version=f"facsnet {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected failure")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("models", help="list the bundled models: name, task, classes, input")

    p = sub.add_parser("train", help="train a model on a dataset")
    p.add_argument("--data", default=None, help="NAME[:SPLIT] or a path (required: fer2013 alone is hours of "
                   "training on a CPU)")
    p.add_argument("--val", default=None, help="validation NAME[:SPLIT], path, 'holdout' (--val-fraction of the training data, the "
                   "same faces for every seed) or 'none'")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--subject-pattern", default=None, help="regex whose group 1 is the subject id in file names")
    p.add_argument("--out", default="runs/train")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh when --out holds a run with other settings or data (default: refuse)")
    _add_training_options(p)

    p = sub.add_parser("cv", help="k-fold cross-validation")
    p.add_argument("--data", default="ckplus48")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--protocol", choices=["subject", "image"], default=None,
                   help="default: subject when the data has subject ids")
    p.add_argument("--fold-seed", type=int, default=0)
    p.add_argument("--folds", default=None, help="comma-separated 1-based folds to run (default all)")
    p.add_argument("--subject-pattern", default=None)
    p.add_argument("--out", default="runs/cv")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh when --out holds a CV run with other settings or data (default: refuse)")
    _add_training_options(p)

    p = sub.add_parser("evaluate", help="score a model on a labelled dataset")
    p.add_argument("--model", default=None, help=f"bundled name or checkpoint (default: {DEFAULT_MODEL})")
    p.add_argument("--data", default="fer2013:validation")
    p.add_argument("--subject-pattern", default=None)
    p.add_argument("--tta-flip", action=argparse.BooleanOptionalAction, default=None,
                   help="average with the mirror image (default: as the model's card says)")
    p.add_argument("--balanced", action="store_true",
                   help="treat the classes as equally likely (correct for their shares in the training faces)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", default=None, help="a folder for eval.json, confusion.png and report.html "
                   "(summary, confusion matrix, precision / recall / F1 per class)")
    p = sub.add_parser("calibrate", help="fit a model's softmax temperature on held-out faces")
    p.add_argument("--model", required=True, help="checkpoint (or bundled name) to calibrate")
    p.add_argument("--data", default="fer2013", help="the data the model was trained on")
    p.add_argument("--val", default="holdout", help="'holdout' (the part train --val holdout kept out) "
                   "or a labelled dataset")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--tta-flip", action=argparse.BooleanOptionalAction, default=None,
                   help="the model predicts with mirror averaging (default: as it was trained to be scored)")
    p.add_argument("--subject-pattern", default=None, help="regex whose group 1 is the subject id in file names")
    p.add_argument("--out", required=True, help="the calibrated checkpoint (.pt) to write")
    p = sub.add_parser("ensemble", help="one model that averages the probabilities of several")
    p.add_argument("models", nargs="+", help="checkpoints (or bundled names) with the same classes and data")
    p.add_argument("--out", required=True, help="the ensemble checkpoint (.pt) to write")
    p = sub.add_parser("au-correlate", help="live filters and the filter-to-Action-Unit correlation on CK+")
    p.add_argument("--model", default="ckplus48", help="bundled name or checkpoint")
    p.add_argument("--data", default="ckplus48", help="CK+ data with sequence ids")
    p.add_argument("--labels", default=None, help="CK+ AU label csv (default: CK+_AU_labels in the data root)")
    p.add_argument("--layer", default="conv3")
    p.add_argument("--n", default="5,10,20", help="comma-separated top-N sizes")
    p.add_argument("--permutations", type=int, default=100)
    p.add_argument("--eps", type=float, default=0.0, help="a filter is dead if it never exceeds this")
    p.add_argument("--out", default=None)
    p = sub.add_parser("visualize", help="top-N images per filter with deconvnet / guided-backprop overlays")
    p.add_argument("--model", default="ckplus48")
    p.add_argument("--data", default="ckplus48")
    p.add_argument("--layer", default="conv3")
    p.add_argument("--filters", default=None, help="comma-separated filter indices (default: every live filter)")
    p.add_argument("--n", type=int, default=8, help="images per filter")
    p.add_argument("--rule", choices=["guided", "deconvnet"], default="guided")
    p.add_argument("--eps", type=float, default=0.0)
    p.add_argument("--au-labels", default=None, help="CK+ AU label csv: also draw one figure per matched AU")
    p.add_argument("--au-n", type=int, default=10, help="top-N for the AU match (P(j,u) = 1)")
    p.add_argument("--out", default="runs/visualize")
    p = sub.add_parser("analyze", help="faces and emotions in photos, folders, videos or a camera")
    p.add_argument("inputs", nargs="*", help="photos, folders, videos, camera:N (default: the bundled sample photos)")
    p.add_argument("--out", default=None, help="table: .csv, .parquet, .jsonl or .json; or a folder (no suffix): "
                   "one result file per input, written as each finishes, and a rerun does only what is missing")
    p.add_argument("--annotate", default=None, help="folder for annotated photos/videos, or OUT.mp4 for one video")
    p.add_argument("--model", default=None, help=f"bundled name, checkpoint or .onnx (default: {DEFAULT_MODEL})")
    p.add_argument("--balanced", action="store_true",
                   help="treat the emotions as equally likely (correct for their shares in the training faces)")
    p.add_argument("--detector", default="blazeface")
    p.add_argument("--backend", choices=["auto", "openvino", "onnx", "torch"], default="auto",
                   help="classifier runtime (auto: the fastest installed: openvino, onnx, torch)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                   help="classifier precision (auto: bf16 where the CPU has native bf16, else fp32)")
    p.add_argument("--stride", type=int, default=1, help="analyse every k-th video frame")
    p.add_argument("--max-frames", type=int, default=None, help="stop each video after this many analysed frames")
    p.add_argument("--min-face-score", type=float, default=0.5)
    p.add_argument("--no-level", dest="level_eyes", action="store_false", help="keep the head's tilt in the crop")
    p.add_argument("--photo-tiles", type=int, default=2, help="NxN tiles for small faces in photos (0: off)")
    p.add_argument("--aus", default="ckplus_au", help="Action Unit presence model (bundled or a checkpoint): AU columns")
    p.add_argument("--au-intensity", default="ckplus_au_intensity",
                   help="AU intensity model (0-5): AU*_intensity columns")
    p.add_argument("--no-aus", action="store_true", help="emotions only: no AU columns (faster)")
    p.add_argument("--no-au-intensity", action="store_true", help="AU presence columns without intensities")
    p.add_argument("--no-landmarks", dest="landmarks", action="store_false",
                   help="no head pose and landmark columns (a little faster)")
    p.add_argument("--eyes", choices=["detector", "mesh"], default="detector",
                   help="the eye points that level and frame each crop: the detector's keypoints or the face mesh's")
    p.add_argument("--detect-every", type=int, default=1,
                   help="video: detect faces on every k-th analysed frame and keep them in between (faster)")
    p.add_argument("--shard", default="1/1", help="with --out DIR: do the I-th of N deterministic parts (I/N, 1-based)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="with --out DIR: run the inputs in this process or as Ray tasks (pip install 'facsnet[ray]')")
    p.add_argument("--workers", type=int, default=None, help="Ray workers (default: the CPU count)")
    p.add_argument("--ray-address", default=None, help="an existing Ray cluster (auto, ray://host:10001); default: a local one")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the models (default: the runtime's)")
    p.add_argument("--device", default="cpu", help="where the models run: cpu (OpenVINO / ONNX Runtime), cuda, "
                   "cuda:N, or auto (a GPU when there is one; PyTorch runs there)")
    p.add_argument("--overwrite", action="store_true", help="with --out DIR: start afresh when DIR holds other settings")
    p = sub.add_parser("samples", help="copy the bundled public-domain photos and a short clip into a folder")
    p.add_argument("folder", nargs="?", default="facsnet-samples")
    p = sub.add_parser("merge", help="join the per-input results of a corpus run (analyze --out DIR) into one table")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="the table: .csv, .parquet or .jsonl (default: RUN_DIR/merged.csv)")
    p.add_argument("--allow-missing", action="store_true", help="merge what is done even if some inputs are not")
    p = sub.add_parser("transfer", help="cross-dataset table, AU detection and AU intensity from an emotion CNN")
    tsub = p.add_subparsers(dest="transfer_command", required=True, parser_class=Parser)
    t = tsub.add_parser("cross", help="every model on every dataset, as-is and with a re-fitted output layer")
    t.add_argument("--sources", default="fer2013,fer2013_bn,ferplus,ckplus48", help="models (bundled or checkpoints)")
    t.add_argument("--targets", default="ckplus48,fer2013,ferplus", help="datasets (NAME or a class-folder path)")
    t.add_argument("--k", type=int, default=10)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs/transfer")
    t.add_argument("--update", action="store_true",
                   help="re-run only these sources' rows of the table already in --out, keeping the others")
    t = tsub.add_parser("au-model", help="fit the multi-label AU head on all of CK+ and save it (for analyze --aus)")
    t.add_argument("--backbone", default="fer2013")
    t.add_argument("--data", default="ckplus48")
    t.add_argument("--labels", default=None)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--l1", type=float, default=0.01)
    t.add_argument("--l2", type=float, default=0.01)
    t.add_argument("--out", default="runs/au_model.pt")
    t = tsub.add_parser("au-intensity-model", help="fit the AU intensity head (0-5) on all of CK+ and save it")
    t.add_argument("--backbone", default="fer2013")
    t.add_argument("--data", default="ckplus48")
    t.add_argument("--intensities", default=None)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--out", default="runs/au_intensity_model.pt")
    for name, text in (("au", "AU detection on CK+, subject folds"), ("intensity", "AU intensity 0-5 on CK+")):
        t = tsub.add_parser(name, help=text)
        t.add_argument("--backbone", default="fer2013", help="emotion model whose conv layers are frozen features")
        t.add_argument("--data", default="ckplus48")
        t.add_argument("--labels", default=None, help="CK+ AU csv" if name == "au" else "ck_facs_intensity.csv")
        t.add_argument("--aus", default=None, help="comma-separated AU numbers (default: all coded often enough)")
        t.add_argument("--k", type=int, default=10)
        t.add_argument("--epochs", type=int, default=30)
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--out", default=None, help="JSON result file")
        t.add_argument("--fine-tune", action="store_true", help="train the conv layers too (default: frozen)")
        t.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate when fine-tuning")
        if name == "au":
            t.add_argument("--task", choices=["single", "multilabel"], default="multilabel")
            t.add_argument("--l1", type=float, default=0.0, help="L1 penalty on the sigmoid outputs")
            t.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the sigmoid outputs")
            t.add_argument("--min-sequences", type=int, default=10)
            t.add_argument("--balanced", action="store_true",
                           help="weight each AU's positives by its negative/positive ratio in the training folds")
        else:
            t.add_argument("--min-coded", type=int, default=10)
            t.add_argument("--hurdle", action="store_true",
                           help="presence head + intensity head fitted on present cells (for mostly-0 targets)")
    p = sub.add_parser("micro", help="micro-expressions: coding tables, LOSO on the MEGC 2019 composite or on frames")
    msub = p.add_subparsers(dest="micro_command", required=True, parser_class=Parser)
    t = msub.add_parser("tables", help="parse coding tables (.xlsx) and list their clips and reported rows")
    t.add_argument("paths", nargs="*", help="tables or folders (default: the shared micro-expression-labels)")
    t.add_argument("--database", default=None, help="casme2, samm, smic, casme3 or dfme (default: from the name)")
    for name, text in (("megc2019", "LOSO on the MEGC 2019 composite (apex crop + flow image per clip)"),
                       ("loso", "LOSO on a database's frames: five frames (or every K-th) -> CNN -> LSTM")):
        t = msub.add_parser(name, help=text)
        if name == "megc2019":
            t.add_argument("--data", default=None, help="composite folder (default: shared MEGC2019_composite_HTNet)")
            t.add_argument("--variants", default=None, help="comma-separated: apex,flow,lstm and their _scratch / _frozen twins")
            t.add_argument("--shard", default="0/1", help="I/N: run folds I, I+N, ... (N processes share --out)")
            t.add_argument("--score-only", action="store_true", help="score the finished folds in --out, train nothing")
        else:
            t.add_argument("--table", required=True, help="the database's coding table (.xlsx)")
            t.add_argument("--frames", required=True, help="frame folder in the database's own layout")
            t.add_argument("--database", default=None)
            t.add_argument("--classes", choices=["megc3", "emotion", "objective"], default="megc3")
            t.add_argument("--select", default="five", help="five (first, onset, apex, offset, last) or every:K")
            t.add_argument("--variants", default="lstm,apex", help="lstm, apex and their _scratch / _frozen twins")
        t.add_argument("--init", default="fer2013", help="pretrained emotion model, or 'none' to train from scratch")
        t.add_argument("--epochs", type=int, default=30, help="CNN epochs per fold")
        t.add_argument("--lstm-epochs", type=int, default=150)
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--device", default="auto")
        t.add_argument("--max-minutes", type=float, default=None, help="stop resumably after this wall time")
        t.add_argument("--out", default=f"runs/micro/{name}")
    p = sub.add_parser("export", help="export a model to ONNX")
    p.add_argument("model", help="bundled name or checkpoint")
    p.add_argument("out", help="OUT.onnx")
    p = sub.add_parser("report", help="one self-contained HTML page of a run folder or an analyze table")
    p.add_argument("run_dir", help="a run folder (training, cv, evaluation, au-correlate) or an analyze table")
    p.add_argument("--out", default=None, help="default: RUN_DIR/report.html, or TABLE.html for a table")
    p.add_argument("--video", default=None, help="an annotated video to embed in the report of an analyze table")
    _fill_help(parser)
    return parser


def _verb_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub-)parser of the verb the command line chose, e.g. that of ``transfer au``."""
    verb = parser
    for dest in ("command", "transfer_command", "micro_command"):
        sub = next((a for a in verb._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, dest, None)
        if sub is not None and name in sub.choices:
            verb = sub.choices[name]
    return verb


def parse(argv=None) -> argparse.Namespace:
    """Parse the command line; an unknown option is reported by its verb's parser, which suggests
    only that verb's options."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _verb_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "analyze" and args.no_aus and (args.aus != "ckplus_au" or args.au_intensity != "ckplus_au_intensity"):
        _verb_parser(parser, args).error("--no-aus leaves the AU models out: drop it, or drop --aus / --au-intensity")
    if args.command == "train" and args.data is None:
        _verb_parser(parser, args).error(
            "name the data to train on with --data: a bundled set (fer2013, ferplus, ckplus48) or a folder of "
            "class folders; training on all of FER2013 takes hours on a CPU, so it is never started by default")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    from .provenance import set_command

    set_command(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from . import api
    from .data import DatasetError
    from .models.checkpoint import CheckpointError

    try:
        if args.command == "train":
            res = api.train(args.data, val=args.val, out=args.out, val_fraction=args.val_fraction,
                            subject_pattern=args.subject_pattern, overwrite=args.overwrite, **_training_settings(args))
            print(json.dumps({"out_dir": res.out_dir, "best_epoch": res.best_epoch,
                              "best_val_accuracy": res.best_val_accuracy,
                              "final_val_accuracy": res.final.accuracy if res.final else None,
                              "train_img_per_s": round(res.images_per_s, 1)}, indent=2))
        elif args.command == "cv":
            folds = _fold_numbers(args.folds) if args.folds else None
            res = api.cv(args.data, k=args.k, protocol=args.protocol, out=args.out, fold_seed=args.fold_seed,
                         folds=folds, subject_pattern=args.subject_pattern, overwrite=args.overwrite,
                         **_training_settings(args))
            if res is None:
                print(f"folds {args.folds} done in {args.out}; the summary is written when every fold has run")
            else:
                print(res.to_markdown())
                print(f"cv.json, cv.md, confusion.png and one folder per fold in {args.out}", file=sys.stderr)
        elif args.command == "evaluate":
            if args.out:
                from .utils import check_writable_file

                check_writable_file(Path(args.out) / "report.html")
            res = api.evaluate(args.model, args.data, tta_flip=args.tta_flip, subject_pattern=args.subject_pattern,
                               balanced=args.balanced)
            if args.out:
                from .report import write_evaluation

                write_evaluation(res, args.out, command="facsnet " + " ".join(sys.argv[1:] if argv is None else argv))
                print(f"eval.json, confusion.png and report.html in {args.out}", file=sys.stderr)
            if args.json:
                d = res.to_dict()
                print(json.dumps(d, indent=2))
            else:
                print(f"{res.model} on {res.dataset}: accuracy {100 * res.accuracy:.2f}%, balanced recall (UAR) "
                      f"{100 * res.uar:.2f}%, ECE {res.ece:.3f} on {res.n} images"
                      f"{' (mirror-averaged)' if res.tta_flip else ''}")
                for c, r in res.per_class_recall.items():
                    print(f"  {c:9s} recall {100 * r:.1f}%")
                if res.left_out_classes:
                    print(f"  left out (model lacks the class): {res.left_out_classes}")
                if res.skipped_files:
                    print(f"  skipped files: {len(res.skipped_files)}")
        elif args.command == "calibrate":
            res = api.calibrate(args.model, args.data, val=args.val, val_fraction=args.val_fraction,
                                tta_flip=args.tta_flip, out=args.out, subject_pattern=args.subject_pattern)
            print(f"temperature {res.temperature:.3f} fitted on {res.n} faces of {res.fitted_on}: "
                  f"ECE {res.ece_before:.4f} -> {res.ece_after:.4f}, NLL {res.nll_before:.4f} -> {res.nll_after:.4f}; "
                  f"written to {args.out}")
        elif args.command == "ensemble":
            print(f"ensemble of {len(args.models)} models written to {api.ensemble(args.models, args.out)}")
        elif args.command == "au-correlate":
            res = api.au_correlate(args.model, args.data, labels=args.labels, layer=args.layer,
                                   ns=[int(n) for n in args.n.split(",")], permutations=args.permutations,
                                   eps=args.eps, out=args.out)
            print(res.to_markdown())
            print(f"au.json and au.md in {args.out}" if args.out else "not written (give --out DIR to keep it)",
                  file=sys.stderr)
        elif args.command == "visualize":
            filters = [int(f) for f in args.filters.split(",")] if args.filters else None
            index = api.visualize(args.model, args.data, out=args.out, layer=args.layer, filters=filters, n=args.n,
                                  rule=args.rule, eps=args.eps, au_labels=args.au_labels, au_n=args.au_n)
            print(f"{len(index['filters'])} filter figures ({index['live_filters']} live filters in {args.layer}) in {args.out}")
            if index.get("au_figures"):
                print("AU figures: " + ", ".join(f"{k} (filter {v})" for k, v in index["au_figures"].items()))
        elif args.command == "analyze" and (api.is_corpus_out(args.out) or args.shard != "1/1" or args.engine != "local"):
            if not api.is_corpus_out(args.out):
                raise ValueError("--shard and --engine write one result per input: give --out a folder (no suffix)")
            if args.annotate:
                raise ValueError("--annotate is for one table run; a corpus run (--out DIR) writes results only")
            if args.device != "cpu":
                raise ValueError("--device is for one table run; a corpus run uses the CPU (or --engine ray)")
            res = api.analyze_corpus(
                args.inputs, args.out, shard=args.shard, engine=args.engine, workers=args.workers,
                ray_address=args.ray_address, overwrite=args.overwrite, model=args.model, detector=args.detector,
                backend=args.backend, stride=args.stride, max_frames=args.max_frames,
                min_face_score=args.min_face_score, level_eyes=args.level_eyes, photo_tiles=args.photo_tiles,
                aus=None if args.no_aus else args.aus, au_intensity=_au_intensity(args),
                detect_every=args.detect_every, precision=args.precision, balanced=args.balanced,
                num_threads=args.threads, landmarks=args.landmarks, eyes=args.eyes)
            print(res.to_text(), file=sys.stderr)
            if res.inputs and not res.frames and not res.already_done:     # nothing of this shard could be read
                return 1
        elif args.command == "samples":
            from .samples import copy_samples

            copies = copy_samples(args.folder)
            print(f"{len(copies)} files in {args.folder}: {', '.join(p.name for p in copies)}", file=sys.stderr)
        elif args.command == "merge":
            out = args.out or str(Path(args.run_dir) / "merged.csv")
            table = api.merge(args.run_dir, out, allow_missing=args.allow_missing)
            print(f"{len(table)} row(s) from {table['path'].nunique()} input(s) in {out}", file=sys.stderr)
        elif args.command == "analyze":
            t0 = time.perf_counter()
            res = api.analyze(args.inputs, model=args.model, out=args.out, annotate=args.annotate,
                              detector=args.detector, backend=args.backend, stride=args.stride,
                              max_frames=args.max_frames, min_face_score=args.min_face_score,
                              level_eyes=args.level_eyes, photo_tiles=args.photo_tiles,
                              aus=None if args.no_aus else args.aus,
                              au_intensity=_au_intensity(args), device=args.device, landmarks=args.landmarks, eyes=args.eyes,
                              detect_every=args.detect_every, precision=args.precision, balanced=args.balanced,
                              num_threads=args.threads)
            _print_analysis(res, args, time.perf_counter() - t0)
            if res.skipped and not res.frames:
                return 1
        elif args.command == "transfer":
            _run_transfer(api, args)
        elif args.command == "micro":
            _run_micro(api, args)
        elif args.command == "export":
            print(api.export(args.model, args.out))
        elif args.command == "models":
            _print_models()
        elif args.command == "report":
            from .report import build_analysis_report, build_report

            if Path(args.run_dir).is_file():
                print(build_analysis_report(args.run_dir, args.out, video=args.video))
            else:
                print(build_report(args.run_dir, args.out))
    except (DatasetError, CheckpointError, FileNotFoundError, ValueError) as exc:
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
    return 0


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
        return (f"finished epochs and folds are kept in {args.out}; "
                "the same command resumes from the last one")
    if args.command == "analyze":
        kept = getattr(exc, "kept", None)
        return f"the finished rows are in {kept}" if kept else "no table was written"
    return "nothing was written"


def _version() -> str:
    from . import __version__

    return __version__


def _print_models() -> None:
    """One line per bundled model, from the checkpoints themselves."""
    from .models.hub import BUNDLED, resolve_weights
    from .models.checkpoint import read_checkpoint

    for name in BUNDLED:
        ck = read_checkpoint(resolve_weights(name))
        cfg, classes = ck["model_config"], ck["class_names"]
        mark = "*" if name == DEFAULT_MODEL else " "
        metrics, val = ck.get("metrics") or {}, ((ck.get("data") or {}).get("val") or {}).get("name")
        scored = f"  [{100 * metrics['accuracy']:.1f}% on {val} when trained]" if metrics.get("accuracy") and val else ""
        print(f"{mark}{name:15s} {ck.get('task', 'emotion'):7s} {ck['model_name']:14s} "
              f"{cfg.get('in_chans', 1)}x{cfg['img_size']}x{cfg['img_size']}  {len(classes)} classes: {' '.join(classes)}{scored}")
    print("* the default model of analyze and evaluate")


def _run_transfer(api, args) -> None:
    split = lambda text: [x.strip() for x in text.split(",") if x.strip()]  # noqa: E731
    if args.transfer_command == "cross":
        from .transfer import to_markdown

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


def _run_micro(api, args) -> None:
    from .micro.loso import to_markdown

    split = lambda text: [x.strip() for x in text.split(",") if x.strip()]  # noqa: E731
    if args.micro_command == "tables":
        _print_tables(args)
        return
    init = None if str(args.init).lower() == "none" else args.init
    common = dict(init=init, out=args.out, epochs=args.epochs, lstm_epochs=args.lstm_epochs, seed=args.seed,
                  device=args.device, max_minutes=args.max_minutes)
    if args.micro_command == "megc2019":
        i, n = (int(v) for v in args.shard.split("/"))
        res = api.micro_megc2019(args.data, split(args.variants) if args.variants else None, shard=(i, n),
                                 score_only=args.score_only, **common)
    else:
        res = api.micro_loso(args.table, args.frames, database=args.database, classes=args.classes,
                             select=args.select, variants=split(args.variants), **common)
    print(to_markdown(res))


def _print_tables(args) -> None:
    from pathlib import Path

    from .micro import read_coding_table

    paths = [Path(p) for p in args.paths]
    if not paths:
        from .data.registry import data_root
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
          + (f"; annotated in {args.annotate}" if args.annotate else ""), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
