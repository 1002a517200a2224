#!/usr/bin/env bash
# The default recipe's ablation: each arm changes one choice of the recipe, everything else fixed.
#   bash scripts/recipe_ablation.sh            # runs the arms one after another, in the background
#   python scripts/ablation_table.py           # the table: results/ablation/recipe.json and .md
# The scale, by default one that a 2-core CPU runs in about 12 minutes an arm: vgg48_small (a member
# of the default model), a fixed, stratified quarter of FER2013 Training (less the 10% hold-out),
# 10 epochs, the warm-up at the same 3% of the steps as the full runs. Short runs favour less
# regularisation: at this scale the table says which choices matter early in training, not at 40-100
# epochs on all the data. On a GPU the full scale is, e.g.,
#   MODEL=vgg48 FRACTION=1 EPOCHS=50 WARMUP=500 FACSNET_RUNS=/tmp/runs bash scripts/recipe_ablation.sh
# Every arm is scored on the whole hold-out (mirror-averaged) and on CK+48 as-is.
# Runs live in ${FACSNET_RUNS:-~/facsnet-runs}/ablation/ARM and checkpoint every epoch: the same
# command after any stop goes on where it stopped (a finished arm has nothing left to train). Another
# scale needs another FACSNET_RUNS: a run folder refuses other settings.
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
PY=${PY:-.venv/bin/python}
export PYTHONPATH=$PWD/src      # this tree's code, also when run from a copy of the repository
RUNS=${FACSNET_RUNS:-$HOME/facsnet-runs}/ablation
mkdir -p "$RUNS"
BASE=(--model "${MODEL:-vgg48_small}" --data fer2013 --val holdout --train-fraction "${FRACTION:-0.25}"
      --epochs "${EPOCHS:-10}" --seed 0 --batch-size 64 --optimizer sgd --lr 0.02 --weight-decay 5e-4
      --schedule cosine --warmup-steps "${WARMUP:-30}"
      --label-smoothing 0.1 --erase 0.5 --degrade 0.15 --tta-flip --no-progress)
# ARM|the options that replace the recipe's (the last of a repeated option wins)
ARMS=(
  "recipe|"
  "recipe_seed1|--seed 1"
  "recipe_seed2|--seed 2"
  "adam_keras|--optimizer adam --lr 1e-3 --schedule keras --weight-decay 0"
  "no_label_smoothing|--label-smoothing 0"
  "no_erasing|--erase 0"
  "no_field_degradations|--degrade 0"
  "no_warmup|--warmup-steps 0"
  "mixup|--mixup 0.2"
  "fer2013_votes|--data fer2013-votes --soft-targets"
)
run_arms() {
  for arm in "${ARMS[@]}"; do
    name=${arm%%|*}; read -r -a extra <<< "${arm#*|}"
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    # a finished arm is skipped by facsnet itself (nothing left to train); a stopped one goes on
    echo "$(date -u +%FT%TZ) arm $name: ${extra[*]}"
    "$PY" -m facsnet train "${BASE[@]}" "${extra[@]}" --out "$RUNS/$name" || echo "arm $name failed"
  done
}
if [ "${1:-}" = "--foreground" ]; then
  run_arms
else
  nohup bash "$SELF" --foreground >> "$RUNS/ablation.log" 2>&1 &
  echo "ablation arms running in the background (pid $!): $RUNS, log $RUNS/ablation.log"
fi
