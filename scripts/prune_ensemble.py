"""The sub-ensembles of an ensemble that fit one bundled file (``BUNDLE_LIMIT_BYTES`` at fp16), each
calibrated on the FER2013 Training hold-out; prints their paths, one per line, for
scripts/choose_on_holdout.py to choose among.

    python scripts/prune_ensemble.py src/facsnet/weights/fer2013_vgg_ens.pt OUT_DIR
"""
import itertools
import sys
from pathlib import Path

from facsnet.models.checkpoint import bundled_bytes, read_checkpoint, state_in_fp32
from facsnet.models.ensemble import ensemble_checkpoint
from facsnet.models.hub import BUNDLE_LIMIT_BYTES
from facsnet.training.calibration import calibrate_checkpoint

METADATA_BYTES = 256 * 2**10   # records, configs and the pickle's own bytes beside the weights


def member_bytes(ck: dict, int8: bool = False) -> list[int]:
    """Each member's weights as bundled (fp16, or ``int8``), from the ensemble's state dict (fp16 or int8)."""
    per_member: dict[int, dict] = {}
    for key, value in state_in_fp32(ck).items():
        per_member.setdefault(int(key.split(".")[1]), {})[key] = value      # members.{i}.…
    return [bundled_bytes(per_member[i], int8) for i in sorted(per_member)]


def subsets_that_fit(sizes: list[int], limit: int = BUNDLE_LIMIT_BYTES) -> list[tuple[int, ...]]:
    """1-based member positions of every subset of two or more members whose weights fit ``limit``."""
    return [keep for k in range(2, len(sizes) + 1) for keep in itertools.combinations(range(1, len(sizes) + 1), k)
            if sum(sizes[i - 1] for i in keep) + METADATA_BYTES < limit]


def main(model: str, out_dir: str) -> None:
    ck = read_checkpoint(model)
    if ck["model_name"] != "ensemble":
        raise SystemExit(f"{model}: not an ensemble")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = member_bytes(ck)
    subsets = subsets_that_fit(sizes)
    if not subsets:
        raise SystemExit(f"{model}: no two of its members fit {BUNDLE_LIMIT_BYTES} bytes together "
                         f"(members at fp16: {', '.join(str(b) for b in sizes)} bytes)")
    for keep in subsets:
        tag = "".join(map(str, keep))
        path = ensemble_checkpoint([model], str(out / f"members_{tag}.pt"), keep=list(keep))
        calibrate_checkpoint(str(path), data="fer2013", val="holdout", tta_flip=True,
                             out=str(out / f"members_{tag}_calibrated.pt"))
        print(out / f"members_{tag}_calibrated.pt")


if __name__ == "__main__":
    main(*sys.argv[1:3])
