"""Training throughput of the paper's CNN on 48x48 grey faces: a full training step (batch
gathered from memory, random flip + affine augmentation, forward, backward, Adam step).

    python benchmarks/train_throughput.py [--steps 20] [--out results/bench_train.json]

Prints images/s at batch 64 and 128 for: fp32 eager (the plain baseline), fp32 channels-last,
and bf16 autocast + channels-last; and the implied wall time of one FER2013 epoch (28,709 images).
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from facsnet.data import Augment
from facsnet.models import create_model
from facsnet.utils import atomic_write_json

FER2013_TRAIN = 28_709
CONFIGS = {
    "fp32_eager": dict(amp=None, channels_last=False),
    "fp32_channels_last": dict(amp=None, channels_last=True),
    "bf16_channels_last": dict(amp=torch.bfloat16, channels_last=True),
}


def images_per_second(batch: int, steps: int, amp, channels_last: bool, device: str) -> float:
    torch.manual_seed(0)
    model = create_model("breuer2017", num_classes=7).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.randint(0, 256, (4096, 1, 48, 48), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 7, (4096,), device=device)
    gen, aug = torch.Generator().manual_seed(0), Augment()
    warmup = 3
    for step in range(warmup + steps):
        if step == warmup:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        idx = torch.randint(0, len(data), (batch,), generator=gen).to(device)
        x = aug(data[idx].float().div_(255.0), gen)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.split(":")[0], dtype=amp or torch.bfloat16, enabled=amp is not None):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, device {args.device}")
    for name in args.configs.split(","):
        for batch in (64, 128):
            ips = images_per_second(batch, args.steps, device=args.device, **CONFIGS[name])
            rows.append({"config": name, "batch": batch, "img_per_s": round(ips, 1),
                         "fer2013_epoch_s": round(FER2013_TRAIN / ips, 1)})
            print(f"{name:20s} batch {batch:4d}: {ips:8.1f} img/s  (one FER2013 epoch ~ {FER2013_TRAIN / ips / 60:.1f} min)")
    if args.out:
        atomic_write_json(args.out, {"torch": torch.__version__, "threads": torch.get_num_threads(),
                                     "device": args.device, "steps": args.steps, "rows": rows})


if __name__ == "__main__":
    main()
