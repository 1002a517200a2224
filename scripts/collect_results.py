"""Build results/summary.json from the run folders and evaluation files under results/, then
render the README's results table from it. Every figure is read from a file a command wrote;
nothing here is typed in by hand. Run folders that predate ``provenance`` records describe
themselves in a ``source.json`` (found by walking results/); what the figures mean and which
weights made them is told in results/NOTES.md, not here.

    python scripts/collect_results.py          # writes results/summary.json and updates README.md
"""
from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "results"
GPU = RES / "runs" / "gpu-2026-11-25"
GPU2 = RES / "runs" / "gpu-2026-11-26"  # 2026-11-26: FER2013 continued, CK+ 120-epoch CV
CONT = "bash scripts/gpu_continue.sh"
sys.path.insert(0, str(ROOT / "src"))
from facsnet.models.hub import weights_digest as _weights_digest  # noqa: E402
from facsnet.utils import atomic_write_json, atomic_write_text  # noqa: E402

DEVICE = "one NVIDIA H200 GPU, torch 2.11 bf16 autocast"
FULL = "FACSNET_DATA=../shared/data bash scripts/full_run.sh"


@lru_cache(maxsize=None)
def weights_digest(name: str) -> str:
    """The bundled weights' SHA-256 prefix, hashed once per model (many results name the same one)."""
    return _weights_digest(name)


def load(p: Path):
    return json.loads(p.read_text()) if p.exists() else None


def cv_entry(folder: Path, source: dict) -> dict | None:
    """Mean +- std over folds of the cv run in ``folder``, described by its ``source.json`` (command,
    device, data, note); a run whose folds did not all finish is marked as partial."""
    cfg = load(folder / "config.json")
    if cfg is None:
        return None
    accs = [load(p)["accuracy"] for p in sorted(folder.glob("fold*/metrics.json"))]
    import numpy as np

    entry = {
        "accuracy_mean": round(float(np.mean(accs)), 4), "accuracy_std": round(float(np.std(accs)), 4),
        "fold_accuracies": [round(a, 4) for a in accs], "folds_done": len(accs), "k": cfg["k"],
        "protocol": cfg["protocol"], "epochs": cfg["train_config"]["epochs"], "lr": cfg["train_config"]["lr"],
        "init": cfg["train_config"]["init"], "fold_seed": cfg["fold_seed"], "seed": cfg["train_config"]["seed"],
        "data": source["data"], "device": source["device"], "command": source["command"],
        "run": str(folder.relative_to(ROOT)),
    }
    if len(accs) < cfg["k"]:
        entry["partial"] = f"only {len(accs)} of {cfg['k']} folds finished before the GPU time ran out"
    if source.get("note"):
        entry["note"] = source["note"]
    return entry


def described_runs() -> dict[str, dict]:
    """Every cv run folder under results/ that describes itself with a ``source.json`` (the summary
    key it feeds, its command, device and data), as summary entries by key, in the files' ``order``."""
    out = {}
    sources = sorted(((load(p), p) for p in RES.rglob("source.json")), key=lambda s: (s[0].get("order", 0), str(s[1])))
    for source, path in sources:
        entry = cv_entry(path.parent, source)
        if entry:
            out[source["summary_key"]] = entry
    return out


def under(entries: dict[str, dict], prefix: str) -> dict[str, dict]:
    """The entries whose dotted key starts with ``prefix.``, keyed by the rest."""
    return {k[len(prefix) + 1:]: v for k, v in entries.items() if k.startswith(prefix + ".")}


def fer_history(name: str) -> list[dict]:
    """Epoch records of a FER run, continued runs appended (results/NOTES.md: which weights)."""
    hist = load(GPU / name / "history.json") or []
    more = load(GPU2 / f"{name}_cont" / "history.json") or []
    return hist + [dict(r, epoch=r["epoch"] + len(hist)) for r in more]


def fer_entry(name: str, eval_name: str, command: str, data: str) -> dict | None:
    plain, tta = load(RES / "eval" / f"{eval_name}_publictest.json"), load(RES / "eval" / f"{eval_name}_publictest_tta.json")
    hist = fer_history(name)
    if plain is None:
        return None
    return {
        "accuracy": round(plain["accuracy"], 4), "accuracy_tta_flip": round(tta["accuracy"], 4) if tta else None,
        "n": plain["n"], "mean_recall": round(sum(plain["per_class_recall"].values()) / len(plain["per_class_recall"]), 4),
        "epochs_trained": len(hist) if hist else None,
        "best_epoch": max(hist, key=lambda r: r.get("val_accuracy", 0))["epoch"] if hist else None,
        "last_epoch_val_accuracy": hist[-1].get("val_accuracy") if hist else None,
        "selection": "the epoch kept is the one with the best PublicTest accuracy, so the figure is optimistic by "
                     "the selection; last_epoch_val_accuracy is the unselected figure (GPU, bf16)",
        "data": data, "device": DEVICE + " (training); scored on the CPU from the bundled fp16 weights",
        "command": command, "score_command": f"facsnet evaluate --model {eval_name} --data "
                                              f"{'ferplus' if 'ferplus' in name else 'fer2013'}:validation --json [--tta-flip]",
    }


def bench_entries() -> dict:
    b = load(RES / "bench_train.json")
    if b is None:
        return {}
    rows = {(r["config"], r["batch"]): r["img_per_s"] for r in b["rows"]}
    fastest = max(b["rows"], key=lambda r: r["img_per_s"])
    roof = b.get("roofline") or {}
    roofline = {} if not roof else {
        "train_gflop_per_image": roof["train_gflop_per_image"],
        "train_gflop_per_image_real": roof.get("train_gflop_per_image_real"),
        "gemm_peak_gflops_fp32": roof["gemm_peak_gflops"]["float32"],
        "gemm_peak_gflops_bf16": roof["gemm_peak_gflops"].get("bfloat16"),
        "conv_peak_gflops_fp32": (roof.get("conv_peak_gflops") or {}).get("float32"),
        "conv_peak_gflops_bf16": (roof.get("conv_peak_gflops") or {}).get("bfloat16"),
        "train_ceiling_img_per_s": roof["machine_ceiling_img_per_s"],
        "train_utilisation": round(fastest["img_per_s"] / roof["machine_ceiling_img_per_s"], 3),
    }
    return {
        "train_img_per_s": fastest["img_per_s"], "train_img_per_s_config": f"{fastest['config']}, batch {fastest['batch']}",
        "train_img_per_s_fp32_eager": rows.get(("fp32_eager", 64)),
        "train_img_per_s_bf16_channels_last": rows.get(("bf16_channels_last", 64)),
        "fer2013_epoch_s": fastest["fer2013_epoch_s"],
        **roofline,
        "device": f"{b.get('cpu') or 'a 2-core CPU'}, torch {b['torch']}, {b['threads']} threads",
        "command": " && ".join(b.get("command", [])) or "python benchmarks/train_throughput.py",
        **gpu_throughput(),
        **analyze_bench(),
        **vs_keras_bench(),
    }


def vs_keras_bench() -> dict:
    """facsnet against Keras 3 / TensorFlow on the same host (benchmarks/vs_keras.py), and the default
    analyze against the previous version (benchmarks/analyze_speed.py --against)."""
    out = {}
    b = load(RES / "bench_vs_keras.json")
    if b is not None:
        f = b["facsnet"]
        out.update({
            "precision_auto": {**b["precision_auto"], "host": b["cpu"]},
            "classifier_default": {**b["classifier"], "model": b["classifier_model"]},
            "facsnet_train_img_per_s": f["train_img_per_s"],
            "facsnet_classify_img_per_s_b1": f["classify_b1_img_per_s"],
            "facsnet_classify_img_per_s_b256": f["classify_b256_img_per_s"],
        })
        if "ratio" in b:
            out.update({
                "keras_train_img_per_s": {p: b["keras"][p]["train_img_per_s"] for p in ("bf16", "fp32")},
                "keras_classify_img_per_s_b1": {p: b["keras"][p]["classify_b1_img_per_s"] for p in ("bf16", "fp32")},
                "keras_classify_img_per_s_b256": {p: b["keras"][p]["classify_b256_img_per_s"] for p in ("bf16", "fp32")},
                "keras_classify_img_per_s_b256_bare": {p: b["keras"][p]["classify_b256_bare_img_per_s"] for p in ("bf16", "fp32")},
                "train_vs_keras": b["ratio"]["train"],
                "classify_b1_vs_keras": b["ratio"]["classify_b1"],
                "classify_b256_vs_keras": b["ratio"]["classify_b256"],
                "classify_b256_vs_keras_bare": b["ratio"]["classify_b256_vs_bare"],
                "keras_version": f"Keras {b.get('keras_version')} / TensorFlow {b.get('tensorflow_version')}",
            })
        out["vs_keras_host"] = b["cpu"]
        out["vs_keras_command"] = b["command"]
    a = load(RES / "bench_analyze_vs_previous.json")
    if a is not None:
        out.update({"video_fps_vs_previous": a["ratio"], "video_fps_previous": a["then_fps"],
                    "video_fps_now": a["now_fps"], "video_fps_previous_commit": a["against"],
                    "video_fps_vs_previous_host": a["cpu"], "video_fps_vs_previous_command": a["command"]})
    return out


def analyze_bench() -> dict:
    """Photo/video pipeline speed on the CPU the benchmark ran on (benchmarks/analyze_speed.py)."""
    b = load(RES / "bench_analyze.json")
    if b is None:
        return {}
    keys = ["video_fps", "video_fps_openvino", "video_fps_onnx", "video_fps_torch", "video_fps_detect_every_3",
            "detect_ms_per_frame", "classify_img_per_s_b1", "classify_img_per_s_b256",
            *(f"classify_img_per_s_b{n}_{k}" for k in ("openvino", "onnx", "torch") for n in (1, 256))]
    return {**{k: b[k] for k in keys if k in b},
            "analyze_device": f"{b['cpu']}, torch {b['torch']}",
            "analyze_setup": f"640x480 video, one face, {b['detector']}; model {b['model']}; "
                             "video_fps and classify_* without suffix use the default backend (OpenVINO where installed)",
            "analyze_command": b["command"]}


