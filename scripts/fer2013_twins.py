"""FER2013 holds the same picture more than once: how many PublicTest and hold-out faces have a twin (the
very same 48x48 pixels, or those of its mirror image: training flips faces) among the faces the default
model's members trained on, and how the default model scores on the faces without one. Exact twins are
found by hashing each decoded face's pixels; near twins (the same photograph re-cropped a little, re-toned or
re-compressed) by the correlation of the faces' coarse appearance (`facsnet.data.splits.near_twins`, at
>= 0.94, the level above which pairs looked at by eye were one photograph). "Distinct" faces have neither.
The members trained on FER2013 Training less the fixed hold-out (`train --val holdout`); a PublicTest or
hold-out face is a twin when its pixels appear there. CK+48, scored as-is, is searched the same way: FER2013
Training holds a copy of a CK+ photograph, so the model is scored on CK+48 also less every subject that has a
face with a twin there. PublicTest is scored as it always is (every face) and, from the same predictions, split into twins
and the rest; nothing is chosen on it. The hold-out, which chose the members, is split the same way, for
the members alone and the served model: a member that learned its training faces by heart gains on twins.

    python scripts/fer2013_twins.py [--model fer2013_vgg_ens] [--out results/eval/fer2013_twins.json]

Writes JSON (with the command, host and date) and a markdown table beside it.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_time_ablation import (as_ensemble, combine, labelled, member_log_probs, scores, table_parser,  # noqa: E402
                                write_table)

from facsnet.data.faceset import FaceSet  # noqa: E402
from facsnet.data.specs import HOLDOUT_SEED, dataset, holdout_split  # noqa: E402
from facsnet.data.splits import NEAR_TWIN_CORRELATION, pixel_digest, pixel_twins, twin_masks  # noqa: E402
from facsnet.models import load_model, read_checkpoint, resolve_weights  # noqa: E402
from facsnet.models.checkpoint import class_prior_of, served_prior_strength  # noqa: E402
from facsnet.provenance import provenance  # noqa: E402
from facsnet.training.evaluate import faces_of_known_classes  # noqa: E402


VIEWS = ["face", "mirror"]   # as the model is served: the face and its mirror image


def label_disagreements(faces: FaceSet, seen: FaceSet) -> int:
    """Twins none of whose training copies carries their label (FER2013 labels some copies differently)."""
    labels_of = {}
    for image, y in zip(seen.images, seen.labels):
        for copy in (image, image[:, ::-1]):       # a mirrored copy is a twin too
            labels_of.setdefault(pixel_digest(copy), set()).add(seen.class_names[y])
    return int(sum(1 for image, y in zip(faces.images, faces.labels)
                   if faces.class_names[y] not in labels_of.get(pixel_digest(image), {faces.class_names[y]})))


CORRELATION_STEPS = (0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90)


def split_scores(probs: np.ndarray, labels: np.ndarray, twin: np.ndarray, near: np.ndarray) -> dict:
    """Scores on all faces, the exact twins and the rest ("unseen"), the exact-or-near twins and the rest
    ("distinct")."""
    parts = {"all": np.ones(len(labels), dtype=bool), "twins": twin, "unseen": ~twin,
             "twins_or_near": near, "distinct": ~near}
    return {name: {"n": int(part.sum()), **scores(probs[part], labels[part])} for name, part in parts.items()}


def near_twin_curve(best: np.ndarray, twin: np.ndarray) -> dict:
    """How many faces have a twin, exact or at each appearance correlation: where the threshold sits."""
    return {f"{t:.2f}": int((twin | (best >= t)).sum()) for t in CORRELATION_STEPS}


def ckplus48_part(nets, members: list[int], classes: list[str], trained_on: FaceSet, temperature: float, prior,
                  strength: float) -> dict:
    """CK+48 as-is against the members' training faces: its faces with a twin there (exact or near), their
    subjects, and the served model on all of CK+48 and on the subjects without such a face."""
    faces, labels, left_out = faces_of_known_classes(dataset("ckplus48", "train"), classes)
    exact, near, best = twin_masks(faces, trained_on)
    subjects = sorted({str(s) for s in np.asarray(faces.subjects)[near]})
    other = ~np.isin(np.asarray(faces.subjects), subjects)
    probs = combine(member_log_probs(nets, faces.tensors()[0], only=VIEWS), members, VIEWS, temperature, prior, strength)
    return {"left_out": left_out, "twins": int(exact.sum()), "twins_or_near": int(near.sum()),
            "subjects_with_twin": subjects, "curve": near_twin_curve(best, exact),
            "all": {"n": int(len(labels)), **scores(probs, labels)},
            "other_subjects": {"n": int(other.sum()), **scores(probs[other], labels[other])}}


def markdown(result: dict) -> str:
    def row(label, s):
        return (f"| {label} | {s['all']['accuracy']:.2%} ({s['all']['n']}) | {s['twins']['accuracy']:.2%} "
                f"({s['twins']['n']}) | {s['unseen']['accuracy']:.2%} ({s['unseen']['n']}) | "
                f"{s['unseen']['uar']:.2%} | {s['twins_or_near']['accuracy']:.2%} ({s['twins_or_near']['n']}) | "
                f"{s['distinct']['accuracy']:.2%} ({s['distinct']['n']}) | {s['distinct']['uar']:.2%} |")
    c = result["counts"]
    lines = [f"# FER2013 twins and `{result['model']}` on the faces without one", "",
             f"PublicTest: {c['publictest_twins']} of {c['publictest']} faces have a twin among the members' "
             f"training faces ({c.get('publictest_mirror_only_twins', 0)} of them as a mirror image only; "
             f"{c['publictest_twin_label_differs']} labelled otherwise there); "
             f"{c['publictest_twins_full_train']} among all of FER2013 Training. Hold-out: {c['holdout_twins']} of "
             f"{c['holdout']} ({c.get('holdout_mirror_only_twins', 0)} as a mirror image only; "
             f"{c['holdout_twin_label_differs']} labelled otherwise).", "",
             f"Near twins (the same photograph re-cropped a little, re-toned or re-compressed: appearance "
             f"correlation >= {result['near_twin_correlation']}) add to these: PublicTest {c['publictest_twins_or_near']} "
             f"faces with a twin exact or near, hold-out {c['holdout_twins_or_near']}. Faces with a twin at each "
             f"correlation, PublicTest: " + ", ".join(f"{t}: {n}" for t, n in result["publictest_curve"].items()) + ".",
             "",
             "| model, set | accuracy, all (faces) | exact twins | no exact twin (unseen) | UAR, unseen "
             "| exact or near twins | no twin (distinct) | UAR, distinct |", "|---|---|---|---|---|---|---|---|",
             row("served, PublicTest", result["publictest"]), row("served, hold-out", result["holdout"])]
    lines += [row(f"{m['member']} alone, hold-out", m["holdout"]) for m in result["members"]]
    ck = result.get("ckplus48")
    if ck:
        lines += ["", f"CK+48 as-is ({ck['all']['n']} faces; left out: {ck['left_out']}): {ck['twins']} faces with an "
                  f"exact twin among the members' training faces, {ck['twins_or_near']} with a twin exact or near, of "
                  f"subject(s) {', '.join(ck['subjects_with_twin']) or 'none'}. Served: {ck['all']['accuracy']:.2%} on all, "
                  f"{ck['other_subjects']['accuracy']:.2%} (UAR {ck['other_subjects']['uar']:.2%}) on the "
                  f"{ck['other_subjects']['n']} faces of the other subjects. Faces with a twin at each correlation: "
                  + ", ".join(f"{t}: {n}" for t, n in ck["curve"].items()) + "."]
    lines += ["", "Members alone: mirror-averaged, temperature 1, uncorrected. Served: as `facsnet evaluate` "
              "scores the model (mirror-averaged, its temperature, class prior corrected at its strength).", "",
              f"`{result['provenance']['command']}` ({result['provenance']['host']}, {result['provenance']['date']})"]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = table_parser(__doc__, "results/eval/fer2013_twins.json").parse_args()
    ckpt = read_checkpoint(resolve_weights(args.model))
    net = load_model(args.model)
    classes = list(net.class_names)
    prior, strength, temperature = class_prior_of(ckpt), served_prior_strength(ckpt), float(net.temperature)
    train_all = dataset("fer2013", "train")
    trained_on, held = holdout_split(train_all, 0.1, HOLDOUT_SEED)
    public = dataset("fer2013", "validation")
    counts = {"publictest": len(public), "holdout": len(held)}
    result = {"model": args.model, "temperature": temperature, "prior_strength": strength,
              "near_twin_correlation": NEAR_TWIN_CORRELATION}
    nets = as_ensemble(net)
    members = list(range(len(nets.members)))
    outputs = {}
    for key, data in (("publictest", public), ("holdout", held)):
        x, labels, left_out = labelled(classes, data)
        if any(left_out.values()):
            raise SystemExit(f"{args.model} lacks classes of {data.name}: {left_out}")
        twin, near, best = twin_masks(data, trained_on)
        result[f"{key}_curve"] = near_twin_curve(best, twin)
        counts[f"{key}_twins"] = int(twin.sum())
        counts[f"{key}_twins_or_near"] = int(near.sum())
        counts[f"{key}_mirror_only_twins"] = int((twin & ~pixel_twins(data, trained_on, mirrored=False)).sum())
        counts[f"{key}_twin_label_differs"] = label_disagreements(data, trained_on)
        lp = member_log_probs(nets, x, only=VIEWS)
        outputs[key] = (lp, labels, twin, near)
        result[key] = split_scores(combine(lp, members, VIEWS, temperature, prior, strength), labels, twin, near)
    counts["publictest_twins_full_train"] = int(pixel_twins(public, train_all).sum())
    result["ckplus48"] = ckplus48_part(nets, members, classes, trained_on, temperature, prior, strength)
    lp, labels, twin, near = outputs["holdout"]
    names = [f"{m['model_name']} epoch {m.get('epoch')}" for m in ckpt.get("members", [])] or [args.model]
    result["members"] = [{"member": f"member {i + 1}: {name}",
                          "holdout": split_scores(combine(lp, [i], VIEWS, 1.0), labels, twin, near)}
                         for i, name in enumerate(names)]
    result["counts"] = counts
    result["provenance"] = {**provenance(), "command": "python " + shlex.join(sys.argv)}
    write_table(result, args.out, markdown)


if __name__ == "__main__":
    main()
