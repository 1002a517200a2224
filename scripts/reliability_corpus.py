"""Run the bad-input corpus (tests/corpus.py) and count its outcomes into results/reliability.json.

    python scripts/reliability_corpus.py [--only NAME ...] [--out results/reliability.json]

Each case runs in its own temporary folder with its own dataset cache; the file lists every case with the
outcome it states and the one observed, and counts the observed outcomes (defects included).
"""
from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="run only these case names")
    ap.add_argument("--out", default=str(ROOT / "results" / "reliability.json"))
    args = ap.parse_args()
    from corpus import CASES, run_case

    from facsnet.utils import atomic_write_json

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        shared = Path(tmp) / "models"               # exported models, as in the tests (tests/conftest.py)
        (shared / "onnx").mkdir(parents=True)
        for i, c in enumerate(c for c in CASES if not args.only or c.name in args.only):
            cache = Path(tmp) / f"cache{i}"
            cache.mkdir()
            (cache / "onnx").symlink_to(shared / "onnx", target_is_directory=True)
            os.environ["FACSNET_CACHE"] = str(cache)
            t0 = time.perf_counter()
            seen = run_case(c, Path(tmp) / f"case{i}")
            rows.append({"name": c.name, "kind": c.kind, "expect": c.expect, "observed": seen,
                         "seconds": round(time.perf_counter() - t0, 2)})
            mark = "  " if seen == c.expect else "!!"
            print(f"{mark} {c.kind:11s} {c.name:55s} {c.expect:11s} {seen}", flush=True)
    outcomes = collections.Counter(r["observed"].split()[0] for r in rows)   # "traceback (KeyError ...)"
    record = {"command": "python scripts/reliability_corpus.py", "date": date.today().isoformat(),
              "host": platform.platform(), "cases": len(rows), "outcomes": dict(sorted(outcomes.items())),
              "kinds": dict(sorted(collections.Counter(r["kind"] for r in rows).items())),
              "mismatches": [r for r in rows if r["observed"] != r["expect"]], "rows": rows}
    if not args.only:
        atomic_write_json(args.out, record)
    print(f"{len(rows)} cases: {dict(outcomes)}; {len(record['mismatches'])} not as stated")
    return 0 if not record["mismatches"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