def transfer_entries() -> dict:
    """The cross-dataset table (scripts/transfer_run.sh -> results/transfer/cross.json)."""
    r = load(RES / "transfer" / "cross.json")
    if r is None:
        return {}
    cross: dict = {}
    for c in r["cells"]:
        target = c["target"].split("-")[0]  # ckplus48, fer2013, ferplus (the dataset's name)
        cell = cross.setdefault(c["source"], {}).setdefault(target, {"dataset": c["target"]})
        if c["mode"] == "as_is":
            cell.update(accuracy=round(c["accuracy"], 4), n=c["n"], classes=c["classes"], protocol=c["protocol"])
        else:
            cell["fine_tuned"] = {"accuracy": round(c["accuracy"], 4), "n": c["n"], "protocol": c["protocol"]}
        if c["source"] == "ckplus48" and c["target"].startswith("ckplus48"):
            cell["note"] = "in-sample: the bundled ckplus48 model was trained on all CK+48 images"
        if c["source"] in ("fer2013", "fer2013_bn", "ferplus") and "validation" in c["target"]:
            cell["note"] = ("PublicTest images: unseen in training, but each FER model's epoch was chosen on "
                            "PublicTest (FER2013 or FER+ labels)")
    out = {"cross": cross, "cross_head": r["head"],
           "command": "facsnet transfer cross --out results/transfer  # in scripts/transfer_run.sh; the fer2013 row "
                      "re-run on 2026-11-26 with its 337-epoch weights: facsnet transfer cross --sources fer2013 "
                      "--update --out results/transfer",
           "device": "a 2-core CPU"}
    if "weights_sha256" in r:  # the file says which weights each row came from
        out["weights_sha256"] = r["weights_sha256"]
        stale = [src for src, digest in r["weights_sha256"].items() if digest != weights_digest(src)]
    else:  # written before digests were recorded: compare fer2013's own score with its evaluation file
        bundled = load(RES / "eval" / "fer2013_publictest.json")
        own = cross.get("fer2013", {}).get("fer2013", {}).get("accuracy")
        stale = ["fer2013"] if bundled and own is not None and abs(bundled["accuracy"] - own) > 1e-3 else []
    if stale:
        out["stale_rows"] = stale
        out["weights"] = (f"row(s) {', '.join(stale)} computed with earlier weights than the bundled ones"
                          + "; results/NOTES.md says which")
    return out


def backbone_note(config: dict) -> str:
    """'' when a result's backbone is the bundled model of that name, else which weights it used."""
    name, digest = config["backbone"], config.get("backbone_sha256")
    if digest is None:  # results written before digests were recorded (fer2013 of epoch 163)
        return " (weights written before digests were recorded: results/NOTES.md)" if name == "fer2013" else ""
    return "" if digest == weights_digest(name) else f" (earlier weights, sha256 {digest}, not the bundled ones)"


def au_entries() -> dict:
    """AU detection and intensity on CK+ (scripts/transfer_run.sh -> results/au/*.json)."""
    files = {"single": "ckplus_single", "multilabel": "ckplus_multilabel_sparse",
             "multilabel_no_sparsity": "ckplus_multilabel_plain", "intensity": "ckplus_intensity",
             "single_balanced": "ckplus_single_balanced", "multilabel_balanced": "ckplus_multilabel_sparse_balanced",
             "intensity_hurdle": "ckplus_intensity_hurdle", "multilabel_finetuned": "ckplus_multilabel_finetuned"}
    commands = {"single": "facsnet transfer au --task single",
                "single_balanced": "facsnet transfer au --task single --balanced",
                "multilabel_balanced": "facsnet transfer au --task multilabel --l1 0.01 --l2 0.01 --balanced",
                "multilabel": "facsnet transfer au --task multilabel --l1 0.01 --l2 0.01",
                "multilabel_no_sparsity": "facsnet transfer au --task multilabel",
                "intensity": "facsnet transfer intensity",
                "intensity_hurdle": "facsnet transfer intensity --hurdle",
                "multilabel_finetuned": "facsnet transfer au --task multilabel --fine-tune --epochs 10 --l1 0.01 --l2 0.01"}
    out = {}
    for key, stem in files.items():
        r = load(RES / "au" / f"{stem}.json")
        if r is None:
            continue
        entry = {k: round(v, 4) for k, v in r["summary"].items()}
        if key.startswith("intensity"):  # the headline names of the issue
            entry["mse"], entry["accuracy"], entry["icc"] = entry["mse_mean"], entry["accuracy_mean"], entry["icc_mean"]
        entry.update(per_au={au: {m: round(v["mean"], 4) for m, v in row.items() if isinstance(v, dict)}
                             for au, row in r["per_au"].items()},
                     aus=r["aus"], k=r["k"], protocol=f"{r['k']}-fold subject-independent CV on CK+48",
                     backbone=r["config"]["backbone"] + backbone_note(r["config"]),
                     features=r["config"]["features"], head=r["config"]["head"],
                     n_images=r["config"]["n_images"], data="CK+48 with CK+_AU_labels" + (
                         " (FACS intensity files of 208 sequences)" if key.startswith("intensity") else " (327 sequences)"),
                     command=f"{commands[key]} --out results/au/{stem}.json", device="a 2-core CPU")
        out[key] = entry
    return {"ckplus": out} if out else {}


def analyze_entries() -> dict:
    """The pipeline on real faces it never trained on (scripts/pipeline_check.py) and the framing."""
    out = {}
    pc = load(RES / "pipeline_check.json")
    if pc:
        for model, row in pc["models"].items():
            out[f"fer2013_publictest_rephotographed_{model}"] = {
                "accuracy": round(row["upright"]["accuracy"], 4),
                "face_found": round(row["upright"]["face_found"], 4),
                "accuracy_where_found": round(row["upright"]["accuracy_where_found"], 4),
                "native_crops_accuracy": round(row["native_crops_accuracy"], 4),
                "rotated_20": {k: round(v, 4) for k, v in row["rotated_20"].items() if k != "n"},
                "ablations": {k: {kk: round(vv, 4) for kk, vv in row[k].items() if kk != "n"}
                              for k in row if k.endswith("_levelled") or k.endswith("_framing")},
                "n": row["upright"]["n"], "data": pc["data"], "command": pc["command"],
            }
            bundled = load(RES / "eval" / f"{model}_publictest.json")
            if bundled and abs(bundled["accuracy"] - row["native_crops_accuracy"]) > 1e-3:
                out[f"fer2013_publictest_rephotographed_{model}"]["weights"] = (
                    f"earlier weights of {model} (native-crop accuracy {row['native_crops_accuracy']:.4f}; the bundled "
                    f"model now scores {bundled['accuracy']:.4f}): rerun the command to update")
    eyes = load(RES / "pipeline_check_eyes.json")
    if eyes:
        for model, row in eyes["models"].items():
            out[f"eyes_{model}"] = {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in row.items()
                                    if isinstance(v, dict)}
            out[f"eyes_{model}"].update(data=eyes["data"], command=eyes["command"],
                                        rule="the eye points that level and frame each crop: the detector's "
                                             "keypoints or the face mesh's eyes in the detector's terms")
    fr = load(RES / "framing.json")
    if fr:
        out["framing"] = {name.split(":")[0]: {k: (round(v, 3) if isinstance(v, float) else v)
                                               for k, v in d.items() if k in ("n", "found", "eye_distance", "eye_height")}
                          for name, d in fr["sets"].items()}
        out["framing"]["command"] = fr["command"]
    crops = load(RES / "crops_detector.json")
    if crops:   # folders of face crops: the detector against --detector crops (scripts/crops_detector.py)
        out["face_crops"] = {**crops["rows"], "data": crops["data"], "command": crops["provenance"]["command"],
                             "device": crops["provenance"].get("host")}
    return out


def gpu_throughput() -> dict:
    """Training images/s of the FER2013 run on the H200, read from its history (shared GPU)."""
    hist = load(GPU / "fer2013" / "history.json")
    if not hist:
        return {}
    import statistics

    return {"train_img_per_s_gpu_h200": round(statistics.median(r["img_per_s"] for r in hist)),
            "train_img_per_s_gpu_h200_note": "median epoch of the FER2013 run, batch 64, bf16 + channels-last, "
                                             "while 4 other training jobs shared the GPU"}


