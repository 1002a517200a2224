"""Copy the epoch history of a training run still in progress (from its ``last.pt``) into the repo.

    python scripts/snapshot_history.py ~/facsnet-runs/fer2013_paper_warmup results/runs/fer2013_paper_warmup
"""
import json
import sys
from pathlib import Path

from facsnet.models.checkpoint import read_checkpoint
from facsnet.utils import atomic_write_json


def main(run: str, dest: str) -> None:
    ck = read_checkpoint(Path(run).expanduser() / "last.pt")
    history = json.loads(ck["history_json"])
    atomic_write_json(Path(dest) / "history.json", history)
    print(f"{len(history)} epochs -> {dest}/history.json")


if __name__ == "__main__":
    main(*sys.argv[1:3])
