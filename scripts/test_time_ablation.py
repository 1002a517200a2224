"""The default model's test-time choices, one at a time: which members, mirror averaging, one-pixel
shifts, the calibrated temperature, the class-prior correction. Scored on the FER2013 Training
hold-out (never trained on; what chooses) and on all of CK+48 as-is (faces from another source;
reported, never used to choose). PublicTest is not looked at.

    python scripts/test_time_ablation.py [--model fer2013_vgg_ens] [--out results/ablation/test_time.json]

Every member's log-probabilities are computed once per view (the face, its mirror, and both moved by
one pixel left, right, up and down: 10 views); each row then combines them. They are kept in the user
cache (``<cache>/member_log_probs``, keyed by the member's weights and the view's pixels), so the other
tables of the default model (prior_strength, fer2013_twins, combination_rule, prior_adaptation) reuse
them. Writes JSON (with the command, host and date) and a markdown table beside it.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from facsnet.data.specs import HOLDOUT_SEED, dataset, holdout_split
from facsnet.models import load_model, read_checkpoint, resolve_weights
from facsnet.models.checkpoint import class_prior_of, inference_settings, served_prior_strength
from facsnet.provenance import provenance
from facsnet.training.evaluate import faces_of_known_classes
from facsnet.training.calibration import balanced_recall as uar
from facsnet.training.calibration import expected_calibration_error, negative_log_likelihood, prior_corrected
from facsnet.training.predict import predict_logits
from facsnet.utils import atomic_write_bytes, atomic_write_json, atomic_write_text, cache_dir

SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def shifted(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """uint8 (N, 1, H, W) read (dx, dy) pixels further on: the content moves by (-dx, -dy), the edge repeats."""
    h, w = images.shape[-2:]
    padded = F.pad(images.float(), (1, 1, 1, 1), mode="replicate")
    return padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w].to(torch.uint8)


def views(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The face and its mirror, then each one-pixel shift and its mirror."""
    out = {"face": images, "mirror": images.flip(-1)}
    for dx, dy in SHIFTS:
        moved = shifted(images, dx, dy)
        out[f"shift{dx:+d}{dy:+d}"], out[f"shift{dx:+d}{dy:+d}_mirror"] = moved, moved.flip(-1)
    return out


def as_ensemble(net):
    """``net`` as something with ``members``: an ensemble as it is, one network as an ensemble of one."""
    return net if hasattr(net, "members") else SimpleNamespace(members=[net])


def member_log_probs(ensemble, images: torch.Tensor, only: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """view -> (members, N, classes) log-probabilities of each member (temperature 1); ``only`` names
    the views to compute (default: all 10)."""
    out = {}
    for name, x in views(images).items():
        if only is not None and name not in only:
            continue
        out[name] = np.stack([cached_log_probs(net, x) for net in ensemble.members])
    return out


def _code_digest() -> str:
    """A digest of the code that turns pixels into a member's outputs (the model definitions, their input
    scaling, predict_logits): an entry made by other code is never read."""
    import facsnet.models
    import facsnet.training.predict

    files = sorted(Path(facsnet.models.__file__).parent.glob("*.py")) + [Path(facsnet.training.predict.__file__)]
    return hashlib.sha1(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]


def _key(net, x: torch.Tensor) -> str:
    """The cache key of one network on ``x``: its class and configuration, every weight (name, shape, dtype
    and bytes), the pixels (shape, dtype and bytes) and the code that runs them."""
    h = hashlib.sha1(f"{type(net).__name__}|{json.dumps(getattr(net, 'config', None), sort_keys=True, default=str)}"
                     f"|{_code_digest()}".encode())
    for name, t in sorted(net.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    x = x.detach().cpu().contiguous()
    h.update(f"x|{tuple(x.shape)}|{x.dtype}".encode())
    h.update(x.numpy().tobytes())
    return h.hexdigest()[:32]


def cached_log_probs(net, x: torch.Tensor) -> np.ndarray:
    """(N, classes) log-probabilities of one network on ``x``, from the user cache when this network (its
    weights, configuration and code) has seen these very pixels before; computed (and kept, atomically)
    otherwise. A damaged or misshapen entry is computed again."""
    path = cache_dir() / "member_log_probs" / f"{_key(net, x)}.npy"
    if path.is_file():
        try:
            lp = np.load(path)
            if lp.dtype == np.float32 and lp.ndim == 2 and lp.shape[0] == len(x):
                return lp
        except (OSError, ValueError, EOFError):
            pass
    lp = torch.log_softmax(predict_logits(net, x).float(), 1).numpy()
    buf = io.BytesIO()
    np.save(buf, lp)
    atomic_write_bytes(path, buf.getvalue())
    return lp


def combine(lp: dict[str, np.ndarray], members: list[int], view_names: list[str], temperature: float,
            prior=None, strength: float = 1.0) -> np.ndarray:
    """Mean over views of the tempered softmax of the members' mean probability (as the ensemble serves),
    corrected for the training class ``prior`` at ``strength`` when one is given."""
    probs = []
    for v in view_names:
        logit = np.log(np.exp(lp[v][members]).mean(0).clip(1e-30))
        z = logit / temperature
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        probs.append(p / p.sum(1, keepdims=True))
    p = np.mean(probs, 0)
    return prior_corrected(p, prior, strength) if prior is not None and strength else p


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probs.argmax(1) == labels))


def scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    return {"accuracy": round(accuracy(probs, labels), 4), "uar": round(uar(probs, labels), 4),
            "ece": round(expected_calibration_error(probs, labels), 4),
            "nll": round(negative_log_likelihood(probs, labels), 4)}


def labelled(model_classes: list[str], data) -> tuple[torch.Tensor, np.ndarray, dict]:
    """The faces of ``data`` whose class the model knows (as uint8 tensors), their labels in the
    model's order, and the count of faces left out per class."""
    sub, labels, left_out = faces_of_known_classes(data, model_classes)
    return sub.tensors()[0], labels, left_out


def table_parser(doc: str, out: str) -> argparse.ArgumentParser:
    """The options every table of the bundled model takes: ``--model`` and ``--out`` (the JSON file)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fer2013_vgg_ens")
    ap.add_argument("--out", default=out)
    return ap


def write_table(result: dict, out: str | Path, markdown) -> None:
    """``result`` as JSON at ``out`` and ``markdown(result)`` beside it (.md), both atomically; the markdown printed."""
    atomic_write_json(out, result)
    atomic_write_text(Path(out).with_suffix(".md"), markdown(result))
    print(markdown(result))


def face_and_mirror_outputs(ensemble, model_classes: list[str]) -> dict[str, tuple]:
    """For the FER2013 Training hold-out and all of CK+48 as-is: each member's log-probabilities on the
    face and on its mirror ((members, N, classes) each), the labels, and the faces left out per class."""
    _, held = holdout_split(dataset("fer2013", "train"), 0.1, HOLDOUT_SEED)
    out = {}
    for key, data in {"holdout": held, "ckplus48": dataset("ckplus48", "train")}.items():
        x, labels, left_out = labelled(model_classes, data)
        lp = member_log_probs(ensemble, x, only=("face", "mirror"))
        out[key] = (lp["face"], lp["mirror"], labels, left_out)
    return out


def rows_of(n_members: int, temperature: float, served_mirror: bool = True, served_strength: float = 0.0
            ) -> list[tuple[str, str, list[int], list[str], float, float]]:
    """(key, what changes, members, views, temperature, prior-correction strength) of each row; the default
    (every member, the calibrated temperature, the mirror image and the prior correction the model is
    served with) first. The single members and pairs are read raw: temperature 1, no prior correction."""
    mirror, every = ["face", "mirror"], ["face", "mirror"] + [f"shift{dx:+d}{dy:+d}{m}" for dx, dy in SHIFTS
                                                              for m in ("", "_mirror")]
    all_members = list(range(n_members))
    served = mirror if served_mirror else ["face"]
    s = served_strength
    rows = [("default", f"as served: every member, {'mirror-averaged' if served_mirror else 'no mirror'}, "
             "calibrated temperature" + (f", class prior corrected at strength {s:g}" if s else ""),
             all_members, served, temperature, s),
            (("no_mirror", "the face alone, no mirror image", all_members, ["face"], temperature, s)
             if served_mirror else ("mirror", "mirror-averaged", all_members, mirror, temperature, s))]
    if s:
        rows.append(("no_prior_correction", "probabilities not corrected for the training class prior "
                     "(--balanced-strength 0)", all_members, served, temperature, 0.0))
    rows += [("prior_corrected", "probabilities corrected for the training class prior in full (--balanced)",
              all_members, served, temperature, 1.0),
             ("shifts_1px", "also averaged over one-pixel shifts (10 passes per member)", all_members, every,
              temperature, s)]
    rows += [(f"member_{i + 1}", f"member {i + 1} alone (mirror-averaged, temperature 1)", [i], mirror, 1.0, 0.0)
             for i in range(n_members)]
    if n_members > 2:
        rows += [(f"members_{i + 1}_{j + 1}", f"members {i + 1} and {j + 1} (mirror-averaged, temperature 1)", [i, j],
                  mirror, 1.0, 0.0) for i in range(n_members) for j in range(i + 1, n_members)]
    rows.append(("all_members", "every member (mirror-averaged, temperature 1)", all_members, mirror, 1.0, 0.0))
    return rows


def markdown(result: dict) -> str:
    head = ("| row | what changes | hold-out acc | UAR | ECE | NLL | CK+48 acc | UAR | ECE |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(f"| `{r['row']}` | {r['change']} | {r['holdout']['accuracy']:.2%} | {r['holdout']['uar']:.2%} | "
                   f"{r['holdout']['ece']:.3f} | {r['holdout']['nll']:.3f} | {r['ckplus48']['accuracy']:.2%} | "
                   f"{r['ckplus48']['uar']:.2%} | {r['ckplus48']['ece']:.3f} |\n" for r in result["rows"])
    return (f"# Test-time choices of `{result['model']}`, one at a time\n\n{result['data']}\n\n{head}{body}\n"
            f"Members: {', '.join(result['members'])}. The temperature was fitted on this hold-out, so its ECE "
            f"here is in-sample; CK+48 is out-of-sample for every row.\n\n`{result['provenance']['command']}` "
            f"({result['provenance']['host']}, {result['provenance']['date']})\n")


def main() -> None:
    args = table_parser(__doc__, "results/ablation/test_time.json").parse_args()
    ckpt = read_checkpoint(resolve_weights(args.model))
    if ckpt["model_name"] != "ensemble":
        raise SystemExit(f"{args.model}: not an ensemble; this table compares an ensemble's members")
    net = load_model(args.model)
    temperature, served_mirror = inference_settings(ckpt)
    prior, served_strength = class_prior_of(ckpt), served_prior_strength(ckpt)
    _, held = holdout_split(dataset("fer2013", "train"), 0.1, HOLDOUT_SEED)
    sets = {"holdout": held, "ckplus48": dataset("ckplus48", "train")}
    scored = {}
    for key, data in sets.items():
        x, labels, left_out = labelled(list(net.class_names), data)
        scored[key] = (member_log_probs(net, x), labels, left_out)
    rows = []
    for key, change, members, view_names, t, strength in rows_of(len(net.members), temperature, served_mirror,
                                                                 served_strength):
        if strength and prior is None:
            print(f"{args.model}: no training class counts in the checkpoint; the prior_corrected row is left out")
            continue
        rows.append({"row": key, "change": change, "members": [m + 1 for m in members], "views": len(view_names),
                     **{s: scores(combine(lp, members, view_names, t, prior, strength), labels)
                        for s, (lp, labels, _) in scored.items()}})
    members = [f"{m['model_name']} epoch {m.get('epoch')} ({Path(m.get('source', '?')).parent.name})"
               for m in ckpt.get("members", [])]
    result = {"model": args.model, "members": members, "temperature": temperature,
              "data": f"FER2013 Training hold-out ({len(held)} faces, fixed seed); CK+48 all "
                      f"{len(scored['ckplus48'][1])} faces as-is (left out: {scored['ckplus48'][2]})",
              "rows": rows, "provenance": {**provenance(), "command": "python " + shlex.join(sys.argv)}}
    write_table(result, args.out, markdown)


if __name__ == "__main__":
    main()