def build() -> dict:
    runs = described_runs()
    ck = under(runs, "ckplus")
    fer_cmd = "facsnet train --data fer2013 --epochs 200 --max-minutes 5, then the same command with --max-minutes 2.7 (resumed)"
    summary = {
        "ckplus": {k: v for k, v in ck.items() if v},
        "fer2013": {"publictest": fer_entry("fer2013", "fer2013", fer_cmd + "; on 2026-11-26 it went on for 174 epochs on the same "
                                             "Keras time-decay schedule (Adam moments restarted): facsnet train --data fer2013 --init fer2013 "
                                             f"--lr 5.77e-4 --decay 5.77e-6 --max-minutes 7  # in {CONT}", "FER2013 train/ (28,709) -> validation/ = PublicTest (3,589), 7 classes")},
        "fer2013_bn": {"publictest": fer_entry("fer2013_bn", "fer2013_bn", fer_cmd.replace("fer2013 ", "fer2013 --model breuer2017_bn "),
                                               "as fer2013; model breuer2017_bn = the paper's CNN + BatchNorm (not the paper's)")},
        "ferplus": {"publictest": fer_entry("ferplus", "ferplus", fer_cmd.replace("--data fer2013", "--data ferplus"),
                                            "FER2013 images with FER+ majority labels (8 classes): train 25,059 -> PublicTest 3,199")},
        "default_model": default_model_entry(),
        "serving": {"classifier_img_per_s": {**(load(RES / "bench_classifier.json") or {}),   # with its command
                    "models_from": "runs/*.pt: earlier forms of fer2013_vgg_ens (results/NOTES.md, 'Which weights')",
                    "data": "random 48x48 crops (speed only)"}} if (RES / "bench_classifier.json").exists() else None,
        "reliability": reliability_entry(),
        "au_columns_speed": load(RES / "bench_au_columns.json"),
        "pose": pose_entry(),
        "corpus": corpus_entry(),
        "bench": bench_entries(),
        "analyze": analyze_entries(),
        "precision": precision_entries(under(runs, "precision.ckplus_cv10_subject_30ep")),
        "transfer": transfer_entries(),
        "au": au_entries(),
        "micro": micro_entries(),
        "interpret": {k: v for k, v in (("ckplus", interpret_entry("ckplus48")),
                                         ("fer2013", interpret_entry("fer2013")),
                                         ("publictest_alive_filters", publictest_alive_filters()),
                                         ("early_alive_filters", early_alive_filters())) if v},
    }
    ablation = ablation_entries()
    if ablation:
        summary["ablation"] = ablation
    test_time = ablation.get("test_time")
    if test_time and summary.get("default_model"):
        summary["default_model"]["tta_holdout"] = tta_holdout_entry(test_time)
    # the paper's CNN at the final epoch: its own recipe (+ warm-up) is `accuracy_final_paper_recipe`; the
    # default model's recipe on the same network is `accuracy_final_modern_recipe`; that recipe distilled from
    # the default model is `accuracy_final_distilled` (60 epochs) and `_100` (100 epochs, bundled as fer2013_kd)
    for run, key, final_key in (("fer2013_paper_warmup", "warmup_run", "accuracy_final_paper_recipe"),
                                ("fer2013_paper_modern", "modern_recipe_run", "accuracy_final_modern_recipe"),
                                ("fer2013_paper_kd", "distilled_run", "accuracy_final_distilled"),
                                ("fer2013_paper_kd100", "distilled_run_100", "accuracy_final_distilled_100")):
        entry = paper_cnn_run_entry(run)
        if entry:
            summary["fer2013"][key] = entry
            if entry.get("final_publictest") and summary["fer2013"]["publictest"]:
                summary["fer2013"]["publictest"][final_key] = entry["final_publictest"]["accuracy"]
    # `accuracy_final`: the best of the paper's CNN at a final epoch, scored from the bundled file
    kd = bundled_eval_entry("fer2013_kd", "fer2013_paper_kd100", "distilled_run_100", summary["fer2013"])
    if kd:
        summary["fer2013_kd"] = kd
        fer = summary["fer2013"]["publictest"]
        fer["accuracy_final"] = kd["publictest"]["accuracy"]
        fer["accuracy_final_model"] = ("fer2013_kd: the paper's CNN (same network) distilled from the default model "
                                       "over 100 epochs, final epoch, scored once from the bundled fp16 file; the "
                                       "paper's own recipe (+ warm-up) gives `accuracy_final_paper_recipe`")
    return summary


def bundled_eval_entry(name: str, run: str, run_key: str, fer: dict) -> dict | None:
    """A bundled model scored once from its bundled file: PublicTest (plain and mirror-averaged), CK+48 and
    FER+ PublicTest as-is (results/eval/{name}_*.json), with the training run it came from."""
    scores = {}
    for tag, what in (("publictest", "publictest"), ("publictest_tta", "publictest_tta_flip"),
                      ("ckplus48", "ckplus48"), ("ferplus_publictest", "ferplus_publictest")):
        res = load(RES / "eval" / f"{name}_{tag}.json")
        if res:
            scores[what] = {**eval_scores(res), "n": res["n"]}
    if "publictest" not in scores:
        return None
    run_entry = fer.get(run_key, {})
    return {**scores, "weights": f"src/facsnet/weights/{name}.pt (fp16)", "run": f"results/runs/{run}/",
            "train_hours": run_entry.get("train_hours"), "epochs": run_entry.get("epochs_done"),
            "recipe": run_entry.get("recipe"), "device": run_entry.get("device"),
            "bundle_command": f"python scripts/bundle_weights.py ~/facsnet-runs/{run}/final.pt "
                              f"src/facsnet/weights/{name}.pt"}


def ablation_entries() -> dict:
    """The default recipe one choice at a time (scripts/recipe_ablation.sh, then scripts/ablation_table.py)
    and the default model's test-time choices one at a time (scripts/test_time_ablation.py), its class-prior
    correction at each strength (scripts/prior_strength.py), that correction on collections with other class
    shares (scripts/prior_adaptation.py) and the ways of combining its members (scripts/combination_rule.py)."""
    out = {}
    # the recipe's table (the newest host) and the same arms run earlier on a 2-core AVX2 CPU in fp32
    for key, name in (("recipe", "recipe.json"), ("recipe_avx2_fp32", "recipe_avx2_fp32.json")):
        recipe = load(RES / "ablation" / name)
        if recipe:
            keep = ("change", "holdout", "ckplus48", "train_seconds", "epochs_done", "hosts")
            out[key] = {"arms": {r["arm"]: {k: r[k] for k in keep} for r in recipe["rows"]},
                        "scale": recipe["scale"], "noise": recipe["noise"],
                        "command": f"{recipe['arms_command']}; {recipe['provenance']['command']}",
                        "host": recipe["provenance"]["host"], "date": recipe["provenance"]["date"]}
    test_time = load(RES / "ablation" / "test_time.json")
    if test_time:
        out["test_time"] = {"rows": {r["row"]: {k: r[k] for k in ("change", "members", "views", "holdout", "ckplus48")}
                                     for r in test_time["rows"]},
                            "model": test_time["model"], "data": test_time["data"],
                            "command": test_time["provenance"]["command"], "host": test_time["provenance"]["host"],
                            "date": test_time["provenance"]["date"]}
    prior = load(RES / "ablation" / "prior_strength.json")
    if prior:
        out["prior_strength"] = {
            "rows": {"strength_" + f"{r['strength']:.1f}".replace(".", "_"): {k: r[k] for k in ("holdout", "ckplus48")}
                     for r in prior["rows"]},
            "chosen_on_half": prior["chosen_on_half"], "chosen": prior.get("chosen"),
            "chosen_on_half_uar_keeping_accuracy": prior.get("chosen_on_half_uar_keeping_accuracy"),
            "model": prior["model"], "data": prior["data"],
            "command": prior["provenance"]["command"], "host": prior["provenance"]["host"],
            "date": prior["provenance"]["date"]}
    adaptation = load(RES / "ablation" / "prior_adaptation.json")
    if adaptation:
        out["prior_adaptation"] = {
            "collections": adaptation["collections"], "ckplus48": adaptation["ckplus48"],
            "by_share_distance": adaptation.get("by_share_distance"),
            "share_distance_for_balanced": adaptation.get("share_distance_for_balanced"),
            "ckplus48_share_distance": adaptation.get("ckplus48_share_distance"),
            "ckplus48_estimated_shares": dict(zip(adaptation["classes"], adaptation["ckplus48_estimated_shares"])),
            "ckplus48_label_shares": dict(zip(adaptation["classes"], adaptation["ckplus48_label_shares"])),
            "model": adaptation["model"], "data": adaptation["data"], "command": adaptation["provenance"]["command"],
            "host": adaptation["provenance"]["host"], "date": adaptation["provenance"]["date"]}
    rule = load(RES / "ablation" / "combination_rule.json")
    if rule:
        out["combination_rule"] = {
            "rows": {r["rule"]: {k: r[k] for k in ("holdout", "ckplus48", "weights")} for r in rule["rows"]},
            "cross_fitted": rule["cross_fitted"], "model": rule["model"], "data": rule["data"],
            "prior_strength": rule["prior_strength"], "command": rule["provenance"]["command"],
            "host": rule["provenance"]["host"], "date": rule["provenance"]["date"]}
    return out


def tta_holdout_entry(test_time: dict) -> dict:
    """Mirror averaging against mirror + one-pixel shifts, on the hold-out (from the test-time table)."""
    rows = test_time["rows"]
    pick = lambda row: {"accuracy": rows[row]["holdout"]["accuracy"], "uar": rows[row]["holdout"]["uar"],  # noqa: E731
                        "passes": rows[row]["views"] * len(rows[row]["members"])}
    return {"command": test_time["command"], "date": test_time["date"], "host": test_time["host"],
            "model": test_time["model"], "data": test_time["data"].split(";")[0],
            "mirror": pick("default"), "mirror_and_1px_shifts": pick("shifts_1px")}


def pose_entry() -> dict | None:
    """Head pose on the bundled photos' faces turned by known angles (and FER2013 PublicTest faces)."""
    p = load(RES / "pose.json")
    if p is None:
        return None
    main = p["sets"]["bundled_photos"]
    entry = {k: main[k] for k in ("mae_deg", "mae_deg_by_axis", "yaw_mae_deg_by_abs_yaw", "turned_faces", "missed")}
    entry.update(command=p["command"], host=p["host"], date=p["date"], grid=p["grid"],
                 data="the bundled photos' faces, each turned by every pose of the grid (faces/render.py); "
                      "error of the estimated turn relative to the source's own estimate")
    if "fer2013_publictest" in p["sets"]:
        f = p["sets"]["fer2013_publictest"]
        entry["fer2013_publictest"] = {k: f[k] for k in ("mae_deg", "mae_deg_by_axis", "yaw_mae_deg_by_abs_yaw",
                                                         "turned_faces", "missed")}
    return entry


def corpus_entry() -> dict | None:
    """Corpus throughput: one process vs shards side by side vs Ray workers, alternated on one host."""
    b = load(RES / "bench_corpus.json")
    if b is None:
        return None
    return {"frames_per_s": b["frames_per_s"], "ratio_to_single": b["ratio_to_single"], "corpus": b["corpus"],
            "rounds": len(b["seconds"]["single"]), "host": b["host"], "date": b["date"], "command": b["command"]}


def reliability_entry() -> dict | None:
    """The bad-input corpus (tests/corpus.py): how many cases, and the observed outcome counts."""
    r = load(RES / "reliability.json")
    if r is None:
        return None
    return {"corpus_cases": r["cases"], "outcomes": r["outcomes"], "kinds": r["kinds"],
            "not_as_stated": len(r["mismatches"]), "command": r["command"], "date": r["date"], "host": r["host"]}


# the members added to the bundled ensemble after its first choice: run folder -> the members of the ensemble
# its `scripts/default_model.sh grow` step scored, in order (the bundled model's, then the new member, last)
GROWN_MEMBERS = {"fer2013_vgg48_s1": "ABC", "fer2013_vgg48_s2_e90": "ABCD", "fer2013_vgg48_s3_e150": "ADE",
                 "fer2013_vgg48_s4_kd": "DEF", "fer2013_vgg48_s5_e90": "DEG"}
