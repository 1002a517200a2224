"""Turn a training checkpoint into a small bundled file (fp16 weights, no optimizer state).

    python scripts/bundle_weights.py runs/full/fer2013/best.pt src/facsnet/weights/fer2013.pt
"""
import sys

from facsnet.models.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint

KEEP = ("epoch", "metrics", "train_config", "data", "world_size", "precision", "calibration", "inference", "framing",
        "task", "provenance", "members")


def main(src: str, dst: str) -> None:
    ck = read_checkpoint(src)
    model = model_from_checkpoint(ck)
    save_checkpoint(dst, model, ck["model_name"], half=True, **{k: ck[k] for k in KEEP if k in ck})
    print(f"{src} -> {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
