#!/usr/bin/env bash
# What ran on the GPU machine: scripts/full_run.sh over a copy of the data carried in
# .devdata/, then the checkpoints made small (fp16) and the run folders packed into $OUT.
set -uo pipefail
if [ -z "${FACSNET_DATA:-}" ] && [ -f .devpack/data.tar.gz ]; then  # the data travels packed
  mkdir -p /tmp/data && tar xzf .devpack/data.tar.gz -C /tmp/data && FACSNET_DATA=/tmp/data
fi
export FACSNET_DATA=${FACSNET_DATA:-$PWD/.devdata} FACSNET_CACHE=/tmp/fcache PYTHONPATH=$PWD/src
RUNS=${RUNS:-/tmp/runs}; OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" "$RUNS"
nvidia-smi --query-gpu=name,memory.total --format=csv 2>&1 | tee "$RUNS/device.txt"
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)" | tee -a "$RUNS/device.txt"
start=$(date +%s)
RUNS=$RUNS timeout "${JOB_LIMIT:-530}" bash scripts/full_run.sh 2>&1 | tee "$RUNS/full_run.log"
echo "full_run exit ${PIPESTATUS[0]} after $(( $(date +%s) - start )) s" | tee -a "$RUNS/full_run.log"
for m in fer2013 ferplus fer2013_bn fer2013_ls ckplus48; do
  for c in best.pt last.pt; do
    if [ -f "$RUNS/$m/$c" ]; then python3 scripts/bundle_weights.py "$RUNS/$m/$c" "$OUT/$m.pt"; break; fi
  done
done
tar czf "$OUT/runs.tar.gz" --exclude='*.pt' -C "$(dirname "$RUNS")" "$(basename "$RUNS")"
ls -la "$OUT"
