"""Measure the framing (eye distance and eye-line height) of the training sets with BlazeFace.

    python scripts/measure_framing.py                # writes results/framing.json
    python scripts/measure_framing.py --mesh-eyes    # only its "mesh_eyes" entry
The medians are the FER2013_FRAMING and CKPLUS48_FRAMING constants in facsnet/faces/align.py;
"mesh_eyes" (the face mesh's eyes against BlazeFace's on every 10th FER2013 Training face) is
MESH_EYE_OFFSET in facsnet/faces/landmarks.py.
"""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facsnet.data import load_dataset  # noqa: E402
from facsnet.faces.framing import measure_framing, measure_mesh_eyes  # noqa: E402
from facsnet.utils import atomic_write_text  # noqa: E402


def mesh_eyes_entry() -> dict:
    data = load_dataset("fer2013", "train")
    t = time.time()
    offset = measure_mesh_eyes(data.images[::10])
    print("mesh eyes", offset)
    return {**offset.to_dict(), "faces": "every 10th FER2013 Training face (2,871)", "seconds": round(time.time() - t, 1)}


def main() -> None:
    path = ROOT / "results" / "framing.json"
    if "--mesh-eyes" in sys.argv[1:]:
        out = json.loads(path.read_text())
        out["mesh_eyes"] = mesh_eyes_entry()
        atomic_write_text(path, json.dumps(out, indent=2) + "\n")
        return
    out = {"command": "python scripts/measure_framing.py", "detector": "blazeface full range (bundled)",
           "pad": "each crop padded by its own side of edge pixels", "sets": {}}
    for name, split in [("fer2013", "train"), ("ckplus48", "train")]:
        data = load_dataset(name, split)
        t = time.time()
        framing = measure_framing(data.images)
        out["sets"][f"{name}:{split}"] = {**framing.to_dict(), "seconds": round(time.time() - t, 1)}
        print(name, framing)
    out["mesh_eyes"] = mesh_eyes_entry()
    atomic_write_text(path, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
