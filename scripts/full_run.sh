#!/usr/bin/env bash
# The full training and scoring run behind results/ (FER2013, FER+, CK+ 10-fold under both
# protocols, from scratch and from the FER2013 weights). Ran once on one GPU (see results/README.md);
# on a CPU it is the same commands, hours instead of minutes.
#
#   FACSNET_DATA=../shared/data RUNS=runs/full bash scripts/full_run.sh
#
# SCALE multiplies every epoch count (SCALE=0.02 is a smoke test); FER_MIN caps FER training minutes.
set -euo pipefail
RUNS=${RUNS:-runs/full}
SCALE=${SCALE:-1}
FER_MIN=${FER_MIN:-4.5}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
ep() { $PY -c "print(max(1, round($1 * $SCALE)))"; }
fx() { $PY -m facsnet -q "$@"; }
mkdir -p "$RUNS/logs"
trap 'kill $(jobs -p) 2>/dev/null' EXIT

# Decode every dataset once (the cache makes the parallel jobs below start fast).
$PY -c "
from facsnet.data import load_dataset
for n, s in [('ckplus48','train'),('fer2013','train'),('fer2013','validation'),('ferplus','train'),('ferplus','validation')]:
    print(load_dataset(n, s).summary())
"

# 1. FER2013 / FER+ models (the paper's CNN; a BatchNorm variant beside it), in parallel.
fx train --data fer2013 --epochs "$(ep 200)" --max-minutes "$FER_MIN" --no-progress --out "$RUNS/fer2013" > "$RUNS/logs/fer2013.log" 2>&1 &
P1=$!
fx train --data ferplus --epochs "$(ep 200)" --max-minutes "$FER_MIN" --no-progress --out "$RUNS/ferplus" > "$RUNS/logs/ferplus.log" 2>&1 &
fx train --data fer2013 --label-smoothing 0.1 --epochs "$(ep 200)" --max-minutes "$FER_MIN" --no-progress --out "$RUNS/fer2013_ls" > "$RUNS/logs/fer2013_ls.log" 2>&1 &
fx train --data fer2013 --model breuer2017_bn --epochs "$(ep 200)" --max-minutes "$FER_MIN" --no-progress --out "$RUNS/fer2013_bn" > "$RUNS/logs/fer2013_bn.log" 2>&1 &

# 2. CK+48 10-fold from scratch, both protocols (while the FER models train).
fx cv --data ckplus48 --protocol subject --epochs "$(ep 150)" --no-progress --out "$RUNS/ck_subject_scratch" > "$RUNS/logs/ck_subject_scratch.log" 2>&1 &
fx cv --data ckplus48 --protocol image --epochs "$(ep 150)" --no-progress --out "$RUNS/ck_image_scratch" > "$RUNS/logs/ck_image_scratch.log" 2>&1 &
wait $P1

# 3. CK+48 10-fold starting from the FER2013 weights (FER2013 shares no subject with CK+).
INIT="$RUNS/fer2013/best.pt"
fx cv --data ckplus48 --protocol subject --init "$INIT" --epochs "$(ep 60)" --lr 3e-4 --no-progress --out "$RUNS/ck_subject_fer" > "$RUNS/logs/ck_subject_fer.log" 2>&1 &
fx cv --data ckplus48 --protocol subject --init "$INIT" --epochs "$(ep 60)" --lr 1e-3 --no-progress --out "$RUNS/ck_subject_fer_lr1e-3" > "$RUNS/logs/ck_subject_fer_lr1e-3.log" 2>&1 &
fx cv --data ckplus48 --protocol image --init "$INIT" --epochs "$(ep 60)" --lr 3e-4 --no-progress --out "$RUNS/ck_image_fer" > "$RUNS/logs/ck_image_fer.log" 2>&1 &
# The bundled CK+ model: all 981 faces, from the FER2013 weights, no held-out part.
fx train --data ckplus48 --val none --init "$INIT" --epochs "$(ep 60)" --lr 3e-4 --no-progress --out "$RUNS/ckplus48" > "$RUNS/logs/ckplus48.log" 2>&1 &
wait

# 4. Scores of the FER models on PublicTest, plain and with the mirror image.
for m in fer2013 fer2013_ls fer2013_bn; do
  for t in "" "--tta-flip"; do
    fx evaluate --model "$RUNS/$m/best.pt" --data fer2013:validation --json $t > "$RUNS/$m/eval_publictest${t:+_tta}.json"
  done
done
for t in "" "--tta-flip"; do
  fx evaluate --model "$RUNS/ferplus/best.pt" --data ferplus:validation --json $t > "$RUNS/ferplus/eval_publictest${t:+_tta}.json"
done
echo "full run done"
