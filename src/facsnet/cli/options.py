"""The command line's shared machinery: an argparse that shows defaults and examples and suggests
the closest option, the help shared by options of several verbs, and defaults read from the API."""
from __future__ import annotations

import argparse
import difflib
import inspect


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option that has a default value shows it; examples (the epilog) keep their line breaks."""

    def _get_help_string(self, action):
        text = (action.help or "").strip()
        on_off = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        if on_off or action.default in (None, False, argparse.SUPPRESS) or "default" in text:
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
             "facsnet train --data path/to/class_folders --epochs 30 --init fer2013   # your faces, from FER weights\n"
             "facsnet train --data fer2013 --val holdout --teacher fer2013_vgg_ens --out runs/kd   # distil the default model",
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
    "data": "dataset: a bundled name[:split] (fer2013, fer2013-votes, ferplus, ferplus-dist, ckplus48) or a folder",
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
    "detector": "face detector: blazeface, or crops (each image is one face crop already: nothing is detected, "
                "the centre square is the face)",
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
    "database": "the coding table's database (casme2, samm, smic, casme3 or dfme; default: guessed from the file name)",
    "classes": "class set: megc3 (negative, positive, surprise), emotion (the table's own) or objective (the "
               "AU-based objective classes I-VII, where the table codes them)",
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


def api_defaults(*functions) -> dict:
    """The keyword defaults of ``functions`` (later ones win), as a command line writes them: a tuple
    of names as ``a,b,c``, a shard ``(i, n)`` as ``i/n``. The API's signatures are the one table of defaults; the CLI reads it."""
    out = {}
    for fn in functions:
        for name, param in inspect.signature(fn).parameters.items():
            if param.default is not inspect.Parameter.empty:
                value = param.default
                if isinstance(value, (tuple, list)):   # names as a,b,c; a shard (i, n) as i/n
                    value = ("/" if all(isinstance(v, int) for v in value) else ",").join(map(str, value))
                out[name] = value
    return out


def share_defaults(parser: argparse.ArgumentParser, *functions) -> None:
    """Give every option of ``parser`` whose destination is a parameter of ``functions`` the API's
    default (an option the API spells differently keeps its own)."""
    defaults = api_defaults(*functions)
    for action in parser._actions:
        if action.option_strings and action.dest in defaults and not isinstance(action, argparse._HelpAction):
            action.default = defaults[action.dest]