PRUNED_AFTER = "D"     # `default_model.sh prune` ran after member D was grown in
BUNDLED_BEFORE_POOL = "D + E + G"   # what was bundled (at fp16) when `default_model.sh pool` ran
# every member of scripts/default_model.sh: (architecture, seed, epochs) -> run folder
MEMBER_RUNS = {("vgg48", 0, 50): "fer2013_vgg48", ("vgg48_small", 1, 40): "fer2013_vgg48_small",
               ("vgg48", 1, 55): "fer2013_vgg48_s1", ("vgg48", 2, 90): "fer2013_vgg48_s2_e90",
               ("vgg48", 3, 150): "fer2013_vgg48_s3_e150", ("vgg48", 4, 60): "fer2013_vgg48_s4_kd",
               ("vgg48", 5, 90): "fer2013_vgg48_s5_e90", ("vgg48", 6, 90): "fer2013_vgg48_s6_e90"}


def member_run(train_config: dict) -> str:
    """The run folder of a single network (an ensemble's members name their own)."""
    key = (train_config["model"], train_config["seed"], train_config["epochs"])
    if key not in MEMBER_RUNS:
        raise SystemExit(f"collect_results: no default_model.sh member is {key} (architecture, seed, epochs); "
                         "add its run folder to MEMBER_RUNS")
    return MEMBER_RUNS[key]


def grown_steps(trained: dict, pruned: bool) -> list[str]:
    """The default_model.sh steps after `finish`, in the order they ran: train and grow each later member,
    with the pruning after member D."""
    steps = []
    for run, members in GROWN_MEMBERS.items():
        member = members[-1]
        if run in trained:
            steps += [f"train {member}", f"grow {member}"]
        if pruned and member == PRUNED_AFTER:
            steps.append("prune")
    return steps


def only_flag(record: dict) -> str:
    """The option that chose on part of the hold-out, as a record of the choice says."""
    return " --distinct-only" if record.get("distinct_only") else " --unseen-only" if record.get("unseen_only") else ""


def twins_entries(twins: dict | None, name: str) -> dict:
    """``publictest_unseen`` / ``holdout_unseen`` (the faces without a pixel twin among the members' training
    faces), ``publictest_distinct`` / ``holdout_distinct`` (without a twin exact or near: the same photograph
    re-cropped or re-toned), ``ckplus48_other_subjects`` (CK+48 less the subjects with a face twinned in the
    training faces) and ``twins`` (the counts and the scores on the twins), from
    ``scripts/fer2013_twins.py``."""
    if not twins or twins.get("model") != name:
        return {}
    command, host = twins["provenance"]["command"], twins["provenance"].get("host")

    def part_of(split: dict, part: str) -> dict:
        return {**{k: split[part][k] for k in ("n", "accuracy", "uar", "ece")}, "command": command,
                **({"device": host} if host else {})}
    entries = {"publictest_unseen": part_of(twins["publictest"], "unseen"),
               "holdout_unseen": part_of(twins["holdout"], "unseen")}
    if "distinct" in twins["publictest"]:
        entries.update(publictest_distinct=part_of(twins["publictest"], "distinct"),
                       holdout_distinct=part_of(twins["holdout"], "distinct"))
    parts = [p for p in ("twins", "unseen", "twins_or_near", "distinct") if p in twins["holdout"]]
    entries["twins"] = {**twins["counts"], "publictest_twins_accuracy": twins["publictest"]["twins"]["accuracy"],
                        "holdout_twins_accuracy": twins["holdout"]["twins"]["accuracy"],
                        "members_holdout": {m["member"]: {p: m["holdout"][p]["accuracy"] for p in parts}
                                            for m in twins["members"]},
                        "command": command}
    if "near_twin_correlation" in twins:
        entries["twins"]["near_twin_correlation"] = twins["near_twin_correlation"]
    ck = twins.get("ckplus48")
    if ck:
        entries["ckplus48_other_subjects"] = part_of(ck, "other_subjects")
        entries["twins"].update(ckplus48_twins=ck["twins"], ckplus48_twins_or_near=ck["twins_or_near"],
                                ckplus48_subjects_with_twin=ck["subjects_with_twin"])
    return entries


def default_model_entry() -> dict | None:
    """The default expression model: chosen on the FER2013 Training hold-out among the calibrated
    candidates; PublicTest scored once on the chosen, final weights; CK+48 and FER+ as-is."""
    from facsnet.models.hub import DEFAULT_MODEL, resolve_weights
    from facsnet.models.checkpoint import read_checkpoint, served_prior_strength

    name = "fer2013_vgg_ens"
    folder = RES / "runs" / "default_model"
    evals = {tag: load(RES / "eval" / f"{name}_{tag}.json")
             for tag in ("publictest", "publictest_uncorrected", "ckplus48", "ckplus48_data_classes",
                         "ferplus_publictest")}
    pool = pool_record(folder)
    choice = pool or load(folder / "holdout_choice.json")
    path = ROOT / "src" / "facsnet" / "weights" / f"{name}.pt"
    if evals["publictest"] is None or choice is None or not path.is_file():
        return None
    ck = read_checkpoint(resolve_weights(path))
    members = [m["train_config"]["model"] for m in ck.get("members", [])] or [ck["train_config"]["model"]]
    records = ck.get("members") or [{"source": f"{member_run(ck['train_config'])}/final.pt", **ck}]
    runs = [(Path(m["source"]).parent.name, m) for m in records]       # (run folder, member record) of each network
    hists = {run: load(folder / f"history_{run}.json") for run, _ in runs}   # the bundled model's runs
    # every member trained on the way, bundled or pruned (scripts/default_model.sh prune)
    trained = {p.stem.removeprefix("history_"): load(p) for p in sorted(folder.glob("history_*.json"))}
    pruned = load(folder / "holdout_choice_prune.json")
    cal = ck.get("calibration") or {}
    host = load(folder / "host.json") or {}
    chosen = next(r for r in choice["candidates"] if r["model"] == choice["chosen"])
    if pool:    # the last step (`default_model.sh pool`) chose the bundled members; its record stands apart
        choice = {**choice, "candidates": choice["candidates"][:10]}

    def scored(e: dict) -> dict:   # an evaluation's figures, the command that made them and the host it ran on
        made = e.get("provenance") or {}
        return {"accuracy": round(e["accuracy"], 4), "uar": round(e["uar"], 4), "ece": round(e["ece"], 3),
                "n": e["n"], "left_out_classes": e["left_out_classes"],
                **{key: made[field] for key, field in (("command", "command"), ("device", "host")) if field in made}}
    return {
        "name": name, "is_default": DEFAULT_MODEL == name, "architecture": ck["model_name"],
        "members": members if ck["model_name"] == "ensemble" else None,
        "publictest": {**scored(evals["publictest"]), "tta_flip": evals["publictest"]["tta_flip"],
                       "temperature": evals["publictest"]["temperature"],
                       "prior_strength": float(evals["publictest"].get("balanced", 0.0)),
                       "data": "FER2013 validation/ = PublicTest (3,589), scored once, on the final weights"},
        # how far the served probabilities are corrected for FER2013's class prior, chosen on the hold-out
        "prior_strength": {"strength": served_prior_strength(ck),
                           **((ck.get("inference") or {}).get("prior_strength_chosen") or {}),
                           "command": "python scripts/prior_strength.py --record"
                                      + only_flag((ck.get("inference") or {}).get("prior_strength_chosen") or {})},
        # the same weights read without that correction (--balanced-strength 0)
        **({"publictest_uncorrected": {**scored(evals["publictest_uncorrected"]),
                                       "prior_strength": float(evals["publictest_uncorrected"].get("balanced", 0.0))}}
           if evals["publictest_uncorrected"] else {}),
        "ckplus48": scored(evals["ckplus48"]) if evals["ckplus48"] else None,
        # the same faces on the label set both share: neutral, which CK+48 lacks, never predicted
        **({"ckplus48_data_classes": scored(evals["ckplus48_data_classes"])} if evals["ckplus48_data_classes"] else {}),
        "ferplus_publictest": scored(evals["ferplus_publictest"]) if evals["ferplus_publictest"] else None,
        # PublicTest and the hold-out apart: faces whose picture the members trained on (FER2013 repeats pictures:
        # the same pixels or the mirror image's, and near twins, re-cropped or re-toned), and the rest
        **twins_entries(load(RES / "eval" / "fer2013_twins.json"), name),
        "holdout": {"accuracy": chosen["accuracy"], "uar": chosen["uar"], "n": choice["n"],
                    "ece_before": round(cal.get("ece_before", float("nan")), 4),
                    "ece_after": round(cal.get("ece_after", float("nan")), 4), "temperature": cal.get("temperature"),
                    "candidates": choice["candidates"], "rule": choice["rule"],
                    "data": "10% of FER2013 Training, stratified, fixed seed (train --val holdout); never trained on"
                            + ("; scored on its faces without a twin, exact or near, in the training part "
                               "(--distinct-only)" if choice.get("distinct_only") else
                               "; scored on its faces without an exact twin in the training part (--unseen-only)"
                               if choice.get("unseen_only") else "")},
        "epochs": {run: len(h) for run, h in hists.items()},
        "curves_every_10": {run: {r["epoch"]: r.get("val_accuracy") for r in h if r["epoch"] % 10 == 0}
                            for run, h in trained.items()},        # every member trained, bundled or not
        "train_hours": round(sum(r["seconds"] for h in trained.values() for r in h) / 3600, 2),
        "train_hours_bundled_members": round(sum(r["seconds"] for h in hists.values() for r in h) / 3600, 2),
        "members_trained": {run: len(h) for run, h in trained.items()},
        "train_device": host.get("device", "a 2-core CPU with native bf16"),
        **({"train_device_per_run": host["runs"]} if host.get("runs") else {}),
        "train_config": {run: m["train_config"] for run, m in runs},
        "command": "; ".join(["bash scripts/default_model.sh train A", "bash scripts/default_model.sh train B",
                              "bash scripts/default_model.sh finish"]
                             + [f"bash scripts/default_model.sh {step}" for step in grown_steps(trained, pruned)]
                             + (["bash scripts/default_model.sh train H"] if "fer2013_vgg48_s6_e90" in trained else [])
                             + (["bash scripts/default_model.sh pool"] if pool else [])),
        "weights_sha256_16": weights_digest(str(path)),
        "grow": grow_records(folder),
        **({"pool": {k: v for k, v in pool.items() if k != "candidates"}} if pool else {}),
    }


