"""The training loop runs unchanged under torchrun with DistributedDataParallel (gloo on CPU)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import write_class_folder


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed support")
def test_two_cpu_ranks_end_with_identical_weights(tmp_path):
    data = write_class_folder(tmp_path / "d", per_class=8)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531",
         str(Path(__file__).parent / "ddp_worker.py"), str(data), str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    h0, h1 = ((out / f"rank{i}.sha1").read_text().split() for i in (0, 1))
    assert h0[2] == h1[2] == "2"                 # both ranks saw a world of two
    assert h0[1] == h1[1] == "2"                 # two epochs each
    assert h0[0] == h1[0]                        # identical weights after the all-reduces
    assert (out / "final.pt").exists()           # rank 0 wrote the checkpoint
