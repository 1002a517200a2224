#!/usr/bin/env bash
# Create .venv with the CPU build of torch, then install facsnet (editable) with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# torch first: this machine keeps a CPU build of 2.13.0 on disk; a bare 'torch' would fetch CUDA.
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
python -m pip install -q -e '.[test]'
python -c "import facsnet, torch; print('facsnet', facsnet.__version__, 'torch', torch.__version__)"