def member_letter(source: str) -> str:
    """A member's letter in scripts/default_model.sh (A, B, ..., in the order they were trained) from its run folder."""
    runs = list(MEMBER_RUNS.values())
    run = Path(source).parent.name
    if run not in runs:
        raise SystemExit(f"collect_results: {source} is no default_model.sh member; add its run folder to MEMBER_RUNS")
    return "ABCDEFGH"[runs.index(run)]


def pool_record(folder: Path) -> dict | None:
    """`default_model.sh pool`: the members at hand, every sub-ensemble that fits one bundled file (int8)
    scored on the hold-out, labelled by its members' letters, best first; the chosen one."""
    d = load(folder / "holdout_choice_pool.json")
    if d is None:
        return None
    letter = {str(m["position"]): member_letter(m["source"]) for m in d["pool"]}
    label = lambda members: " + ".join(letter[m] for m in members)  # noqa: E731
    rows = [{"model": label(r["members"]), **{k: r[k] for k in ("accuracy", "uar", "ece", "nll", "temperature")},
             "megabytes": round(r["bytes"] / 1e6, 1)} for r in d["candidates"]]
    by_label = {r["model"]: r for r in rows}
    return {"weights": d["weights"], "pool": ", ".join(letter.values()), "rule": d["rule"], "n": d["n"],
            "candidates_scored": len(rows), "candidates": rows, "chosen": label(d["chosen"]),
            "before": by_label.get(BUNDLED_BEFORE_POOL), "every_member": by_label.get(" + ".join(letter.values())),
            "command": "bash scripts/default_model.sh pool",
            "table": "results/runs/default_model/holdout_choice_pool.json"}



def candidate_label(model: str, members: str) -> str:
    """'bundled', 'X alone' or 'X + Y' for a candidate of a grow step (members_13_calibrated.pt -> A + C)."""
    stem = Path(model).stem
    if stem.endswith("_before_grow"):
        return "bundled"
    if stem.startswith("members_"):
        return " + ".join(members[int(i) - 1] for i in stem.split("_")[1])
    if stem.endswith("_grown_calibrated"):          # all of them (grow C and D scored no sub-ensembles)
        return " + ".join(members)
    if stem == "calibrated":
        return f"{members[-1]} alone"
    raise SystemExit(f"collect_results: no label for the grow candidate {model}")


def grow_records(folder: Path) -> dict:
    """Each grow step: the new member's run (its curve is in `curves_every_10`) and every candidate's
    hold-out score, labelled by the members it averages; which one the hold-out chose."""
    records = {}
    for run, members in GROWN_MEMBERS.items():
        member = members[-1]
        choice = load(folder / f"holdout_choice_grow_{member}.json")
        if choice is None:
            continue
        scores = {candidate_label(c["model"], members): {"accuracy": c["accuracy"], "uar": c["uar"]}
                  for c in choice["candidates"]}
        records[member] = {"run": run, "candidates": scores, "chosen": candidate_label(choice["chosen"], members)}
        agreement = load(folder / f"member_agreement_{members}.json")      # scripts/member_agreement.py
        if agreement:
            records[member]["member_agreement"] = {"pairs": agreement["pairs"], "command": agreement["command"]}
    return records


# the paper's CNN trained to the end of a fixed schedule in the background, its final epoch scored on PublicTest:
# run folder -> (epochs planned, eval file stem, the command, what the recipe is)
PAPER_CNN_RUNS = {
    "fer2013_paper_warmup": (150, "fer2013_warmup_final", "bash scripts/background_train.sh fer2013_paper_warmup train "
                             "--data fer2013 --val fer2013:validation --epochs 150 --warmup-steps 2000 --no-progress",
                             "the paper's recipe (Adam 1e-3, Keras time decay 1e-5) with a 2,000-step lr warm-up"),
    "fer2013_paper_modern": (40, "fer2013_paper_modern_final", "bash scripts/background_train.sh fer2013_paper_modern train "
                             "--model breuer2017 --data fer2013 --val fer2013:validation --epochs 40 --batch-size 64 "
                             "--optimizer sgd --lr 0.02 --weight-decay 5e-4 --schedule cosine --warmup-steps 500 "
                             "--label-smoothing 0.1 --erase 0.5 --degrade 0.15 --no-progress",
                             "the default model's recipe (SGD + Nesterov 0.02, 500 warm-up steps, cosine, label "
                             "smoothing 0.1, random erasing, field degradations), not the paper's"),
    "fer2013_paper_kd": (60, "fer2013_paper_kd_final", "bash scripts/background_train.sh fer2013_paper_kd train "
                         "--model breuer2017 --data fer2013 --val fer2013:validation --epochs 60 --batch-size 64 "
                         "--optimizer sgd --lr 0.02 --weight-decay 5e-4 --schedule cosine --warmup-steps 500 "
                         "--erase 0.5 --degrade 0.15 --teacher fer2013_vgg_ens --distill-weight 0.9 "
                         "--distill-temperature 4 --no-progress",
                         "the default model's recipe without label smoothing, over 60 epochs, distilled from the "
                         "default model fer2013_vgg_ens as bundled then (members D + E; digest in the run config) "
                         "(weight 0.9, temperature 4); the teacher never saw PublicTest "
                         "(trained on FER2013 Training less its hold-out, chosen on that hold-out)"),
    "fer2013_paper_kd100": (100, "fer2013_paper_kd100_final", "bash scripts/background_train.sh fer2013_paper_kd100 "
                            "train --model breuer2017 --data fer2013 --val fer2013:validation --epochs 100 "
                            "--batch-size 64 --optimizer sgd --lr 0.02 --weight-decay 5e-4 --schedule cosine "
                            "--warmup-steps 500 --erase 0.5 --degrade 0.15 --teacher ~/facsnet-runs/teacher_paper.pt "
                            "--distill-weight 0.9 --distill-temperature 4 --no-progress",
                            "as fer2013_paper_kd over 100 epochs; the teacher a fixed copy of the default model "
                            "fer2013_vgg_ens as bundled then (members D + E, the same digest as fer2013_paper_kd's)"),
}


def eval_scores(res: dict, command: str | None = None) -> dict:
    """Accuracy, UAR and ECE (4 decimals) of one `facsnet evaluate --json` file, with the command that made it."""
    return {"accuracy": round(res["accuracy"], 4), "uar": round(res["uar"], 4), "ece": round(res["ece"], 4),
            "command": command if command is not None else (res.get("provenance") or {}).get("command")}


def paper_cnn_run_entry(run: str) -> dict | None:
    """The paper's CNN trained in the background to the end of its schedule: its PublicTest curve so far
    and, once the schedule is done, its final epoch scored on PublicTest."""
    planned, stem, command, recipe = PAPER_CNN_RUNS[run]
    folder = RES / "runs" / run
    hist = load(folder / "history.json")
    if not hist:
        return None
    best = max(hist, key=lambda r: r["val_accuracy"])
    entry = {"recipe": recipe, "epochs_done": len(hist), "epochs_planned": planned,
             "last_epoch_val_accuracy": hist[-1]["val_accuracy"],
             "train_hours": round(sum(r["seconds"] for r in hist) / 3600, 2),
             "best_val_accuracy": best["val_accuracy"], "best_epoch": best["epoch"],
             "curve_every_10": {r["epoch"]: r["val_accuracy"] for r in hist if r["epoch"] % 10 == 0},
             "data": "FER2013 train/ (28,709) -> validation/ = PublicTest (3,589)",
             "device": (load(folder / "host.json") or {}).get("device", "a 2-core CPU with native bf16 (AMX)"),
             "command": command, "note": "val_accuracy is PublicTest after each epoch, a curve only: the reported "
             "figure is the final epoch's, never the best one"}
    final = load(RES / "eval" / f"{stem}_publictest.json")
    if final and len(hist) >= planned:
        entry["final_publictest"] = eval_scores(final, f"facsnet evaluate --model ~/facsnet-runs/{run}/final.pt "
                                                       f"--data fer2013:validation --json > results/eval/{stem}_publictest.json")
        tta = load(RES / "eval" / f"{stem}_publictest_tta.json")
        if tta:
            entry["final_publictest_tta_flip"] = eval_scores(tta, "the same with --tta-flip")
        for data, what in (("ckplus48", "ckplus48_as_is"), ("ferplus_publictest", "ferplus_publictest_as_is")):
            other = load(RES / "eval" / f"{stem}_{data}.json")
            if other:
                entry[what] = eval_scores(other)
    return entry


def precision_entries(pair: dict[str, dict]) -> dict:
    """Does bf16 keep accuracy? The same CK+ 10-fold subject-independent run in bf16 and in fp32."""
    if set(pair) != {"bf16", "fp32"}:
        return {}
    a, b = pair["bf16"]["fold_accuracies"], pair["fp32"]["fold_accuracies"]
    import numpy as np

    diff = np.array(a) - np.array(b)
    return {"ckplus_cv10_subject_30ep": {
        "bf16": pair["bf16"], "fp32": pair["fp32"], "bf16_minus_fp32_points": round(100 * float(diff.mean()), 2),
        "bf16_minus_fp32_fold_sd_points": round(100 * float(diff.std(ddof=1)), 2),
        "note": "same folds, seeds and recipe; only --precision differs; from the bundled fer2013 weights",
    }}


def publictest_alive_filters() -> dict | None:
    """Live filters per layer of the FER-trained models on FER2013 PublicTest (scripts/dead_filters.py)."""
    r = load(RES / "interpret" / "dead_filters.json")
    if r is None:
        return None
    return {**{m: {"alive": e["alive_filters"], "total": e["total_filters"], "weights_sha256": e["weights_sha256"]}
               for m, e in r["models"].items()},
            "data": r["data"], "eps": r["eps"], "command": "python scripts/dead_filters.py",
            "device": "a 2-core CPU"}


