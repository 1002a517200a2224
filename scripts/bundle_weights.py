"""Turn a training checkpoint into a small bundled file (fp16 weights, no optimizer state).

    python scripts/bundle_weights.py runs/full/fer2013/best.pt src/facsnet/weights/fer2013.pt
"""
import os
import sys
from pathlib import Path

from facsnet.models.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from facsnet.models.hub import BUNDLE_LIMIT_BYTES

KEEP = ("epoch", "metrics", "train_config", "data", "world_size", "precision", "calibration", "inference", "framing",
        "task", "provenance", "members", "teacher")


def main(src: str, dst: str) -> None:
    ck = read_checkpoint(src)
    model = model_from_checkpoint(ck)
    size = sum(v.numel() * 2 for v in model.state_dict().values() if v.is_floating_point())
    if size >= BUNDLE_LIMIT_BYTES:
        raise SystemExit(f"{src}: {size} bytes of fp16 weights, over the {BUNDLE_LIMIT_BYTES} that one bundled file may "
                         "weigh; for an ensemble, `python scripts/prune_ensemble.py` lists the sub-ensembles that fit")
    # the written file, records and all, is measured before it replaces anything at dst
    tmp = Path(f"{dst}.bundling")
    try:
        save_checkpoint(tmp, model, ck["model_name"], half=True, **{k: ck[k] for k in KEEP if k in ck})
        if tmp.stat().st_size >= BUNDLE_LIMIT_BYTES:
            raise SystemExit(f"{src}: bundled, it weighs {tmp.stat().st_size} bytes, over the {BUNDLE_LIMIT_BYTES} "
                             f"that one bundled file may weigh; {dst} is left as it was")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)                # nothing half-done stays beside the bundled file
    print(f"{src} -> {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
