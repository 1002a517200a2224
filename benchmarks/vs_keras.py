"""facsnet against Keras 3 / TensorFlow (the paper's stack) on this CPU, measured side by side.

    pip install -e '.[bench]'        # Keras + TensorFlow (optional: without them only facsnet is measured)
    python benchmarks/vs_keras.py [--rounds 3] [--seconds 6] [--out results/bench_vs_keras.json]

Each round runs, one after another in fresh processes (so neither stack's thread pools or caches
help the other): facsnet's ``train`` with its defaults (the paper's CNN, batch 64, precision auto,
augmentation and batch gathering included, as ``facsnet train`` runs it) and its default classifier
(``FaceClassifier`` of the model ``facsnet analyze`` uses, precision and backend auto) at batch 1 and
256; then Keras ``train_on_batch`` of the same network at batch 64 and ``predict_on_batch`` of the
classifier's network (same layers, BatchNorm included) at batch 1 and 256, each in mixed bf16 and in
fp32; and, as a stricter reference, Keras predicting the bare paper CNN (no standardisation layer,
no BatchNorm), its fastest form. The figures are the medians over rounds; the ratios compare
facsnet with the faster Keras precision. It also prints what ``precision="auto"`` chose on this host, and why.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TRAIN_IMAGES = 4096   # a generated 48x48, 7-class training set: enough for two epochs of 64 steps


def _rate(step, batch: int, seconds: float, warmup: int = 5) -> float:
    for _ in range(warmup):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += batch
    return n / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------- facsnet workers
def facsnet_train(seconds: float) -> dict:
    """img/s of ``facsnet.training.train`` with default settings, from its own per-epoch timing."""
    import tempfile

    import numpy as np

    from facsnet.data.faceset import FaceSet
    from facsnet.hardware import resolve_precision
    from facsnet.training import TrainConfig, train

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (TRAIN_IMAGES, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, TRAIN_IMAGES)
    classes = ["anger", "disgust", "fear", "happy", "neutral", "sadness", "surprise"]
    data = FaceSet(images=images, labels=labels, class_names=classes, name="generated",
                   paths=[f"g{i}.png" for i in range(TRAIN_IMAGES)])
    epochs = max(2, round(seconds * 500 / TRAIN_IMAGES) + 1)   # the first epoch is warm-up
    with tempfile.TemporaryDirectory() as tmp:
        result = train(data, None, TrainConfig(epochs=epochs, progress=False), out_dir=tmp)
    rates = [row["img_per_s"] for row in result.history[1:]]
    return {"train_img_per_s": statistics.median(rates), "precision": resolve_precision("auto").to_dict()}


def facsnet_classify(seconds: float, model: str) -> dict:
    import numpy as np

    from facsnet.inference import FaceClassifier

    clf = FaceClassifier(model)
    out = {"backend": clf.backend, "precision": clf.precision, "parity_gap": clf.parity_gap}
    for batch in (1, 256):
        crops = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
        out[f"classify_b{batch}_img_per_s"] = _rate(lambda: clf.predict_proba(crops), batch, seconds / 2)
    return out


# ----------------------------------------------------------------------------- Keras workers
def keras_network(batchnorm: bool, standardise_input: bool = True):
    """The paper's CNN in Keras: [per-image standardisation,] 3 x (conv 5x5 [-> BatchNorm] -> ReLU ->
    max-pool 2x2) with 64/128/256 filters, dropout 0.25, dense 512, dropout 0.5, 7-way softmax."""
    import keras
    from keras import layers as L

    def standardise(x):
        mean = keras.ops.mean(x, axis=(1, 2, 3), keepdims=True)
        std = keras.ops.std(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) / (std + 1e-3)

    net = [keras.Input((48, 48, 1))] + ([L.Lambda(standardise)] if standardise_input else [])
    for width in (64, 128, 256):
        net += [L.Conv2D(width, 5, padding="same", use_bias=not batchnorm)]
        net += [L.BatchNormalization(), L.ReLU()] if batchnorm else [L.ReLU()]
        net += [L.MaxPooling2D(2)]
    net += [L.Dropout(0.25), L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(7),
            L.Activation("softmax", dtype="float32")]
    model = keras.Sequential(net)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def keras_worker(precision: str, seconds: float, batchnorm: bool) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    rng = np.random.default_rng(0)
    out = {"keras": keras.__version__}
    train_net = keras_network(batchnorm=False)           # facsnet train's default model has no BatchNorm
    x, y = rng.random((64, 48, 48, 1), dtype=np.float32), rng.integers(0, 7, 64)
    out["train_img_per_s"] = _rate(lambda: train_net.train_on_batch(x, y), 64, seconds)
    # the classifier's network, and the bare paper CNN (no standardisation layer, no BatchNorm: Keras' fastest)
    for suffix, net in (("", keras_network(batchnorm=batchnorm)), ("_bare", keras_network(False, False))):
        for batch in (1, 256):
            xb = rng.random((batch, 48, 48, 1), dtype=np.float32)
            out[f"classify_b{batch}{suffix}_img_per_s"] = _rate(lambda: net.predict_on_batch(xb), batch, seconds / 2)
    try:
        import tensorflow as tf

        out["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return out


# ----------------------------------------------------------------------------- driver
def _in_subprocess(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def keras_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("keras") is not None and importlib.util.find_spec("tensorflow") is not None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0, help="timed seconds per training measurement")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "facsnet-train":
            res = facsnet_train(float(rest[0]))
        elif kind == "facsnet-classify":
            res = facsnet_classify(float(rest[0]), rest[1])
        else:
            res = keras_worker(rest[0], float(rest[1]), rest[2] == "bn")
        print(json.dumps(res))
        return

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train_throughput import cpu_description, roofline

    import torch

    from facsnet.models.hub import load_model

    # the classifier compared is the paper's CNN with BatchNorm (fer2013_bn): a network the Keras side
    # builds layer for layer (the default model, an ensemble of VGG-style CNNs, has no Keras twin here)
    DEFAULT_MODEL = "fer2013_bn"
    batchnorm = bool(load_model(DEFAULT_MODEL).config.get("batchnorm"))
    have_keras = keras_available()
    print(f"host: {cpu_description()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    from facsnet.hardware import cpu_info

    roof = roofline(emulated_bf16=not cpu_info().bf16_flags())
    if not have_keras:
        print("Keras/TensorFlow not installed (pip install -e '.[bench]'): measuring facsnet only, no comparison")
    runs: dict[str, list[dict]] = {"facsnet_train": [], "facsnet_classify": [], "keras_bf16": [], "keras_fp32": []}
    for r in range(args.rounds):
        runs["facsnet_train"].append(_in_subprocess(["facsnet-train", str(args.seconds)]))
        runs["facsnet_classify"].append(_in_subprocess(["facsnet-classify", str(args.seconds), DEFAULT_MODEL]))
        if have_keras:
            for precision in ("bf16", "fp32"):
                runs[f"keras_{precision}"].append(_in_subprocess(["keras", precision, str(args.seconds),
                                                                  "bn" if batchnorm else "plain"]))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k} {v[-1].get('train_img_per_s', v[-1].get('classify_b256_img_per_s')):.0f}" for k, v in runs.items() if v))

    def median(kind: str, key: str) -> float:
        return round(statistics.median(run[key] for run in runs[kind]), 1)

    out = {"cpu": cpu_description(), "torch": torch.__version__, "rounds": args.rounds, "classifier_model": DEFAULT_MODEL,
           "precision_auto": runs["facsnet_train"][0]["precision"],
           "classifier": {k: runs["facsnet_classify"][0][k] for k in ("backend", "precision", "parity_gap")},
           "facsnet": {"train_img_per_s": median("facsnet_train", "train_img_per_s"),
                       "classify_b1_img_per_s": median("facsnet_classify", "classify_b1_img_per_s"),
                       "classify_b256_img_per_s": median("facsnet_classify", "classify_b256_img_per_s")},
           "roofline": roof, "command": "python benchmarks/vs_keras.py " + " ".join(sys.argv[1:])}
    out["facsnet"]["train_utilisation"] = round(out["facsnet"]["train_img_per_s"] / roof["machine_ceiling_img_per_s"], 3)
    print(f"precision auto: {out['precision_auto']['precision']} ({out['precision_auto']['reason']})")
    print(f"classifier: {DEFAULT_MODEL} on {out['classifier']['backend']} {out['classifier']['precision']} "
          f"(largest probability gap to fp32 on load: {out['classifier']['parity_gap']:.3f})")
    f = out["facsnet"]
    print(f"facsnet train (defaults)      {f['train_img_per_s']:8.1f} img/s ({f['train_utilisation']:.0%} of this CPU's "
          f"ceiling, {roof['machine_ceiling_img_per_s']:.0f} img/s: {roof['train_gflop_per_image_real']} GFLOP per image "
          f"at the best measured peak)")
    print(f"facsnet classify b1 / b256    {f['classify_b1_img_per_s']:8.1f} / {f['classify_b256_img_per_s']:.1f} img/s")
    if have_keras:
        out["keras"] = {p: {k: median(f"keras_{p}", k) for k in
                            ("train_img_per_s", "classify_b1_img_per_s", "classify_b256_img_per_s",
                             "classify_b1_bare_img_per_s", "classify_b256_bare_img_per_s")}
                        for p in ("bf16", "fp32")}
        out["keras_version"] = runs["keras_bf16"][0].get("keras")
        out["tensorflow_version"] = runs["keras_bf16"][0].get("tensorflow")
        best = {k: max(out["keras"]["bf16"][k], out["keras"]["fp32"][k]) for k in out["keras"]["bf16"]}
        out["ratio"] = {"train": round(f["train_img_per_s"] / best["train_img_per_s"], 2),
                        "classify_b1": round(f["classify_b1_img_per_s"] / best["classify_b1_img_per_s"], 2),
                        "classify_b256": round(f["classify_b256_img_per_s"] / best["classify_b256_img_per_s"], 2),
                        "classify_b1_vs_bare": round(f["classify_b1_img_per_s"] / best["classify_b1_bare_img_per_s"], 2),
                        "classify_b256_vs_bare": round(f["classify_b256_img_per_s"] / best["classify_b256_bare_img_per_s"], 2)}
        for p in ("bf16", "fp32"):
            k = out["keras"][p]
            print(f"keras {p} train / b1 / b256   {k['train_img_per_s']:8.1f} / {k['classify_b1_img_per_s']:.1f} / "
                  f"{k['classify_b256_img_per_s']:.1f} img/s (bare CNN b1 / b256: {k['classify_b1_bare_img_per_s']:.1f} / "
                  f"{k['classify_b256_bare_img_per_s']:.1f})")
        print("facsnet / faster Keras: " + ", ".join(f"{k} {v:.2f}x" for k, v in out["ratio"].items()))
    if args.out:
        from facsnet.utils import atomic_write_json

        atomic_write_json(args.out, out)
        print(f"written {args.out}")


if __name__ == "__main__":
    main()
