"""Measure the framing (eye distance and eye-line height) of the training sets with BlazeFace.

    python scripts/measure_framing.py            # writes results/framing.json
The medians are the FER2013_FRAMING and CKPLUS48_FRAMING constants in facsnet/faces/align.py.
"""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facsnet.data import load_dataset  # noqa: E402
from facsnet.faces.framing import measure_framing  # noqa: E402
from facsnet.utils import atomic_write_text  # noqa: E402


def main() -> None:
    out = {"command": "python scripts/measure_framing.py", "detector": "blazeface full range (bundled)",
           "pad": "each crop padded by its own side of edge pixels", "sets": {}}
    for name, split in [("fer2013", "train"), ("ckplus48", "train")]:
        data = load_dataset(name, split)
        t = time.time()
        framing = measure_framing(data.images)
        out["sets"][f"{name}:{split}"] = {**framing.to_dict(), "seconds": round(time.time() - t, 1)}
        print(name, framing)
    atomic_write_text(ROOT / "results" / "framing.json", json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
