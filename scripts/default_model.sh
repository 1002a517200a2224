#!/usr/bin/env bash
# facsnet's default expression model, end to end, on a CPU or a GPU:
#   bash scripts/default_model.sh train A     # member A: vgg48, 50 epochs      } FER2013 Training less a fixed 10%
#   bash scripts/default_model.sh train B     # member B: vgg48_small, 40 epochs } hold-out (2,871 faces); resumable
#   bash scripts/default_model.sh finish      # ensemble, calibrate, choose on the hold-out, bundle, score once
#   bash scripts/default_model.sh train C     # member C: vgg48 again (seed 1), 55 epochs
#   bash scripts/default_model.sh grow C      # the bundled ensemble, C alone, and every sub-ensemble of their
#                                             # members that fits one file, calibrated; the hold-out chooses
#   bash scripts/default_model.sh train D     # member D: vgg48 (seed 2), 90 epochs; then grow D
#   bash scripts/default_model.sh prune       # the sub-ensemble that fits one bundled file, chosen on the hold-out
#   bash scripts/default_model.sh train E     # member E: vgg48 (seed 3), 150 epochs (2.7 h on a 2-core AMX CPU);
#                                             # then grow E
#   bash scripts/default_model.sh train F     # member F: vgg48 (seed 4), 60 epochs, distilled from the bundled
#                                             # D + E (a copy kept beside the runs); then grow F
#   bash scripts/default_model.sh train G     # member G: vgg48 (seed 5), 90 epochs as D, no teacher (about 1.8 h on a
#                                             # 2-core AMX CPU); then grow G
#   bash scripts/default_model.sh train H     # member H: vgg48 (seed 6), 90 epochs as G; then pool again
#   bash scripts/default_model.sh pool        # every member still at hand (A, B, C, D as bundled at cdcd789; D, E, G
#                                             # at d977d8e), and every sub-ensemble of them that fits one bundled
#                                             # file with int8 weights; the hold-out chooses (scripts/choose_members.py);
#                                             # H too once its run has finished
#   bash scripts/default_model.sh tables      # then the test-time, combination and prior-adaptation tables,
#                                             # summary.json, the README table and the curves, for the new model
# Runs live outside the work tree in ${FACSNET_RUNS:-~/facsnet-runs} and checkpoint every epoch: the same
# `train` command after any stop goes on from the last finished epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUNS=${FACSNET_RUNS:-$HOME/facsnet-runs}
NAME=fer2013_vgg_ens
# the bundled model scored once: PublicTest, CK+48 (predicting all seven classes, and only the six both share) and
# FER+ PublicTest, as-is (PublicTest also without the class-prior correction). First the hold-out (with an argument:
# its faces without a twin, exact or near, in the training part, as pool chooses) chooses how far its probabilities are
# corrected for FER2013's class prior (the best balanced recall that keeps the uncorrected accuracy) and the bundled
# file records it; last, PublicTest's twins and the rest are scored apart
score_once() {
  # pool chooses on the hold-out's faces without a twin (exact or near) in the training part, and so does its prior strength
  $PY scripts/prior_strength.py --model "$NAME" --record ${1:+--distinct-only}
  for spec in fer2013:validation:publictest fer2013:validation:publictest_uncorrected:--balanced-strength=0 \
              ckplus48::ckplus48 ckplus48::ckplus48_data_classes:--data-classes-only \
              ferplus:validation:ferplus_publictest; do
    IFS=: read -r data split tag flags <<< "$spec"
    # written whole or not at all: a stopped evaluation leaves the earlier file, not an empty one
    out="results/eval/${NAME}_$tag.json"
    if $PY -m facsnet evaluate --model "src/facsnet/weights/$NAME.pt" --data "$data${split:+:$split}" $flags --json \
         > "$out.partial"; then
      mv "$out.partial" "$out"
    else
      rm -f "$out.partial"; echo "score_once: the evaluation on $data failed; $out is left as it was" >&2; exit 1
    fi
  done
  $PY scripts/fer2013_twins.py --model "$NAME"
}
# the host(s) a run trained on, into a host.json beside the choice records: from the run's provenance.json
# (one record per start), else this machine
record_host() {
  $PY - "$RUNS/$1" "$1" "$2" <<'PY'
import json, sys, torch
from pathlib import Path
from facsnet.hardware import cpu_info
from facsnet.utils import atomic_write_text
folder, run, path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
precision = json.loads((folder / "config.json").read_text())["precision"]["precision"]
starts = json.loads((folder / "provenance.json").read_text())["starts"] if (folder / "provenance.json").exists() else []
hosts = sorted({s["host"] + ("" if s.get("device", "cpu") == "cpu" else f" ({s['device']})") for s in starts})
host = json.loads(path.read_text()) if path.exists() else {}
host.setdefault("runs", {})[run] = f"{' + '.join(hosts) or cpu_info().describe()}; torch {torch.__version__}; precision {precision}"
atomic_write_text(path, json.dumps(host, indent=1))
PY
}
RECIPE=(--data fer2013 --val holdout --batch-size 64 --optimizer sgd --lr 0.02 --weight-decay 5e-4
        --schedule cosine --warmup-steps 500 --label-smoothing 0.1 --erase 0.5 --degrade 0.15 --tta-flip --no-progress)
