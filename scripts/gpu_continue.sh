#!/usr/bin/env bash
# GPU job: continue the paper CNN's FER2013 run (163 epochs, bundled as `fer2013`) on the
# same Keras time-decay schedule, and rerun the CK+48 10-fold CV from it for longer, in parallel.
#   lr0 / (1 + d (t0 + t)) = lr0' / (1 + d' t)  with  lr0' = lr0 / (1 + d t0),  d' = d / (1 + d t0);
#   t0 = 163 epochs x 449 steps = 73187 -> lr0' = 5.77e-4, d' = 5.77e-6. Only Adam's moments restart.
set -uo pipefail
mkdir -p /tmp/data && tar xzf .devpack/data.tar.gz -C /tmp/data
export FACSNET_DATA=/tmp/data FACSNET_CACHE=/tmp/fcache PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
RUNS=${RUNS:-/tmp/runs}; OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" "$RUNS/logs"
nvidia-smi --query-gpu=name,memory.total --format=csv 2>&1 | tee "$RUNS/device.txt"
fx() { python3 -m facsnet -q "$@"; }
python3 -c "
from facsnet.data import load_dataset
for n, s in [('ckplus48','train'),('fer2013','train'),('fer2013','validation')]: print(load_dataset(n, s).summary())"
fx train --data fer2013 --init fer2013 --lr 5.77e-4 --decay 5.77e-6 --epochs 5000 --max-minutes "${FER_MIN:-7}" \
  --no-progress --out "$RUNS/fer2013_cont" > "$RUNS/logs/fer2013_cont.log" 2>&1 &
P=$!
sleep 20
fx cv --data ckplus48 --protocol image --init fer2013 --epochs 120 --lr 3e-4 --no-progress --out "$RUNS/ck_image_fer120" > "$RUNS/logs/ck_image_fer120.log" 2>&1 &
fx cv --data ckplus48 --protocol image --init fer2013 --epochs 120 --lr 1e-3 --no-progress --out "$RUNS/ck_image_fer120_lr1e-3" > "$RUNS/logs/ck_image_fer120_lr1e-3.log" 2>&1 &
fx cv --data ckplus48 --protocol subject --init fer2013 --epochs 120 --lr 3e-4 --no-progress --out "$RUNS/ck_subject_fer120" > "$RUNS/logs/ck_subject_fer120.log" 2>&1 &
wait
for t in "" "--tta-flip"; do
  fx evaluate --model "$RUNS/fer2013_cont/best.pt" --data fer2013:validation --json $t > "$RUNS/fer2013_cont/eval_publictest${t:+_tta}.json"
done
python3 scripts/bundle_weights.py "$RUNS/fer2013_cont/best.pt" "$OUT/fer2013_cont.pt"
tail -3 "$RUNS"/logs/*.log
tar czf "$OUT/runs.tar.gz" --exclude='*.pt' -C "$(dirname "$RUNS")" "$(basename "$RUNS")"
ls -la "$OUT"
