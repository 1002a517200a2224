"""Every verb's options: ``build_parser``. Defaults come from the API (:mod:`facsnet.api`) and the
training settings (:class:`facsnet.training.TrainConfig`), so the two surfaces cannot disagree."""
from __future__ import annotations

import argparse
import dataclasses

from .. import api
from ..data.augment import Augment
from ..models.hub import DEFAULT_MODEL
from ..training import TrainConfig
from .options import Parser, _fill_help, share_defaults

DEFAULTS = TrainConfig()


def _positions(text: str) -> list[int]:
    """'1,4' -> [1, 4]"""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: member positions separated by commas, e.g. 1,4") from None


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
    g.add_argument("--soft-targets", action="store_true", help="train on vote distributions (ferplus-dist, fer2013-votes)")
    g.add_argument("--mixup", type=float, default=DEFAULTS.mixup,
                   help="mixup: train on mixtures of two faces and their targets, weights drawn from Beta(a, a) "
                        "(a typical a: 0.2; 0: off)")
    g.add_argument("--norm", choices=["per_image", "fixed"], default=DEFAULTS.norm)
    g.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=DEFAULTS.precision,
                   help="auto: bf16 where the hardware computes it natively (CUDA, AMX / AVX512_BF16 CPUs), "
                        "else fp32; bf16 on other CPUs is emulated and slow")
    g.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    g.add_argument("--seed", type=int, default=DEFAULTS.seed)
    g.add_argument("--device", default=DEFAULTS.device, help="auto, cpu, cuda, cuda:1 ...")
    g.add_argument("--init", default=None, help="start from a checkpoint or bundled model (transfer)")
    g.add_argument("--teacher", default=None, help="distil from this checkpoint or bundled model (e.g. "
                   "fer2013_vgg_ens): the loss adds the teacher's softened outputs on the same augmented faces")
    g.add_argument("--distill-weight", type=float, default=DEFAULTS.distill_weight,
                   help="share of the teacher's term in the loss (with --teacher)")
    g.add_argument("--distill-temperature", type=float, default=DEFAULTS.distill_temperature,
                   help="softmax temperature of the teacher's term (with --teacher)")
    g.add_argument("--tta-flip", action="store_true", help="score with the mean over the mirror image")
    g.add_argument("--no-progress", dest="progress", action="store_false")
    g.add_argument("--max-minutes", type=float, default=None, help="stop resumably after this wall time")


def _training_settings(args) -> dict:
    """Every TrainConfig field from its option of the same name; ``augment`` from --erase / --degrade."""
    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if f.name != "augment"}
    if args.erase or args.degrade:
        field = {k: args.degrade for k in ("blur", "lowres", "jpeg", "gamma")}
        settings["augment"] = {**Augment().to_dict(), "erase": args.erase, **field}
    return settings


def _add_models_parser(sub) -> None:
    sub.add_parser("models", help="list the bundled models: name, task, classes, input")


def _add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model on a dataset")
    p.add_argument("--data", default=None, help="NAME[:SPLIT] or a path (required: fer2013 alone is hours of "
                   "training on a CPU)")
    p.add_argument("--val", help="validation NAME[:SPLIT], path, 'holdout' (--val-fraction of the training data, the "
                   "same faces for every seed), 'holdout-unseen' / 'holdout-distinct' (those faces less the ones whose "
                   "picture the training part repeats: exactly / also re-cropped or re-toned) or 'none'")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--train-fraction", type=float, help="train on this share of the training part, stratified, "
                   "the same faces for every seed (quick experiments, ablations)")
    p.add_argument("--subject-pattern", help="regex whose group 1 is the subject id in file names")
    p.add_argument("--out")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh when --out holds a run with other settings or data (default: refuse)")
    _add_training_options(p)


def _add_cv_parser(sub) -> None:
    p = sub.add_parser("cv", help="k-fold cross-validation")
    p.add_argument("--data")
    p.add_argument("--k", type=int)
    p.add_argument("--protocol", choices=["subject", "image"],
                   help="default: subject when the data has subject ids")
    p.add_argument("--fold-seed", type=int)
    p.add_argument("--folds", help="comma-separated 1-based folds to run (default all)")
    p.add_argument("--subject-pattern")
    p.add_argument("--out")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh when --out holds a CV run with other settings or data (default: refuse)")
    _add_training_options(p)


