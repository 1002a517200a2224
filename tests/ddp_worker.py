"""Run by tests/test_ddp.py under torchrun: a few DDP steps, then each rank writes its weights' hash."""
import hashlib
import sys
from pathlib import Path

import torch

from facsnet.data import read_class_folder
from facsnet.training import TrainConfig, train

data, out = Path(sys.argv[1]), Path(sys.argv[2])
res = train(read_class_folder(data), None,
            TrainConfig(epochs=2, batch_size=4, progress=False, device="cpu", precision="fp32"), out_dir=out)
h = hashlib.sha1()
for k, v in sorted(res.model.state_dict().items()):
    h.update(k.encode())
    h.update(v.detach().cpu().numpy().tobytes())
rank = torch.distributed.get_rank()
(out / f"rank{rank}.sha1").write_text(f"{h.hexdigest()} {len(res.history)} {torch.distributed.get_world_size()}")
torch.distributed.destroy_process_group()
