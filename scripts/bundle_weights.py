"""Turn a training checkpoint into a small bundled file (no optimizer state): fp16 weights, or with
``--int8`` conv and linear weights as int8 with one scale per output channel (about half the bytes;
what lets three or more ``vgg48`` share one file).

    python scripts/bundle_weights.py runs/full/fer2013/best.pt src/facsnet/weights/fer2013.pt [--int8]
"""
import argparse
import os
from pathlib import Path

from facsnet.models.checkpoint import bundled_bytes, model_from_checkpoint, read_checkpoint, save_checkpoint
from facsnet.models.hub import BUNDLE_LIMIT_BYTES

KEEP = ("epoch", "metrics", "train_config", "data", "world_size", "precision", "calibration", "inference", "framing",
        "task", "provenance", "members", "teacher")


def main(src: str, dst: str, int8: bool = False) -> None:
    ck = read_checkpoint(src)
    model = model_from_checkpoint(ck, where=src)
    size, form = bundled_bytes(model.state_dict(), int8), "int8" if int8 else "fp16"
    if size >= BUNDLE_LIMIT_BYTES:
        raise SystemExit(f"{src}: {size} bytes of {form} weights, over the {BUNDLE_LIMIT_BYTES} that one bundled file "
                         "may weigh; for an ensemble, `python scripts/prune_ensemble.py` lists the sub-ensembles that fit")
    # the written file, records and all, is measured before it replaces anything at dst
    tmp = Path(f"{dst}.bundling")
    try:
        save_checkpoint(tmp, model, ck["model_name"], half=True, int8=int8, **{k: ck[k] for k in KEEP if k in ck})
        if tmp.stat().st_size >= BUNDLE_LIMIT_BYTES:
            raise SystemExit(f"{src}: bundled, it weighs {tmp.stat().st_size} bytes, over the {BUNDLE_LIMIT_BYTES} "
                             f"that one bundled file may weigh; {dst} is left as it was")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)                # nothing half-done stays beside the bundled file
    print(f"{src} -> {dst} ({form})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--int8", action="store_true", help="conv and linear weights as int8 (one scale per output channel)")
    args = ap.parse_args()
    main(args.src, args.dst, args.int8)