def early_alive_filters() -> dict | None:
    """Live filters on PublicTest after 150 training steps from scratch, per recipe (scripts/dead_filters_early.py)."""
    r = load(RES / "interpret" / "dead_filters_early.json")
    if r is None:
        return None
    return {**{name: {"alive": e["alive"], "lr_after": e["lr_after"], "settings": e["settings"]}
               for name, e in r["recipes"].items()},
            "steps": r["steps"], "batch_size": r["batch_size"], "data": r["data"], "command": r["command"],
            "device": "a 2-core CPU, fp32"}


def interpret_entry(model: str, headline_n: int = 10) -> dict | None:
    """Live filters per layer and matched filters (P(j,u) = 1) on CK+48, by N, with the baseline."""
    r = load(RES / "interpret" / model / "au.json")
    if r is None:
        return None
    by_n = {c["n"]: c for c in r["correlations"]}
    head = by_n[headline_n]
    return {
        "alive_filters": r["alive_filters"], "total_filters": r["total_filters"], "eps": r["eps"],
        "n": headline_n, "matched_filters": head["matched"],
        "matched_filters_permuted_mean": round(head["matched_permuted_mean"], 2),
        "matched_filters_permuted_std": round(head["matched_permuted_std"], 2),
        "permutations": head["permutations"],
        "by_n": {str(n): {"matched": c["matched"], "permuted_mean": round(c["matched_permuted_mean"], 2),
                          "permuted_std": round(c["matched_permuted_std"], 2)} for n, c in by_n.items()},
        "data": "CK+48 (981 faces) with CK+_AU_labels (327 sequences, AU occurrence)",
        "command": f"facsnet au-correlate --model {model} --data ckplus48 --n 3,5,10,20 --permutations 200 "
                   f"--out results/interpret/{model}",
    }


def micro_entries() -> dict:
    """LOSO on the MEGC 2019 composite: every variant, composite and per database (UF1, UAR, accuracy)."""
    out = {}
    for folder, flags in (("megc2019", ""), ("megc2019_scratch", " --init none"), ("megc2019_frozen", "")):
        r = load(RES / "micro" / folder / "loso.json")
        if r is None:
            continue
        for v, e in r["results"].items():
            def cell(m):
                return {"uf1": round(m["uf1"], 4), "uar": round(m["uar"], 4), "accuracy": round(m["accuracy"], 4),
                        "n": m["n"]}
            out[v] = {**cell(e["composite"]), **{db: cell(m) for db, m in e["per_database"].items()},
                      "folds": e["folds"], "init": e["config"]["init"], "config": e["config"],
                      "data": "../shared/data/MEGC2019_composite_HTNet: " + r["data"],
                      "device": ("a 2-core CPU" if folder.endswith("frozen") else
                                 "one NVIDIA H200 GPU, bf16 autocast, 12 processes sharing it"),
                      "command": f"facsnet micro megc2019 --variants {','.join(r['results'])}{flags} --epochs 30 "
                                 f"--out results/micro/{folder}" + ("" if folder.endswith("frozen") else
                                                                    "  # in bash scripts/gpu_micro.sh (6 shards)"),
                      "run": f"results/micro/{folder}"}
            if "partial" in e["config"]:
                out[v]["partial"] = e["config"]["partial"]
    return {"megc2019": out} if out else {}


def fmt_pct(x):
    return "-" if x is None else f"{100 * x:.2f}%"