case "${1:-} ${2:-}" in
  "train A")
    bash scripts/background_train.sh fer2013_vgg48 train --model vgg48 --epochs 50 --seed 0 "${RECIPE[@]}" ;;
  "train B")
    bash scripts/background_train.sh fer2013_vgg48_small train --model vgg48_small --epochs 40 --seed 1 "${RECIPE[@]}" ;;
  "train C")
    bash scripts/background_train.sh fer2013_vgg48_s1 train --model vgg48 --epochs 55 --seed 1 "${RECIPE[@]}" ;;
  "train D")
    bash scripts/background_train.sh fer2013_vgg48_s2_e90 train --model vgg48 --epochs 90 --seed 2 "${RECIPE[@]}" ;;
  "train E")
    bash scripts/background_train.sh fer2013_vgg48_s3_e150 train --model vgg48 --epochs 150 --seed 3 "${RECIPE[@]}" ;;
  "train F")
    # the teacher: the bundled model when F began (D + E), copied so that a later grow cannot change it mid-run
    [ -e "$RUNS/teacher_F.pt" ] || cp "src/facsnet/weights/$NAME.pt" "$RUNS/teacher_F.pt"
    bash scripts/background_train.sh fer2013_vgg48_s4_kd train --model vgg48 --epochs 60 --seed 4 "${RECIPE[@]}" \
      --teacher "$RUNS/teacher_F.pt" --distill-weight 0.9 --distill-temperature 4 ;;
  "train G")
    # a third network trained on its own as long as D: F, a student of D + E, repeated their errors
    bash scripts/background_train.sh fer2013_vgg48_s5_e90 train --model vgg48 --epochs 90 --seed 5 "${RECIPE[@]}" ;;
  "train H")
    # int8 storage left room for one more vgg48 beside the five bundled (11.9 of 16 MiB)
    bash scripts/background_train.sh fer2013_vgg48_s6_e90 train --model vgg48 --epochs 90 --seed 6 "${RECIPE[@]}" ;;
  "grow C"|"grow D"|"grow E"|"grow F"|"grow G")
    OUT=results/runs/default_model
    case $2 in C) run=fer2013_vgg48_s1 ;; D) run=fer2013_vgg48_s2_e90 ;; E) run=fer2013_vgg48_s3_e150 ;;
               F) run=fer2013_vgg48_s4_kd ;; G) run=fer2013_vgg48_s5_e90 ;; esac
    $PY -m facsnet calibrate --model "$RUNS/$run/final.pt" --data fer2013 --tta-flip --out "$RUNS/$run/calibrated.pt"
    cp "$RUNS/$run/history.json" "$OUT/history_$run.json"
    record_host "$run" "$OUT/host.json"
    $PY -m facsnet ensemble "src/facsnet/weights/$NAME.pt" "$RUNS/$run/final.pt" --out "$RUNS/${NAME}_grown.pt"
    cp "src/facsnet/weights/$NAME.pt" "$RUNS/${NAME}_before_grow.pt"
    # candidates: the bundled model, the new member alone, and every sub-ensemble of the bundled members and
    # the new one that fits one bundled file (all of them together among those when they fit), each calibrated
    # (none fits: the choice is between the bundled model and the new member alone)
    $PY scripts/prune_ensemble.py "$RUNS/${NAME}_grown.pt" "$RUNS/${NAME}_grown_$2" > "$RUNS/${NAME}_grown_$2.txt" \
      || echo "grow: no sub-ensemble with $2 fits one bundled file" >&2
    mapfile -t SUBSETS < "$RUNS/${NAME}_grown_$2.txt"
    CHOSEN=$($PY scripts/choose_on_holdout.py "$OUT/holdout_choice_grow_$2.json" "$RUNS/${NAME}_before_grow.pt" \
               "$RUNS/$run/calibrated.pt" ${SUBSETS[@]+"${SUBSETS[@]}"})
    if [ "$CHOSEN" != "$RUNS/${NAME}_before_grow.pt" ]; then
      # the bundled model's choice record becomes the grow step's; the first choice (A, B, A+B) is kept beside it
      # (bundled first: a model over one file's limit stops here, with the bundled model and its record as they were)
      $PY scripts/bundle_weights.py "$CHOSEN" "src/facsnet/weights/$NAME.pt"
      [ -e "$OUT/holdout_choice_ab.json" ] || cp "$OUT/holdout_choice.json" "$OUT/holdout_choice_ab.json"
      cp "$OUT/holdout_choice_grow_$2.json" "$OUT/holdout_choice.json"
      score_once
    else
      echo "the hold-out keeps $CHOSEN: the bundled model stays" >&2
    fi ;;
  "finish "*)
    OUT=results/runs/default_model
    mkdir -p "$OUT"
    for m in A:fer2013_vgg48 B:fer2013_vgg48_small; do
      run=${m#*:}
      $PY -m facsnet calibrate --model "$RUNS/$run/final.pt" --data fer2013 --tta-flip --out "$RUNS/$run/calibrated.pt"
      cp "$RUNS/$run/history.json" "$OUT/history_$run.json"
    done
    $PY -m facsnet ensemble "$RUNS/fer2013_vgg48/final.pt" "$RUNS/fer2013_vgg48_small/final.pt" --out "$RUNS/$NAME.pt"
    $PY -m facsnet calibrate --model "$RUNS/$NAME.pt" --data fer2013 --tta-flip --out "$RUNS/${NAME}_calibrated.pt"
    # the choice: best hold-out accuracy among the calibrated candidates (PublicTest is not looked at)
    CHOSEN=$($PY scripts/choose_on_holdout.py "$OUT/holdout_choice.json" \
               "$RUNS/fer2013_vgg48/calibrated.pt" "$RUNS/fer2013_vgg48_small/calibrated.pt" "$RUNS/${NAME}_calibrated.pt")
    $PY scripts/bundle_weights.py "$CHOSEN" "src/facsnet/weights/$NAME.pt"
    $PY - "$RUNS/fer2013_vgg48/config.json" > "$OUT/host.json" <<'PY'
import json, sys, torch
from facsnet.hardware import cpu_info
run = json.load(open(sys.argv[1]))
device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else cpu_info().describe()
print(json.dumps({"device": f"{device}; torch {torch.__version__}; precision {run['precision']['precision']}"}))
PY
    score_once ;;
  "prune "*)
    # one bundled file stays under BUNDLE_LIMIT_BYTES (facsnet/models/hub.py): every sub-ensemble of the
    # bundled model that fits, calibrated, and the hold-out's choice among them
    OUT=results/runs/default_model
    cp "src/facsnet/weights/$NAME.pt" "$RUNS/${NAME}_before_prune.pt"
    $PY scripts/prune_ensemble.py "$RUNS/${NAME}_before_prune.pt" "$RUNS/${NAME}_pruned" > "$RUNS/${NAME}_pruned.txt"
    mapfile -t CANDIDATES < "$RUNS/${NAME}_pruned.txt"
    [ ${#CANDIDATES[@]} -gt 0 ] || { echo "prune: no sub-ensemble of two or more members fits one bundled file" >&2; exit 1; }
    CHOSEN=$($PY scripts/choose_on_holdout.py "$OUT/holdout_choice_prune.json" "${CANDIDATES[@]}")
    $PY scripts/bundle_weights.py "$CHOSEN" "src/facsnet/weights/$NAME.pt"
    cp "$OUT/holdout_choice_prune.json" "$OUT/holdout_choice.json"
    score_once ;;
  "tables "*)
    # after a new bundled model: every table that reads it, then summary.json, the README table and the curves
    # (the test-time table takes about 25 minutes on a 2-core AVX2 CPU, the other two about 8 each)
    $PY scripts/test_time_ablation.py
    $PY scripts/combination_rule.py
    $PY scripts/prior_adaptation.py
    $PY scripts/collect_results.py
    $PY scripts/plot_curves.py ;;
  "pool "*)
    # F was never bundled and its run folder is gone; the others live on in the bundled files git keeps
    OUT=results/runs/default_model
    mkdir -p "$RUNS"
    git show cdcd789:src/facsnet/weights/$NAME.pt > "$RUNS/${NAME}_ABCD.pt"
    git show d977d8e:src/facsnet/weights/$NAME.pt > "$RUNS/${NAME}_DEG.pt"
    MORE=()
    if [ -e "$RUNS/fer2013_vgg48_s6_e90/final.pt" ]; then       # member H, once trained
      MORE=("$RUNS/fer2013_vgg48_s6_e90/final.pt")
      cp "$RUNS/fer2013_vgg48_s6_e90/history.json" "$OUT/history_fer2013_vgg48_s6_e90.json"
      record_host fer2013_vgg48_s6_e90 "$OUT/host.json"
    fi
    $PY -m facsnet ensemble "$RUNS/${NAME}_ABCD.pt" "$RUNS/${NAME}_DEG.pt" ${MORE[@]+"${MORE[@]}"} --out "$RUNS/${NAME}_pool.pt"
    # chosen on the hold-out faces without a twin, exact or near, in the training part (scripts/fer2013_twins.py: the
    # longest-trained members gain on the twins what they do not gain on new faces)
    $PY scripts/choose_members.py "$RUNS/${NAME}_pool.pt" "$OUT/holdout_choice_pool.json" "$RUNS/${NAME}_pool_chosen.pt" \
      --int8 --distinct-only
    cp "$OUT/holdout_choice_pool.json" "$OUT/holdout_choice.json"     # the choice behind the bundled file, as grow and prune leave it
    $PY scripts/bundle_weights.py "$RUNS/${NAME}_pool_chosen.pt" "src/facsnet/weights/$NAME.pt" --int8
    score_once unseen ;;
  *) echo "usage: bash scripts/default_model.sh train A|B|C|D|E|F|G|H, finish, grow C|D|E|F|G, prune, or pool" >&2; exit 2 ;;
esac
