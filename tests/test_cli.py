"""The real console command at toy size."""
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_class_folder
from facsnet.cli import main


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "facsnet", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_train_then_evaluate_end_to_end(tmp_path):
    data = write_class_folder(tmp_path / "d", per_class=10)
    out = tmp_path / "run"
    r = run("-q", "train", "--data", str(data), "--epochs", "1", "--batch-size", "4", "--no-progress",
            "--precision", "fp32", "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["best_epoch"] == 1 and (out / "best.pt").exists()
    other = write_class_folder(tmp_path / "e", classes=("happy", "sad", "surprise"), per_class=3, seed=4)
    r = run("-q", "evaluate", "--model", str(out / "best.pt"), "--data", str(other), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["n"] == 6                                   # surprise is left out: the model lacks it
    assert res["left_out_classes"] == {"surprise": 3}
    assert set(res["per_class_recall"]) == {"happy", "sadness"}
    assert 0.0 <= res["accuracy"] <= 1.0
    r = run("-q", "evaluate", "--model", str(out / "best.pt"), "--data", str(other), "--out", str(tmp_path / "ev"))
    assert r.returncode == 0, r.stderr
    written = json.loads((tmp_path / "ev" / "eval.json").read_text())
    cm = written["confusion"]
    names = written["class_names"]
    assert set(written["per_class"]) == {"happy", "sadness"}   # classes with images only
    for c in written["per_class"]:                         # precision and recall from the confusion matrix by hand
        i = names.index(c)
        predicted = sum(row[i] for row in cm)
        assert written["per_class"][c]["recall"] == pytest.approx(cm[i][i] / sum(cm[i]))
        assert written["per_class"][c]["precision"] == pytest.approx(cm[i][i] / predicted if predicted else 0.0)
        assert written["per_class"][c]["support"] == 3
    f1 = [v["f1"] for v in written["per_class"].values()]
    assert written["macro_f1"] == pytest.approx(sum(f1) / len(f1))
    page = (tmp_path / "ev" / "report.html").read_text()
    assert "balanced recall (UAR)" in page and "data:image/png;base64," in page and "surprise (3)" in page


def test_cv_end_to_end(tmp_path):
    data = write_class_folder(tmp_path / "d", per_class=6, subjects=4)
    r = run("-q", "cv", "--data", str(data), "--subject-pattern", r"^(S\d+)_", "--k", "2", "--epochs", "1",
            "--batch-size", "8", "--precision", "fp32", "--no-progress", "--out", str(tmp_path / "cv"),
            "--optimizer", "sgd", "--lr", "0.01", "--schedule", "cosine", "--erase", "0.25")
    assert r.returncode == 0, r.stderr
    assert "subject" in r.stdout and (tmp_path / "cv" / "cv.json").exists()
    used = json.loads((tmp_path / "cv" / "config.json").read_text())["train_config"]
    assert (used["optimizer"], used["schedule"], used["lr"]) == ("sgd", "cosine", 0.01)
    assert used["augment"]["erase"] == 0.25 and used["augment"]["rotate"] == 10.0  # the paper's warps kept


def test_unknown_option_is_an_error_with_a_suggestion():
    r = run("train", "--epoch", "3")
    assert r.returncode == 2 and "--epochs" in r.stderr


def test_suggestions_come_from_the_verbs_own_options(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["analyze", "--ann", "x.mp4"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "facsnet analyze" in err and "did you mean --annotate?" in err
    with pytest.raises(SystemExit):
        main(["transfer", "au", "--l3", "0.1"])
    err = capsys.readouterr().err
    assert "facsnet transfer au" in err and "unrecognized arguments: --l3" in err
    assert "--batch-size" not in err.split("error:")[1]      # no option of another verb is suggested


def test_train_without_data_is_refused_not_started(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["train", "--epochs", "1"])
    assert stop.value.code == 2 and "--data" in capsys.readouterr().err and not (tmp_path / "runs").exists()


def test_help_shows_defaults_and_examples(capsys):
    for verb in ("train", "analyze", "evaluate"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        out = capsys.readouterr().out
        assert "(default: " in out and f"examples:\n  facsnet {verb}" in out, verb
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert re.search(r"--epochs EPOCHS\s+passes over the training data \(default: 60\)", capsys.readouterr().out)


def test_missing_data_is_a_clear_error(tmp_path):
    r = run("evaluate", "--data", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "nothing" in r.stderr and "Traceback" not in r.stderr


def test_missing_data_root_is_named(tmp_path):
    r = run("train", "--data", "ckplus48", env={"FACSNET_DATA": str(tmp_path / "none")})
    assert r.returncode == 2 and "FACSNET_DATA" in r.stderr and "none" in r.stderr


def test_python_m_and_console_script_agree():
    r = run("--help")
    assert r.returncode == 0 and "train" in r.stdout and "evaluate" in r.stdout


def test_au_correlate_end_to_end(tmp_path):
    data = write_class_folder(tmp_path / "d", per_class=6, subjects=3)   # CK+-style names S00k_00c_...
    run("-q", "train", "--data", str(data), "--val", "none", "--epochs", "1", "--batch-size", "4",
        "--precision", "fp32", "--no-progress", "--out", str(tmp_path / "m"))
    seqs = sorted({p.name[:8] for p in data.rglob("*.png")})
    labels = tmp_path / "aus.csv"
    labels.write_text("subject,sequence,au_combination\n" +
                      "".join(f"{s[:4]},{s},{'12_25' if s.endswith('1') else '4'}\n" for s in seqs))
    r = run("-q", "au-correlate", "--model", str(tmp_path / "m" / "best.pt"), "--data", str(data),
            "--labels", str(labels), "--n", "2,4", "--permutations", "5", "--out", str(tmp_path / "au"))
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "au" / "au.json").read_text())
    assert [c["n"] for c in res["correlations"]] == [2, 4]
    assert res["total_filters"] == {"conv1": 64, "conv2": 128, "conv3": 256}
    assert "Filter-AU correlation" in (tmp_path / "au" / "au.md").read_text()


def test_visualize_end_to_end(tmp_path):
    data = write_class_folder(tmp_path / "d", per_class=4)
    run("-q", "train", "--data", str(data), "--val", "none", "--epochs", "1", "--batch-size", "4",
        "--precision", "fp32", "--no-progress", "--out", str(tmp_path / "m"))
    r = run("-q", "visualize", "--model", str(tmp_path / "m" / "best.pt"), "--data", str(data),
            "--layer", "conv2", "--filters", "0,3", "--n", "3", "--rule", "deconvnet", "--out", str(tmp_path / "v"))
    assert r.returncode == 0, r.stderr
    index = json.loads((tmp_path / "v" / "index.json").read_text())
    assert set(index["filters"]) == {"0", "3"} and index["rule"] == "deconvnet"
    acts = index["filters"]["0"]["top_activations"]
    assert acts == sorted(acts, reverse=True) and len(acts) == 3
    assert (tmp_path / "v" / "conv2_f000.png").stat().st_size > 1000
    r = run("-q", "visualize", "--model", str(tmp_path / "m" / "best.pt"), "--data", str(data),
            "--layer", "fc1", "--out", str(tmp_path / "v2"))
    assert r.returncode == 2 and "conv1, conv2, conv3" in r.stderr


def test_version_and_the_bundled_models(capsys):
    import facsnet
    from facsnet.models.hub import BUNDLED

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"facsnet {facsnet.__version__}"
    assert main(["models"]) == 0
    from facsnet.models.hub import DEFAULT_MODEL

    *lines, legend = capsys.readouterr().out.rstrip().splitlines()
    assert [line[1:].split()[0] for line in lines] == list(BUNDLED)
    assert [line[1:].split()[0] for line in lines if line.startswith("*")] == [DEFAULT_MODEL]
    assert legend.startswith("* the default model")
    assert any(line[1:].startswith("ckplus_au") and " au " in line for line in lines)
    assert any(line[1:].startswith("fer2013 ") and "7 classes" in line for line in lines)
    from facsnet.models.checkpoint import read_checkpoint, served_prior_strength
    from facsnet.models.hub import resolve_weights
    corrected = {line[1:].split()[0] for line in lines if "class prior corrected at strength" in line}
    assert corrected == {n for n in BUNDLED if served_prior_strength(read_checkpoint(resolve_weights(n)))}


def test_every_option_of_every_verb_has_help_text():
    import argparse

    from facsnet.cli import build_parser

    missing = []

    def walk(parser, verb):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{verb} {name}".strip())
            elif action.dest != "help" and not (action.help or "").strip():
                missing.append(f"{verb}: {action.option_strings or action.dest}")

    walk(build_parser(), "")
    assert missing == []


def test_the_command_line_takes_its_defaults_from_the_api():
    """One table of defaults: a verb run with no options calls its API function with the API's own defaults."""
    import inspect

    from facsnet import api
    from facsnet.cli import parse

    args = parse(["analyze"])
    for name, param in inspect.signature(api.analyze).parameters.items():
        if hasattr(args, name) and param.default is not inspect.Parameter.empty and name != "inputs":  # options
            assert getattr(args, name) == param.default, name
    assert parse(["transfer", "cross"]).out == inspect.signature(api.transfer_cross).parameters["out"].default
    assert parse(["transfer", "cross"]).sources == ",".join(api.CROSS_SOURCES)
    assert parse(["micro", "megc2019"]).shard == "1/1"      # the API's (1, 1), as the command line writes it
    assert parse(["analyze"]).shard == "1/1"
    from facsnet.cli.main import _prior_strength
    asked = [_prior_strength(parse(["evaluate", *flags])) for flags in
             ([], ["--balanced"], ["--balanced-strength", "0.5"], ["--balanced", "--balanced-strength", "1"])]
    assert asked == [None, 1, 0.5, 1]          # None: as far as the model asks (the API's own default)
    assert inspect.signature(api.evaluate).parameters["balanced"].default is None
    assert parse(["analyze", "--balanced", "photo.jpg"]).inputs == ["photo.jpg"]     # the flag takes no value
    assert _prior_strength(parse(["analyze", "--balanced-strength", "0.25", "photo.jpg"])) == 0.25
    with pytest.raises(ValueError, match="give one"):
        _prior_strength(parse(["analyze", "--balanced", "--balanced-strength", "0.5"]))
    for bad in ("-1", "1.5", "nan"):
        with pytest.raises(ValueError, match="--balanced-strength .*between 0"):
            _prior_strength(parse(["evaluate", "--balanced-strength", bad]))
    assert parse(["evaluate", "--data-classes-only"]).data_classes_only and not parse(["evaluate"]).data_classes_only
    assert parse(["transfer", "au-model"]).out == inspect.signature(api.train_au_model).parameters["out"].default
    parser_source = (Path(__file__).parents[1] / "src/facsnet/cli/parser.py").read_text()
    assert 'default="ckplus_au"' not in parser_source and "default=10" not in parser_source


def test_result_files_say_how_they_were_made(tmp_path):
    import json

    from conftest import write_class_folder
    from facsnet.hardware import cpu_info

    data = write_class_folder(tmp_path / "d", per_class=8, subjects=4)
    assert main(["-q", "cv", "--data", str(data), "--k", "2", "--epochs", "1", "--batch-size", "4",
                 "--subject-pattern", r"^(S\d+)_", "--no-progress", "--out", str(tmp_path / "cv")]) == 0
    record = json.loads((tmp_path / "cv" / "cv.json").read_text())["provenance"]
    assert record["command"].startswith("facsnet -q cv --data ") and "--k 2" in record["command"]
    assert record["host"] == cpu_info().describe() and len(record["data_fingerprint"]) >= 8
    assert record["date"][:4].isdigit() and record["facsnet"]