def readme_table(s: dict) -> str:
    rows = ["| key | figure | protocol / note |", "|---|---:|---|"]
    for k, e in s["ckplus"].items():
        extra = f" ({e['folds_done']} of {e['k']} folds)" if e.get("partial") else ""
        rows.append(f"| `ckplus.{k}.accuracy_mean` | {fmt_pct(e['accuracy_mean'])} +- {100 * e['accuracy_std']:.2f}{extra} | "
                    f"{e['protocol']}, {e['epochs']} epochs, {'from FER2013 weights' if e['init'] else 'from scratch'} |")
    d = s.get("default_model")
    if d:
        p, h = d["publictest"], d["holdout"]
        rows.append(f"| `default_model.publictest.accuracy` / `.uar` / `.ece` | {fmt_pct(p['accuracy'])} / {fmt_pct(p['uar'])} / "
                    f"{p['ece']:.3f} | `{d['name']}` ({d['architecture']}{': ' + ' + '.join(d['members']) if d['members'] else ''}), "
                    f"final epochs, chosen on the FER2013 Training hold-out, scored once; "
                    f"mirror-averaged, temperature {p['temperature']:.2f} fitted on the FER2013 Training hold-out "
                    f"(ECE there {h['ece_before']:.3f} -> {h['ece_after']:.3f}, uncorrected)"
                    + (f", class prior corrected at strength {p['prior_strength']:g} (chosen there)"
                       if p.get("prior_strength") else "") + " |")
        for key, what in (("ckplus48", "all of CK+48 as-is (never trained on it)"),
                          ("ferplus_publictest", "FER+ majority labels on PublicTest as-is")):
            if d.get(key):
                rows.append(f"| `default_model.{key}.accuracy` / `.uar` | {fmt_pct(d[key]['accuracy'])} / "
                            f"{fmt_pct(d[key]['uar'])} | {what}; classes the model lacks left out |")
        per_run = d.get("train_device_per_run")
        trained = d.get("members_trained") or d["epochs"]
        where = "; ".join(f"{run} ({trained.get(run)} epochs{'' if run in d['epochs'] else ', not bundled'}): {dev}"
                          for run, dev in per_run.items()) if per_run else d["train_device"]
        rows.append(f"| `default_model.train_hours` | {d['train_hours']:.2f} h (bundled members "
                    f"{d.get('train_hours_bundled_members', d['train_hours']):.2f} h) | {where} |")
    c = s.get("corpus")
    if c:
        ratios = ", ".join(f"{k.replace('_', ' ')} {v:.2f}x" for k, v in c["ratio_to_single"].items())
        rows.append(f"| `corpus.frames_per_s` / `.ratio_to_single` | {c['frames_per_s']['single']:.0f} frames/s in one "
                    f"process; {ratios} | {c['corpus']}, wall time incl. start-up, median of {c['rounds']} alternated "
                    f"rounds on {c['host']} |")
    pose = s.get("pose")
    if pose:
        axes = ", ".join(f"{k} {v:.1f}" for k, v in pose["mae_deg_by_axis"].items())
        by_yaw = ", ".join(f"|yaw| {k}: {v:.1f}" for k, v in pose["yaw_mae_deg_by_abs_yaw"].items())
        fer = pose.get("fer2013_publictest")
        rows.append(f"| `pose.mae_deg` | {pose['mae_deg']:.2f} deg ({axes}) | head pose of the bundled photos' faces turned "
                    f"to known poses ({pose['turned_faces']} turned faces; yaw -45..45, pitch -20..20, roll 0/20), relative to the "
                    f"source; yaw error by |yaw|: {by_yaw}; {pose['missed']} not found"
                    + (f"; FER2013 PublicTest faces enlarged 4x: {fer['mae_deg']:.2f} deg, {fer['missed']} of "
                       f"{fer['turned_faces']} not found" if fer else "") + " |")
    r = s.get("reliability")
    if r:
        counts = ", ".join(f"{n} {k}" for k, n in r["outcomes"].items())
        rows.append(f"| `reliability.corpus_cases` / `.outcomes` | {r['corpus_cases']} cases: {counts} | "
                    f"generated bad and odd inputs in {len(r['kinds'])} kinds run through the CLI; "
                    f"{r['not_as_stated']} not as stated |")
    for k in ("fer2013", "fer2013_bn", "ferplus"):
        e = s[k]["publictest"]
        if e:
            rows.append(f"| `{k}.publictest.accuracy` | {fmt_pct(e['accuracy'])} (mirror TTA {fmt_pct(e['accuracy_tta_flip'])}) | "
                        f"{e['epochs_trained']} epochs; {e['data']} |")
    kd, fer = s.get("fer2013_kd"), s["fer2013"]["publictest"]
    if kd:
        rows.append(f"| `fer2013.publictest.accuracy_final` (`fer2013_kd.publictest`) | {fmt_pct(kd['publictest']['accuracy'])} "
                    f"(mirror TTA {fmt_pct(kd['publictest_tta_flip']['accuracy'])}; UAR {fmt_pct(kd['publictest']['uar'])}, "
                    f"ECE {kd['publictest']['ece']:.3f}) | the paper's CNN, final epoch of {kd['epochs']}, distilled from the "
                    f"default model; bundled `fer2013_kd`; as-is CK+48 {fmt_pct(kd['ckplus48']['accuracy'])}, "
                    f"FER+ {fmt_pct(kd['ferplus_publictest']['accuracy'])} |")
    if fer.get("accuracy_final_paper_recipe"):
        rows.append(f"| `fer2013.publictest.accuracy_final_paper_recipe` | {fmt_pct(fer['accuracy_final_paper_recipe'])} | "
                    f"the paper's CNN and recipe (+ a 2,000-step warm-up), final epoch of "
                    f"{s['fer2013']['warmup_run']['epochs_done']} |")
    for k, e in (s.get("interpret") or {}).items():
        if k == "early_alive_filters":
            continue  # a diagnostic, described in the README's text
        if k == "publictest_alive_filters":
            for m in ("fer2013", "fer2013_bn"):
                if m in e:
                    rows.append(f"| `interpret.publictest_alive_filters.{m}.alive` | "
                                + ", ".join(f"{layer} {e[m]['alive'][layer]} / {e[m]['total'][layer]}" for layer in e[m]["alive"])
                                + " | filters that ever fire on FER2013 PublicTest |")
            continue
        rows.append(f"| `interpret.{k}.matched_filters` | {e['matched_filters']} of {e['alive_filters']['conv3']} live conv3 filters "
                    f"(shuffled AUs: {e['matched_filters_permuted_mean']:.1f} +- {e['matched_filters_permuted_std']:.1f}) | "
                    f"N = {e['n']}, P(j,u) = 1 on CK+48; model {'trained on CK+48' if k == 'ckplus' else 'trained on FER2013 only'} |")
    b = s.get("bench") or {}
    if b:
        rows.append(f"| `bench.train_img_per_s` | {b['train_img_per_s']:.0f} img/s | {b['train_img_per_s_config']}, {b['device']} |")
        rows.append(f"| `bench.train_img_per_s_fp32_eager` | {b['train_img_per_s_fp32_eager']:.0f} img/s | batch 64, same machine |")
        if b.get("train_ceiling_img_per_s"):
            peak = lambda d: max(x for x in (b.get(f"gemm_peak_gflops_{d}"), b.get(f"conv_peak_gflops_{d}")) if x)  # noqa: E731
            rows.append(f"| `bench.train_ceiling_img_per_s` | {b['train_ceiling_img_per_s']:.0f} img/s "
                        f"(reached: {100 * b['train_utilisation']:.0f}%) | {b['train_gflop_per_image_real']:.2f} GFLOP of real work per training "
                        f"image ({b['train_gflop_per_image']:.2f} counting the zero-padding taps) at the measuring CPU's best peak, "
                        f"matrix product or oneDNN convolution (fp32 {peak('fp32'):.0f} GFLOP/s, bf16 {peak('bf16'):.0f}) |")
    if b.get("train_vs_keras"):
        kt = b["keras_train_img_per_s"]
        rows.append(f"| `bench.train_vs_keras` | {b['train_vs_keras']:.2f}x ({b['facsnet_train_img_per_s']:.0f} img/s against Keras "
                    f"bf16 {kt['bf16']:.0f} / fp32 {kt['fp32']:.0f}) | `facsnet train` defaults vs Keras `train_on_batch`, batch 64, "
                    f"alternated on {b['vs_keras_host']} |")
        kc = b["keras_classify_img_per_s_b256"]
        rows.append(f"| `bench.classify_b256_vs_keras` | {b['classify_b256_vs_keras']:.2f}x ({b['facsnet_classify_img_per_s_b256']:.0f} "
                    f"img/s against {max(kc.values()):.0f}; bare CNN {b['classify_b256_vs_keras_bare']:.2f}x); batch 1 "
                    f"{b['classify_b1_vs_keras']:.1f}x | classifier ({b['classifier_default']['model']}, the default when measured; "
                    f"{b['classifier_default']['backend']} {b['classifier_default']['precision']}) vs Keras predict at its faster precision |")
        rows.append(f"| `bench.precision_auto` | {b['precision_auto']['precision']} | {b['precision_auto']['reason']} |")
    if b.get("video_fps_vs_previous"):
        rows.append(f"| `bench.video_fps_vs_previous` | {b['video_fps_vs_previous']:.2f}x ({b['video_fps_now']:.0f} against "
                    f"{b['video_fps_previous']:.0f} frames/s) | default `analyze`, 640x480, one face, detection on every frame, "
                    f"against commit {b['video_fps_previous_commit']}, alternated on the same host |")
    if b.get("video_fps"):
        rows.append(f"| `bench.video_fps` | {b['video_fps']:.0f} frames/s (ONNX Runtime {b['video_fps_onnx']:.0f}, PyTorch "
                    f"{b['video_fps_torch']:.0f}) | end to end: decode, detect every frame, align, classify; 640x480, one face, 2 CPU cores |")
        if b.get("video_fps_detect_every_3"):
            rows.append(f"| `bench.video_fps_detect_every_3` | {b['video_fps_detect_every_3']:.0f} frames/s | "
                        "the same, faces detected on every 3rd frame and kept between (`--detect-every 3`) |")
        rows.append(f"| `bench.detect_ms_per_frame` | {b['detect_ms_per_frame']:.1f} ms | BlazeFace full range, 640x480 |")
        rows.append(f"| `bench.classify_img_per_s_b1` / `_b256` | {b['classify_img_per_s_b1']:.0f} / "
                    f"{b['classify_img_per_s_b256']:.0f} img/s (ONNX Runtime {b['classify_img_per_s_b1_onnx']:.0f} / "
                    f"{b['classify_img_per_s_b256_onnx']:.0f}) | aligned 48x48 crops, fer2013_bn classifier (OpenVINO, precision auto; the default when measured) |")
    pc = (s.get("precision") or {}).get("ckplus_cv10_subject_30ep")
    if pc:
        rows.append(f"| `precision.ckplus_cv10_subject_30ep.bf16` / `.fp32` | {fmt_pct(pc['bf16']['accuracy_mean'])} +- "
                    f"{100 * pc['bf16']['accuracy_std']:.2f} / {fmt_pct(pc['fp32']['accuracy_mean'])} +- "
                    f"{100 * pc['fp32']['accuracy_std']:.2f} (difference {pc['bf16_minus_fp32_points']:+.2f} points, "
                    f"fold sd {pc['bf16_minus_fp32_fold_sd_points']:.2f}) | CK+48 10-fold subject-independent, 30 epochs "
                    "from fer2013, bf16 against fp32, same folds and seeds |")
    for k, e in ((s.get("au") or {}).get("ckplus") or {}).items():
        if k.startswith("intensity"):
            rows.append(f"| `au.ckplus.{k}.mse` / `.accuracy` | {e['mse']:.3f} / {fmt_pct(e['accuracy'])} "
                        f"(ICC(3,1) {e['icc']:.2f}; always-0: {e['mse_zero_baseline_mean']:.3f} / "
                        f"{fmt_pct(e['accuracy_zero_baseline_mean'])}) | AU intensity 0-5, {len(e['aus'])} AUs, mean over AUs"
                        f"{', presence x intensity heads' if 'hurdle' in k else ''}; {e['protocol']} |")
        else:
            how = (f"{e['backbone']} fine-tuned end to end per fold ({e['head']['epochs']} epochs)"
                   if "fine-tuned" in e["features"] else f"frozen {e['backbone']} conv features")
            rows.append(f"| `au.ckplus.{k}.f1_mean` | F1 {e['f1_mean']:.3f} +- {e['f1_std']:.3f} (accuracy "
                        f"{fmt_pct(e['accuracy_mean'])}, AUC {e['auc_mean']:.3f}) | {len(e['aus'])} AUs, {how}; {e['protocol']} |")
    for src, row in ((s.get("transfer") or {}).get("cross") or {}).items():
        cells = ", ".join(f"{t}{' (in-sample)' if 'in-sample' in c.get('note', '') else ''} "
                          f"{fmt_pct(c['accuracy'])} / {fmt_pct(c['fine_tuned']['accuracy'])}"
                          for t, c in row.items() if "fine_tuned" in c)
        when = ("; earlier weights of this model (see `transfer.weights`)"
                if src in (s.get("transfer") or {}).get("stale_rows", []) else "")
        rows.append(f"| `transfer.cross.{src}.*` | {cells} | as-is / output layer re-fitted, on shared classes{when} |")
    for k, e in (s.get("analyze") or {}).items():
        if k.startswith("fer2013_publictest_rephotographed_"):
            rows.append(f"| `analyze.{k}.accuracy` | {fmt_pct(e['accuracy'])} (face found {fmt_pct(e['face_found'])}; "
                        f"{fmt_pct(e['accuracy_where_found'])} where found; native crops {fmt_pct(e['native_crops_accuracy'])}) | "
                        "PublicTest faces padded and enlarged into 432x432 photos, then detected, levelled and re-cropped"
                        + ("; measured with the model's earlier weights (epoch 163)" if "weights" in e else "") + " |")
        if k == "face_crops":
            rows.append(f"| `analyze.face_crops.crops_48px.accuracy` | {fmt_pct(e['crops_48px']['accuracy'])} with "
                        f"`--detector crops` against {fmt_pct(e['blazeface_48px']['accuracy'])} with BlazeFace (face found "
                        f"{fmt_pct(e['blazeface_48px']['face_found'])}; native crops {fmt_pct(e['native']['accuracy'])}) | "
                        f"{e['native']['n']} FER2013 Training hold-out faces given to `analyze` as 48x48 crops, no face counted wrong |")
    for v, e in ((s.get("micro") or {}).get("megc2019") or {}).items():
        dbs = ", ".join(f"{db} {e[db]['uf1']:.3f}" for db in ("casme2", "samm", "smic") if db in e)
        rows.append(f"| `micro.megc2019.{v}.uf1` / `.uar` / `.accuracy` | {e['uf1']:.3f} / {e['uar']:.3f} / "
                    f"{fmt_pct(e['accuracy'])} (UF1 {dbs}) | MEGC 2019 composite, 442 clips, leave one subject out (68 folds), "
                    f"{'from scratch' if not e['init'] else 'FER2013 conv layers frozen' if e['config'].get('frozen') else 'FER2013-pretrained, fine-tuned'} |")
    return "\n".join(rows)


