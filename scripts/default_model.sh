#!/usr/bin/env bash
# facsnet's default expression model (vgg48), end to end, on a CPU or a GPU:
#   bash scripts/default_model.sh train       # FER2013 Training less a fixed 10% hold-out (2,871 faces); resumable
#   bash scripts/default_model.sh finish      # calibrate on the hold-out, bundle, score PublicTest once, CK+48, FER+
# The run lives outside the work tree in ${FACSNET_RUNS:-~/facsnet-runs}/fer2013_vgg48 and checkpoints every
# epoch: the same `train` command after any stop goes on from the last finished epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUNS=${FACSNET_RUNS:-$HOME/facsnet-runs}
RUN=$RUNS/fer2013_vgg48
NAME=fer2013_vgg48
RECIPE=(--data fer2013 --val holdout --model vgg48 --epochs 50 --batch-size 64 --optimizer sgd --lr 0.02
        --weight-decay 5e-4 --schedule cosine --warmup-steps 500 --label-smoothing 0.1 --erase 0.5
        --degrade 0.15 --tta-flip --no-progress)
case "${1:-}" in
  train)
    bash scripts/background_train.sh fer2013_vgg48 train "${RECIPE[@]}" ;;
  finish)
    $PY -m facsnet calibrate --model "$RUN/final.pt" --data fer2013 --val holdout --tta-flip --out "$RUN/calibrated.pt"
    $PY scripts/bundle_weights.py "$RUN/calibrated.pt" "src/facsnet/weights/$NAME.pt"
    mkdir -p results/runs/default_model
    cp "$RUN/history.json" "results/runs/default_model/history.json"
    $PY - "$RUN/config.json" > results/runs/default_model/host.json <<'PY'
import json, sys, torch
from facsnet.hardware import cpu_info
run = json.load(open(sys.argv[1]))
device = (torch.cuda.get_device_name(0) if torch.cuda.is_available() else cpu_info().describe())
print(json.dumps({"device": f"{device}; torch {torch.__version__}; precision {run['precision']['precision']}"}))
PY
    for spec in fer2013:validation:publictest ckplus48::ckplus48 ferplus:validation:ferplus_publictest; do
      IFS=: read -r data split tag <<< "$spec"
      $PY -m facsnet evaluate --model "src/facsnet/weights/$NAME.pt" --data "$data${split:+:$split}" --json \
        > "results/eval/${NAME}_$tag.json"
    done ;;
  *) echo "usage: bash scripts/default_model.sh train|finish" >&2; exit 2 ;;
esac