def _add_evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score a model on a labelled dataset")
    p.add_argument("--model", help=f"bundled name or checkpoint (default: {DEFAULT_MODEL})")
    p.add_argument("--data")
    p.add_argument("--subject-pattern")
    p.add_argument("--tta-flip", action=argparse.BooleanOptionalAction,
                   help="average with the mirror image (default: as the model's card says)")
    _add_prior_options(p, "classes")
    p.add_argument("--data-classes-only", action="store_true",
                   help="predict only the model's classes that the data has (e.g. never neutral on CK+48, which "
                        "has none): the usual protocol when scoring on another dataset's label set")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", default=None, help="a folder for eval.json, confusion.png and report.html "
                   "(summary, confusion matrix, precision / recall / F1 per class)")


def _add_calibrate_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="fit a model's softmax temperature on held-out faces")
    p.add_argument("--model", required=True, help="checkpoint (or bundled name) to calibrate")
    p.add_argument("--data", help="the data the model was trained on")
    p.add_argument("--val", help="'holdout' (the part train --val holdout kept out), 'holdout-unseen' (those faces "
                   "less the ones whose pixels the training part repeats), 'holdout-distinct' (less the re-cropped "
                   "or re-toned copies too) or a labelled dataset")
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--tta-flip", action=argparse.BooleanOptionalAction,
                   help="the model predicts with mirror averaging (default: as it was trained to be scored)")
    p.add_argument("--subject-pattern", help="regex whose group 1 is the subject id in file names")
    p.add_argument("--prior-strength", type=_auto_or_strength, metavar="auto|S",
                   help="also record the class-prior correction to serve it with: 'auto' chooses it on the same "
                        "faces (the best balanced recall that keeps the uncorrected accuracy), or a strength S "
                        "in 0-1 (default: none)")
    p.add_argument("--out", required=True, help="the calibrated checkpoint (.pt) to write")


def _add_ensemble_parser(sub) -> None:
    p = sub.add_parser("ensemble", help="one model that averages the probabilities of several")
    p.add_argument("models", nargs="+", help="checkpoints (or bundled names) with the same classes and data")
    p.add_argument("--out", required=True, help="the ensemble checkpoint (.pt) to write")
    p.add_argument("--keep", type=_positions,
                   help="only these members, counted from 1 over the members of the models given, e.g. 1,4")


def _add_au_correlate_parser(sub) -> None:
    p = sub.add_parser("au-correlate", help="live filters and the filter-to-Action-Unit correlation on CK+")
    p.add_argument("--model", help="bundled name or checkpoint")
    p.add_argument("--data", help="CK+ data with sequence ids")
    p.add_argument("--labels", help="CK+ AU label csv (default: CK+_AU_labels in the data root)")
    p.add_argument("--layer")
    p.add_argument("--n", default="5,10,20", help="comma-separated top-N sizes")
    p.add_argument("--permutations", type=int)
    p.add_argument("--eps", type=float, help="a filter is dead if it never exceeds this")
    p.add_argument("--out")


def _add_visualize_parser(sub) -> None:
    p = sub.add_parser("visualize", help="top-N images per filter with deconvnet / guided-backprop overlays")
    p.add_argument("--model")
    p.add_argument("--data")
    p.add_argument("--layer")
    p.add_argument("--filters", help="comma-separated filter indices (default: every live filter)")
    p.add_argument("--n", type=int, help="images per filter")
    p.add_argument("--rule", choices=["guided", "deconvnet"])
    p.add_argument("--eps", type=float)
    p.add_argument("--au-labels", help="CK+ AU label csv: also draw one figure per matched AU")
    p.add_argument("--au-n", type=int, help="top-N for the AU match (P(j,u) = 1)")
    p.add_argument("--out")


