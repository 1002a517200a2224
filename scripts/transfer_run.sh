#!/usr/bin/env bash
# Every transfer result (AU detection, AU intensity, the cross table), on the CPU (about an hour on 2 cores). A step whose output
# exists is skipped, so an interrupted run resumes: rm the file to redo a step.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
mkdir -p results/au results/transfer
step() {  # step OUTPUT command...
    local out=$1; shift
    if [ -s "$out" ]; then echo "done already: $out"; return; fi
    echo "running: $*"; "$@"
}
step results/au/ckplus_single.json \
    facsnet -q transfer au --task single --out results/au/ckplus_single.json
step results/au/ckplus_multilabel_plain.json \
    facsnet -q transfer au --task multilabel --out results/au/ckplus_multilabel_plain.json
step results/au/ckplus_multilabel_sparse.json \
    facsnet -q transfer au --task multilabel --l1 0.01 --l2 0.01 --out results/au/ckplus_multilabel_sparse.json
step results/au/ckplus_intensity.json \
    facsnet -q transfer intensity --out results/au/ckplus_intensity.json
step results/transfer/cross.json \
    facsnet -q transfer cross --out results/transfer
step results/au/ckplus_single_balanced.json \
    facsnet -q transfer au --task single --balanced --out results/au/ckplus_single_balanced.json
step results/au/ckplus_multilabel_sparse_balanced.json \
    facsnet -q transfer au --task multilabel --l1 0.01 --l2 0.01 --balanced --out results/au/ckplus_multilabel_sparse_balanced.json
step results/au/ckplus_intensity_hurdle.json \
    facsnet -q transfer intensity --hurdle --out results/au/ckplus_intensity_hurdle.json
