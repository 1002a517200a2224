#!/usr/bin/env bash
# Set up, then the main job on the bundled defaults: find, level, crop and classify every face in
# the public-domain photos that ship with facsnet, with the bundled weights; write a table and
# annotated copies. Needs no dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
facsnet analyze --out runs/quickstart/faces.csv --annotate runs/quickstart/annotated
echo "table: runs/quickstart/faces.csv   annotated photos: runs/quickstart/annotated/"
