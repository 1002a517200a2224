#!/usr/bin/env bash
# A long facsnet run in the background, outside the work tree, that survives any stop:
#   bash scripts/background_train.sh NAME VERB [options...]      e.g.
#   bash scripts/background_train.sh fer2013_paper_warmup train --data fer2013 --val fer2013:validation \
#       --epochs 150 --warmup-steps 2000 --no-progress
# The run lives in ${FACSNET_RUNS:-~/facsnet-runs}/NAME (log in NAME.log beside it). `train` and `cv`
# checkpoint every epoch (last.pt) and every fold, so the same command after a stop (a killed
# process, a reboot, a later login on the same machine) goes on from the last finished epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bash scripts/background_train.sh NAME VERB [options...]" >&2; exit 2; }
NAME=$1; VERB=$2; shift 2
RUNS=${FACSNET_RUNS:-$HOME/facsnet-runs}
mkdir -p "$RUNS"
PY=${PY:-.venv/bin/python}
echo "$(date -u +%FT%TZ) $PY -m facsnet $VERB $* --out $RUNS/$NAME" >> "$RUNS/$NAME.log"
nohup "$PY" -m facsnet "$VERB" "$@" --out "$RUNS/$NAME" >> "$RUNS/$NAME.log" 2>&1 &
echo "started $VERB in the background (pid $!): $RUNS/$NAME, log $RUNS/$NAME.log"
