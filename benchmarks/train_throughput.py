"""Training throughput of the paper's CNN on 48x48 grey faces: a full training step (batch
gathered from memory, random flip + affine augmentation, forward, backward, Adam step).

    python benchmarks/train_throughput.py [--steps 20] [--out results/bench_train.json]

Prints images/s at batch 64 and 128 for: fp32 eager (the plain baseline), fp32 channels-last,
and bf16 autocast + channels-last; and the implied wall time of one FER2013 epoch (28,709 images).

It also prints a roofline: the arithmetic of one training image (multiply-adds of every conv and
dense layer, forward + weight gradient + input gradient, the first layer's input gradient left out
since images need none; as usually counted, and without the taps on the zero padding, which the
convolution library skips), this machine's measured peak per dtype, and the ceiling in images/s
that the real work and the peak imply. The peak is the better of a large matrix product (torch's
BLAS) and a large 5x5 convolution (oneDNN, the library both torch and TensorFlow convolve with):
a matrix product alone under-states it where the BLAS is not the fastest code for the CPU (MKL on
AMD CPUs, bf16 products of modest size), and then a stack could run "faster than the ceiling". A config's ``utilisation`` is its measured rate against the highest
of those ceilings (the machine's, whatever dtype it comes from).
"""
from __future__ import annotations

import argparse
import platform
import sys
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
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as facsnet.training does
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


def _taps_inside(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Kernel taps, summed over the output positions of one axis, that fall inside the input."""
    return sum(0 <= o * stride + k * dilation - pad < size for o in range(out) for k in range(kernel))


def training_gflop_per_image(model: torch.nn.Module, input_size=(1, 48, 48), padding_taps: bool = True) -> float:
    """GFLOP (2 per multiply-add) of one training image through the conv and dense layers;
    ``padding_taps=False`` leaves out the taps on the zero padding, which convolution libraries skip."""
    macs: list[int] = []

    def count(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            cin = module.in_channels // module.groups
            if padding_taps:
                taps = output[0, 0].numel() * module.kernel_size[0] * module.kernel_size[1]
            else:
                taps = 1
                for axis in (0, 1):
                    taps *= _taps_inside(inputs[0].shape[2 + axis], output.shape[2 + axis], module.kernel_size[axis],
                                         module.stride[axis], module.padding[axis], module.dilation[axis])
            macs.append(taps * cin * module.out_channels)
        else:
            macs.append(module.in_features * module.out_features)

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    handles = [m.register_forward_hook(count) for m in layers]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *input_size))
    for h in handles:
        h.remove()
    forward, weight_grad = sum(macs), sum(macs)
    input_grad = sum(macs[1:])  # the images themselves need no gradient
    return 2 * (forward + weight_grad + input_grad) / 1e9


def gemm_peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best of ``repeats`` n x n matrix products on the CPU, in GFLOP/s."""
    from facsnet.hardware import matmul_seconds

    return 2 * n ** 3 / matmul_seconds(dtype, n, repeats) / 1e9


def conv_peak_gflops(dtype: torch.dtype, batch: int = 32, channels: int = 256, size: int = 24,
                     kernel: int = 5, repeats: int = 5) -> float:
    """Best of ``repeats`` channels-last convolutions (oneDNN on the CPU), in GFLOP/s of real work."""
    x = torch.randn(batch, channels, size, size).to(dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, kernel, kernel).to(dtype).contiguous(memory_format=torch.channels_last)
    F.conv2d(x, w, padding=kernel // 2)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        F.conv2d(x, w, padding=kernel // 2)
        best = min(best, time.perf_counter() - t0)
    taps = _taps_inside(size, size, kernel, 1, kernel // 2, 1) ** 2
    return 2 * batch * taps * channels * channels / best / 1e9


def roofline(sizes=((torch.float32, 2048, 32), (torch.bfloat16, 512, 32)), emulated_bf16: bool = False) -> dict:
    """bf16 is measured on smaller products: without bf16 arithmetic (AVX2 only) a 2048^3 one takes
    a minute (``emulated_bf16`` shrinks the bf16 convolution too)."""
    model = create_model("breuer2017", num_classes=7)
    counted, real = training_gflop_per_image(model), training_gflop_per_image(model, padding_taps=False)
    gemm, conv = {}, {}
    for d, n, batch in sizes:
        name = str(d).replace("torch.", "")
        gemm[name] = round(gemm_peak_gflops(d, n), 1)
        small = emulated_bf16 and d is torch.bfloat16
        conv[name] = round(conv_peak_gflops(d, batch=2 if small else batch, repeats=1 if small else 5), 1)
    peaks = {k: max(gemm[k], conv[k]) for k in gemm}
    ceilings = {k: round(v / real, 1) for k, v in peaks.items()}
    return {"train_gflop_per_image": round(counted, 3), "train_gflop_per_image_real": round(real, 3),
            "gemm_peak_gflops": gemm, "conv_peak_gflops": conv, "peak_gflops": peaks, "ceiling_img_per_s": ceilings,
            "machine_ceiling_img_per_s": max(ceilings.values())}


def cpu_description() -> str:
    """Model name, cores and the vector extensions that matter for training arithmetic."""
    from facsnet.hardware import cpu_info

    return cpu_info().describe()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--bf16-steps", type=int, default=None,
                    help="steps for the bf16 config (default --steps; a CPU without bf16 arithmetic needs few)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    ap.add_argument("--no-roofline", action="store_true", help="skip the matrix-multiply peak measurement")
    args = ap.parse_args()
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, device {args.device}")
    from facsnet.hardware import cpu_info

    roof = None if args.no_roofline or args.device != "cpu" else roofline(emulated_bf16=not cpu_info().bf16_flags())
    if roof:
        print(f"roofline: {roof['train_gflop_per_image']} GFLOP per training image as usually counted, "
              f"{roof['train_gflop_per_image_real']} without the zero-padding taps; peak "
              + ", ".join(f"{k} {v} GFLOP/s (matrix product {roof['gemm_peak_gflops'][k]}, oneDNN 5x5 conv "
                          f"{roof['conv_peak_gflops'][k]}) -> ceiling {roof['ceiling_img_per_s'][k]} img/s"
                          for k, v in roof["peak_gflops"].items()))
    for name in args.configs.split(","):
        for batch in (64, 128):
            steps = args.bf16_steps if CONFIGS[name]["amp"] is torch.bfloat16 and args.bf16_steps else args.steps
            ips = images_per_second(batch, steps, device=args.device, **CONFIGS[name])
            row = {"config": name, "batch": batch, "steps": steps, "img_per_s": round(ips, 1),
                   "fer2013_epoch_s": round(FER2013_TRAIN / ips, 1)}
            util = ""
            if roof:  # against the best dtype's ceiling: what this machine could do at all
                row["utilisation"] = round(ips / roof["machine_ceiling_img_per_s"], 3)
                util = f", {row['utilisation']:.0%} of the machine's ceiling"
            rows.append(row)
            print(f"{name:20s} batch {batch:4d}: {ips:8.1f} img/s  (one FER2013 epoch ~ {FER2013_TRAIN / ips / 60:.1f} min{util})")
    if args.out:
        command = "python benchmarks/train_throughput.py " + " ".join(sys.argv[1:])
        atomic_write_json(args.out, {"torch": torch.__version__, "threads": torch.get_num_threads(),
                                     "cpu": cpu_description(), "device": args.device, "rows": rows, "roofline": roof,
                                     "command": [command]})


if __name__ == "__main__":
    main()