def _add_analyze_parser(sub) -> None:
    p = sub.add_parser("analyze", help="faces and emotions in photos, folders, videos or a camera")
    p.add_argument("inputs", nargs="*", help="photos, folders, videos, camera:N (default: the bundled sample photos)")
    p.add_argument("--out", help="table: .csv, .parquet, .jsonl or .json; or a folder (no suffix): "
                   "one result file per input, written as each finishes, and a rerun does only what is missing")
    p.add_argument("--annotate", help="folder for annotated photos/videos, or OUT.mp4 for one video")
    p.add_argument("--save-crops", metavar="DIR", help="folder for the crop the emotion model saw of each face "
                   "(NAME[.frameK].faceI.png, I as in the table's face column; NAME-N, N the input's place, where names "
                   "repeat)")
    p.add_argument("--model", help=f"bundled name, checkpoint or .onnx (default: {DEFAULT_MODEL})")
    _add_prior_options(p, "emotions")
    p.add_argument("--detector")
    p.add_argument("--backend", choices=["auto", "openvino", "onnx", "torch"],
                   help="classifier runtime (auto: the fastest installed: openvino, onnx, torch)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"],
                   help="classifier precision (auto: bf16 where the CPU has native bf16, else fp32)")
    p.add_argument("--stride", type=int, help="analyse every k-th video frame")
    p.add_argument("--max-frames", type=int, help="stop each video after this many analysed frames")
    p.add_argument("--min-face-score", type=float)
    p.add_argument("--no-level", dest="level_eyes", action="store_false", help="keep the head's tilt in the crop")
    p.add_argument("--photo-tiles", type=int, help="NxN tiles for small faces in photos (0: off)")
    p.add_argument("--aus", help="Action Unit presence model (bundled or a checkpoint): AU columns")
    p.add_argument("--au-intensity",
                   help="AU intensity model (0-5): AU*_intensity columns")
    p.add_argument("--no-aus", action="store_true", help="emotions only: no AU columns (faster)")
    p.add_argument("--no-au-intensity", action="store_true", help="AU presence columns without intensities")
    p.add_argument("--no-landmarks", dest="landmarks", action="store_false",
                   help="no head pose and landmark columns (a little faster)")
    p.add_argument("--eyes", choices=["detector", "mesh"],
                   help="the eye points that level and frame each crop: the detector's keypoints or the face mesh's")
    p.add_argument("--detect-every", type=int,
                   help="video: detect faces on every k-th analysed frame and keep them in between (faster)")
    p.add_argument("--shard", help="with --out DIR: do the I-th of N deterministic parts (I/N, 1-based)")
    p.add_argument("--engine", choices=["local", "ray"],
                   help="with --out DIR: run the inputs in this process or as Ray tasks (pip install 'facsnet[ray]')")
    p.add_argument("--workers", type=int, help="Ray workers (default: the CPU count)")
    p.add_argument("--ray-address", help="an existing Ray cluster (auto, ray://host:10001); default: a local one")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the models (default: the runtime's)")
    p.add_argument("--device", help="where the models run: cpu (OpenVINO / ONNX Runtime), cuda, "
                   "cuda:N, or auto (a GPU when there is one; PyTorch runs there)")
    p.add_argument("--overwrite", action="store_true", help="with --out DIR: start afresh when DIR holds other settings")


def _add_samples_parser(sub) -> None:
    p = sub.add_parser("samples", help="copy the bundled public-domain photos and a short clip into a folder")
    p.add_argument("folder", nargs="?", default="facsnet-samples")


def _add_merge_parser(sub) -> None:
    p = sub.add_parser("merge", help="join the per-input results of a corpus run (analyze --out DIR) into one table")
    p.add_argument("run_dir")
    p.add_argument("--out", help="the table: .csv, .parquet or .jsonl (default: RUN_DIR/merged.csv)")
    p.add_argument("--allow-missing", action="store_true", help="merge what is done even if some inputs are not")


def _add_transfer_parser(sub) -> None:
    p = sub.add_parser("transfer", help="cross-dataset table, AU detection and AU intensity from an emotion CNN")
    tsub = p.add_subparsers(dest="transfer_command", required=True, parser_class=Parser)
    t = tsub.add_parser("cross", help="every model on every dataset, as-is and with a re-fitted output layer")
    t.add_argument("--sources", help="models (bundled or checkpoints)")
    t.add_argument("--targets", help="datasets (NAME or a class-folder path)")
    t.add_argument("--k", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--out")
    t.add_argument("--update", action="store_true",
                   help="re-run only these sources' rows of the table already in --out, keeping the others")
    t = tsub.add_parser("au-model", help="fit the multi-label AU head on all of CK+ and save it (for analyze --aus)")
    t.add_argument("--backbone")
    t.add_argument("--data")
    t.add_argument("--labels")
    t.add_argument("--epochs", type=int)
    t.add_argument("--l1", type=float)
    t.add_argument("--l2", type=float)
    t.add_argument("--out")
    t = tsub.add_parser("au-intensity-model", help="fit the AU intensity head (0-5) on all of CK+ and save it")
    t.add_argument("--backbone")
    t.add_argument("--data")
    t.add_argument("--intensities")
    t.add_argument("--epochs", type=int)
    t.add_argument("--out")
    for name, text in (("au", "AU detection on CK+, subject folds"), ("intensity", "AU intensity 0-5 on CK+")):
        t = tsub.add_parser(name, help=text)
        t.add_argument("--backbone", help="emotion model whose conv layers are frozen features")
        t.add_argument("--data")
        t.add_argument("--labels", help="CK+ AU csv" if name == "au" else "ck_facs_intensity.csv")
        t.add_argument("--aus", help="comma-separated AU numbers (default: all coded often enough)")
        t.add_argument("--k", type=int)
        t.add_argument("--epochs", type=int)
        t.add_argument("--seed", type=int)
        t.add_argument("--out", help="JSON result file")
        t.add_argument("--fine-tune", action="store_true", help="train the conv layers too (default: frozen)")
        t.add_argument("--lr", type=float, help="Adam learning rate when fine-tuning")
        if name == "au":
            t.add_argument("--task", choices=["single", "multilabel"])
            t.add_argument("--l1", type=float, help="L1 penalty on the sigmoid outputs")
            t.add_argument("--l2", type=float, help="L2 penalty on the sigmoid outputs")
            t.add_argument("--min-sequences", type=int)
            t.add_argument("--balanced", action="store_true",
                           help="weight each AU's positives by its negative/positive ratio in the training folds")
        else:
            t.add_argument("--min-coded", type=int)
            t.add_argument("--hurdle", action="store_true",
                           help="presence head + intensity head fitted on present cells (for mostly-0 targets)")


def _add_micro_parser(sub) -> None:
    p = sub.add_parser("micro", help="micro-expressions: coding tables, LOSO on the MEGC 2019 composite or on frames")
    msub = p.add_subparsers(dest="micro_command", required=True, parser_class=Parser)
    t = msub.add_parser("tables", help="parse coding tables (.xlsx) and list their clips and reported rows")
    t.add_argument("paths", nargs="*", help="tables or folders (default: the shared micro-expression-labels)")
    t.add_argument("--database", default=None, help="casme2, samm, smic, casme3 or dfme (default: from the name)")
    for name, text in (("megc2019", "LOSO on the MEGC 2019 composite (apex crop + flow image per clip)"),
                       ("loso", "LOSO on a database's frames: five frames (or every K-th) -> CNN -> LSTM")):
        t = msub.add_parser(name, help=text)
        if name == "megc2019":
            t.add_argument("--data", help="composite folder (default: shared MEGC2019_composite_HTNet)")
            t.add_argument("--variants", help="comma-separated: apex,flow,lstm and their _scratch / _frozen twins")
            t.add_argument("--shard", help="I/N, 1-based: run folds I, I+N, ... (N processes share --out)")
            t.add_argument("--score-only", action="store_true", help="score the finished folds in --out, train nothing")
        else:
            t.add_argument("--table", required=True, help="the database's coding table (.xlsx)")
            t.add_argument("--frames", required=True, help="frame folder in the database's own layout")
            t.add_argument("--database")
            t.add_argument("--classes", choices=["megc3", "emotion", "objective"])
            t.add_argument("--select", help="five (first, onset, apex, offset, last) or every:K")
            t.add_argument("--variants", help="lstm, apex and their _scratch / _frozen twins")
        t.add_argument("--init", help="pretrained emotion model, or 'none' to train from scratch")
        t.add_argument("--epochs", type=int, help="CNN epochs per fold")
        t.add_argument("--lstm-epochs", type=int)
        t.add_argument("--seed", type=int)
        t.add_argument("--device")
        t.add_argument("--max-minutes", type=float, help="stop resumably after this wall time")
        t.add_argument("--out")
        t.add_argument("--overwrite", action="store_true", help="start afresh when --out holds a run with other settings")


def _add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="export a model to ONNX")
    p.add_argument("model", help="bundled name or checkpoint")
    p.add_argument("out", help="OUT.onnx")


def _add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page of a run folder or an analyze table")
    p.add_argument("run_dir", help="a run folder (training, cv, evaluation, au-correlate) or an analyze table")
    p.add_argument("--out", default=None, help="default: RUN_DIR/report.html, or TABLE.html for a table")
    p.add_argument("--video", default=None, help="an annotated video to embed in the report of an analyze table")


VERB_PARSERS = (
    _add_models_parser, _add_train_parser, _add_cv_parser, _add_evaluate_parser, _add_calibrate_parser,
    _add_ensemble_parser, _add_au_correlate_parser, _add_visualize_parser, _add_analyze_parser, _add_samples_parser,
    _add_merge_parser, _add_transfer_parser, _add_micro_parser, _add_export_parser, _add_report_parser,
)


def build_parser() -> Parser:
    parser = Parser(prog="facsnet", description="Facial expression analysis after Breuer & Kimmel (2017).")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    parser.add_argument("--version", action="version", version=f"facsnet {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected failure")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add_verb in VERB_PARSERS:   # the order of `facsnet --help`
        add_verb(sub)
    _fill_help(parser)
    for path, functions in API_OF_VERB.items():
        share_defaults(_sub_parser(parser, path), *functions)
    return parser


# The API function(s) behind each verb: their keyword defaults are the verb's option defaults.
API_OF_VERB = {
    ("train",): (api.train,), ("cv",): (api.cv,), ("evaluate",): (api.evaluate,), ("calibrate",): (api.calibrate,),
    ("au-correlate",): (api.au_correlate,), ("visualize",): (api.visualize,),
    ("analyze",): (api.analyze, api.analyze_corpus), ("merge",): (api.merge,),
    ("transfer", "cross"): (api.transfer_cross,), ("transfer", "au"): (api.transfer_au,),
    ("transfer", "intensity"): (api.transfer_intensity,), ("transfer", "au-model"): (api.train_au_model,),
    ("transfer", "au-intensity-model"): (api.train_au_intensity_model,),
    ("micro", "megc2019"): (api.micro_megc2019,), ("micro", "loso"): (api.micro_loso,),
}


def _add_prior_options(p: argparse.ArgumentParser, what: str) -> None:
    """--balanced and --balanced-strength (evaluate, analyze): the class-prior correction; neither: as the model asks."""
    p.add_argument("--balanced", action="store_const", const=True,
                   help=f"treat the {what} as equally likely (correct for their shares in the training faces)")
    p.add_argument("--balanced-strength", type=float, metavar="S",
                   help="--balanced part of the way: each probability divided by its class's training share to "
                        "the power S, between 0 (as trained) and 1 (the same as --balanced); default: as far as "
                        "the model asks (the default model: the strength chosen on its hold-out)")


def _auto_or_strength(text: str) -> str | float:
    """--prior-strength: 'auto', or a number (its range is checked where it is used, naming the option)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give 'auto' or a number between 0 and 1") from None


def _sub_parser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    """The parser of a verb path such as ("transfer", "au")."""
    for name in path:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
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
    verb = _verb_parser(parser, args)
    if args.command == "analyze" and args.no_aus and (args.aus, args.au_intensity) != (
            verb.get_default("aus"), verb.get_default("au_intensity")):
        verb.error("--no-aus leaves the AU models out: drop it, or drop --aus / --au-intensity")
    if args.command == "train" and args.data is None:
        _verb_parser(parser, args).error(
            "name the data to train on with --data: a bundled set (fer2013, fer2013-votes, ferplus, ckplus48) or a folder of "
            "class folders; training on all of FER2013 takes hours on a CPU, so it is never started by default")
    return args


def _version() -> str:
    from .. import __version__

    return __version__
