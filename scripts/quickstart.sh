#!/usr/bin/env bash
# Set up, then the main job on the bundled defaults: score the bundled FER2013 model on FER2013
# PublicTest and on CK+48, and run a short subject-independent CK+48 training as a check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
facsnet -q evaluate --model fer2013 --data fer2013:validation
facsnet -q evaluate --model fer2013 --data ckplus48
facsnet train --data ckplus48 --epochs 3 --no-progress --out runs/quickstart
