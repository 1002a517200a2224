#!/usr/bin/env bash
# GPU job: leave-one-subject-out on the MEGC 2019 composite, the FER-pretrained
# variants (apex, flow, lstm) and their from-scratch twins, each split over 6 processes each sharing one GPU.
# The same commands run on a CPU (hours): facsnet micro megc2019 --out results/micro/megc2019 ...
set -uo pipefail
if [ -f .devpack/megc.tar.gz ]; then mkdir -p /tmp/data && tar xzf .devpack/megc.tar.gz -C /tmp/data; export FACSNET_DATA=/tmp/data; fi
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
RUNS=${RUNS:-/tmp/runs}; OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" "$RUNS/logs"
EPOCHS=${EPOCHS:-30}; MINUTES=${MINUTES:-3.3}; SHARDS=${SHARDS:-6}
nvidia-smi --query-gpu=name,memory.total --format=csv 2>&1 | tee "$RUNS/device.txt"
for i in $(seq 1 "$SHARDS"); do
  python3 -m facsnet -q micro megc2019 --variants apex,flow,lstm --epochs "$EPOCHS" --shard "$i/$SHARDS" \
    --max-minutes "$MINUTES" --out "$RUNS/megc2019" > "$RUNS/logs/pretrained_$i.log" 2>&1 &
  python3 -m facsnet -q micro megc2019 --variants apex_scratch,flow_scratch,lstm_scratch --init none --epochs "$EPOCHS" \
    --shard "$i/$SHARDS" --max-minutes "$MINUTES" --out "$RUNS/megc2019_scratch" > "$RUNS/logs/scratch_$i.log" 2>&1 &
done
wait
python3 -m facsnet -q micro megc2019 --variants apex,flow,lstm --score-only --epochs "$EPOCHS" --out "$RUNS/megc2019"
python3 -m facsnet -q micro megc2019 --variants apex_scratch,flow_scratch,lstm_scratch --init none --score-only \
  --epochs "$EPOCHS" --out "$RUNS/megc2019_scratch"
ls "$RUNS"/megc2019/folds | wc -l; ls "$RUNS"/megc2019_scratch/folds | wc -l
tail -n 3 "$RUNS"/logs/*.log
tar czf "$OUT/micro_runs.tar.gz" -C "$(dirname "$RUNS")" "$(basename "$RUNS")"