def headline_table(s: dict) -> str:
    """The README's headline rows in plain words; every figure from summary.json, its key beside it."""
    def pct(x):
        return f"{100 * x:.1f}%"

    rows = ["| what | figure | key in `results/summary.json` |", "|---|---:|---|"]
    ck = s["ckplus"]
    rows.append(f"| CK+, subjects never seen in training (10 folds) | {pct(ck['cv10_subject']['accuracy_mean'])} | `ckplus.cv10_subject` |")
    rows.append(f"| CK+, the paper's per-image folds | {pct(ck['cv10_image']['accuracy_mean'])} | `ckplus.cv10_image` |")
    d = s.get("default_model")
    if d:
        p = d["publictest"]
        rows.append(f"| default model on FER2013 PublicTest, scored once: accuracy / balanced recall / calibration error | "
                    f"{fmt_pct(p['accuracy'])} / {fmt_pct(p['uar'])} / {p['ece']:.3f} | `default_model.publictest` |")
        for key, which in (("publictest_unseen", "whose pixels are not among its training faces (FER2013 repeats "
                                                 "pictures)"),
                           ("publictest_distinct", "with no copy among its training faces, exact or re-cropped / re-toned")):
            part = d.get(key)
            if part:
                rows.append(f"| the same predictions, only the {part['n']:,} PublicTest faces {which} | "
                            f"{fmt_pct(part['accuracy'])} / {fmt_pct(part['uar'])} / {part['ece']:.3f} | "
                            f"`default_model.{key}` |")
        full = (s.get("ablation", {}).get("prior_strength", {}).get("rows", {}).get("strength_1_0") or {}).get("ckplus48")
        if full:
            rows.append(f"| default model on all of CK+48, never trained on it (read with `--balanced`, equally likely classes) | "
                        f"{pct(d['ckplus48']['accuracy'])} ({pct(full['accuracy'])}) | `default_model.ckplus48` "
                        f"(`ablation.prior_strength.rows.strength_1_0.ckplus48`) |")
        else:
            rows.append(f"| default model on all of CK+48, never trained on it | {pct(d['ckplus48']['accuracy'])} | `default_model.ckplus48` |")
    crops = (s.get("analyze") or {}).get("face_crops")
    if crops:
        rows.append(f"| `facsnet analyze` on a folder of 48x48 face crops ({crops['native']['n']} FER2013 hold-out faces): "
                    f"`--detector crops` / the face detector, no face counted wrong | {pct(crops['crops_48px']['accuracy'])} / "
                    f"{pct(crops['blazeface_48px']['accuracy'])} | `analyze.face_crops` |")
    fer = s["fer2013"]["publictest"]
    final, paper_recipe = fer.get("accuracy_final"), fer.get("accuracy_final_paper_recipe")
    if final and s.get("fer2013_kd"):
        rows.append(f"| the paper's CNN on FER2013 PublicTest, final epoch: distilled from the default model over "
                    f"{s['fer2013_kd']['epochs']} epochs (bundled `fer2013_kd`) | {pct(final)} | `fer2013.publictest.accuracy_final` |")
    if paper_recipe:
        rows.append(f"| the paper's CNN with the paper's own recipe (+ warm-up), final epoch of its full schedule | "
                    f"{pct(paper_recipe)} | `fer2013.publictest.accuracy_final_paper_recipe` |")
    if not (final or paper_recipe):
        rows.append(f"| the paper's CNN on FER2013 PublicTest | {pct(fer['accuracy'])} (best epoch) | "
                    f"`fer2013.publictest.accuracy` |")
    rows.append(f"| FER+ majority labels, PublicTest | {pct(s['ferplus']['publictest']['accuracy'])} | `ferplus.publictest` |")
    au = s["au"]["ckplus"]
    rows.append(f"| Action Units on CK+ (19 AUs, subject folds): F1 of the bundled multi-label head "
                f"(best variant: one detector per AU, positives weighted) | {au['multilabel']['f1_mean']:.3f} "
                f"({au['single_balanced']['f1_mean']:.3f}) | `au.ckplus.multilabel` (`.single_balanced`) |")
    rows.append(f"| AU intensity 0-5 on CK+: MSE / ICC of the bundled regression (best variant: two-head hurdle) | "
                f"{au['intensity']['mse']:.3f} / {au['intensity']['icc']:.2f} ({au['intensity_hurdle']['mse']:.3f} / "
                f"{au['intensity_hurdle']['icc']:.2f}) | `au.ckplus.intensity` (`.intensity_hurdle`) |")
    pose = s.get("pose")
    if pose:
        rows.append(f"| head pose on faces turned by known angles (yaw to 45, pitch to 20): mean abs. error | "
                    f"{pose['mae_deg']:.1f} deg | `pose.mae_deg` |")
    m = s["micro"]["megc2019"]["flow"]
    rows.append(f"| micro-expressions, MEGC 2019 composite (leave one subject out): UF1 | {m['uf1']:.3f} | `micro.megc2019.flow` |")
    b = s["bench"]
    cols = s.get("au_columns_speed")
    if cols:
        model = f"`{cols['model']}`" if "model" in cols else "the default model"
        rows.append(f"| speed on a 2-core CPU: video frames/s end to end with {model} ({cols['host']}), all columns / "
                    f"emotions only; training vs Keras alternated on one CPU ({b.get('vs_keras_host', 'the same host')}) | "
                    f"{cols['frames_per_s']['full']:.0f} / "
                    f"{cols['frames_per_s']['emotions_only']:.0f}; {b['train_vs_keras']:.2f}x | "
                    f"`au_columns_speed.frames_per_s`, `bench.train_vs_keras` |")
    else:
        rows.append(f"| speed on a 2-core CPU: video frames/s end to end (`fer2013_bn`, emotions only); training vs "
                    f"Keras on the same CPU | {b['video_fps']:.0f}; {b['train_vs_keras']:.2f}x | "
                    f"`bench.video_fps`, `bench.train_vs_keras` |")
    r = s.get("reliability")
    if r:
        rows.append(f"| generated bad inputs answered as stated (no traceback, silent or lost output) | "
                    f"{r['corpus_cases'] - r['not_as_stated']} of {r['corpus_cases']} | `reliability` |")
    return "\n".join(rows)


def model_card_scores_table(s: dict) -> str | None:
    """The default model's scores for its model card (bundled beside the weights), from the summary;
    None (the card left as it is) when the summary has none."""
    d = s.get("default_model")
    if not d:
        return None
    h, strength = d["holdout"], (d.get("prior_strength") or {}).get("strength", 0.0)
    served = (s.get("ablation", {}).get("prior_strength", {}).get("rows", {})
              .get("strength_" + f"{strength:.1f}".replace(".", "_"), {}).get("holdout")) if strength else None
    rows = [(f"FER2013 Training hold-out (choice, calibration{'; no prior correction' if strength else ''})",
             h["n"], h["accuracy"], h["uar"], f"{h['ece_after']:.3f} (before the temperature: {h['ece_before']:.3f})")]
    if served:
        rows.append((f"the same, as served (class prior corrected at strength {strength:g}, chosen there)",
                     h["n"], served["accuracy"], served["uar"], f"{served['ece']:.3f}"))
    rows.append(("FER2013 PublicTest, scored once" + (", as served" if strength else ""), d["publictest"]["n"],
                 d["publictest"]["accuracy"], d["publictest"]["uar"], f"{d['publictest']['ece']:.3f}"))
    raw = d.get("publictest_uncorrected")
    if strength and raw:
        rows.append(("the same, no prior correction (`--balanced-strength 0`)", raw["n"], raw["accuracy"], raw["uar"],
                     f"{raw['ece']:.3f}"))
    for key, which in (("publictest_unseen", "without a pixel twin among the training faces (`fer2013_twins.py`)"),
                       ("publictest_distinct", "without a twin exact or near (re-cropped, re-toned) among the training faces")):
        part = d.get(key)
        if part:
            rows.append((f"the same, only the faces {which}", part["n"], part["accuracy"], part["uar"], f"{part['ece']:.3f}"))
    left_out = lambda e: ", ".join(e["left_out_classes"]) + " left out" if e["left_out_classes"] else ""  # noqa: E731
    ck, fp, ck6 = d["ckplus48"], d["ferplus_publictest"], d.get("ckplus48_data_classes")
    if ck:
        rows.append((f"CK+48, all, as-is (never trained on{'; ' + left_out(ck) if left_out(ck) else ''})",
                     ck["n"], ck["accuracy"], ck["uar"], f"{ck['ece']:.3f}"))
    if ck6:
        rows.append(("the same, predicting only the classes CK+48 has (`--data-classes-only`: never neutral)",
                     ck6["n"], ck6["accuracy"], ck6["uar"], f"{ck6['ece']:.3f}"))
    ck_other, twinned = d.get("ckplus48_other_subjects"), (d.get("twins") or {}).get("ckplus48_subjects_with_twin")
    if ck_other and twinned:
        rows.append((f"CK+48 as-is less subject(s) {', '.join(twinned)}, a photograph of whom FER2013 Training holds "
                     "(`fer2013_twins.py`)", ck_other["n"], ck_other["accuracy"], ck_other["uar"], f"{ck_other['ece']:.3f}"))
    if fp:
        rows.append((f"FER+ majority labels of PublicTest, as-is{' (' + left_out(fp) + ')' if left_out(fp) else ''}",
                     fp["n"], fp["accuracy"], fp["uar"], f"{fp['ece']:.3f}"))
    return "\n".join(["| data | faces | accuracy | balanced recall (UAR) | ECE |", "|---|---:|---:|---:|---:|"]
                     + [f"| {label} | {n:,} | {fmt_pct(acc)} | {fmt_pct(uar)} | {ece} |" for label, n, acc, uar, ece in rows])


def self_described_files() -> list[tuple[str, str, str]]:
    """(path, command, date or host) of every JSON file under results/ that names the command that
    wrote it (a ``provenance`` record, or ``command`` at the top), found by walking the folder; the
    per-fold and per-subject files inside run folders aside."""
    rows = []
    for path in sorted(RES.rglob("*.json")):
        rel = path.relative_to(RES)
        if rel.name == "summary.json" or any(part.startswith("fold") for part in rel.parts[:-1]):
            continue
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        record = d.get("provenance") if isinstance(d, dict) and isinstance(d.get("provenance"), dict) else d
        command = record.get("command") if isinstance(record, dict) else None
        if command:
            command = " && ".join(command) if isinstance(command, list) else str(command)
            rows.append((str(rel), command, str(record.get("date") or record.get("host") or record.get("cpu") or record.get("device") or "")))
    return rows


def files_table() -> str:
    lines = ["| file | command | date / host |", "|---|---|---|"]
    lines += [f"| `{p}` | `{c.replace('|', '/')}`{written_elsewhere(p, c)} | {w} |" for p, c, w in self_described_files()]
    return "\n".join(lines)


def written_elsewhere(path: str, command: str) -> str:
    """A note where the recorded command wrote this JSON file under another name (then copied here)."""
    words = command.split()
    out = words[words.index("--out") + 1] if "--out" in words[:-1] else ""
    return f" (wrote `{out}`, kept here as `{path}`)" if out.endswith(".json") and not out.endswith(path) else ""


def main() -> None:
    s = build()
    atomic_write_json(RES / "summary.json", s)
    for path, marker, table in ((ROOT / "README.md", "headline", headline_table(s)),
                                (RES / "README.md", "results", readme_table(s)),
                                (RES / "README.md", "files", files_table()),
                                (ROOT / "src" / "facsnet" / "weights" / "MODEL_CARD.md", "scores", model_card_scores_table(s))):
        if path.exists() and table is not None:
            text = path.read_text()
            new = re.sub(rf"(<!-- {marker}:begin -->\n).*?(<!-- {marker}:end -->)",
                         lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
            atomic_write_text(path, new)
    print(json.dumps(s, indent=1)[:3000])


if __name__ == "__main__":
    main()
