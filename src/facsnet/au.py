"""FACS Action Units: names, CK+ AU labels, and the filter-to-AU correlation P(j, u) of
Breuer & Kimmel (section 3.1)."""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FACS_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    11: "nasolabial deepener", 12: "lip corner puller", 13: "cheek puffer", 14: "dimpler",
    15: "lip corner depressor", 16: "lower lip depressor", 17: "chin raiser", 18: "lip pucker",
    20: "lip stretcher", 21: "neck tightener", 22: "lip funneler", 23: "lip tightener",
    24: "lip pressor", 25: "lips part", 26: "jaw drop", 27: "mouth stretch", 28: "lip suck",
}


def au_name(au: int) -> str:
    return f"AU{au} {FACS_NAMES.get(au, 'unnamed')}"


def read_ckplus_au_labels(path: str | Path) -> dict[str, set[int]]:
    """Sequence id (``S010_004``) -> the set of AUs coded for it, from
    ``ckplus_327_sequences_AU_emotion.csv`` (the ``au_combination`` column)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no CK+ AU label file")
    out = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            aus = set()
            for tok in row["au_combination"].split("_"):
                tok = tok.strip()
                if tok and tok.replace(".", "").isdigit() and "." not in tok:   # '1.7' is a CK+ typo
                    aus.add(int(tok))
            out[row["sequence"]] = aus
    return out


def au_matrix(sequences, labels: dict[str, set[int]], aus: list[int] | None = None) -> tuple[np.ndarray, list[int]]:
    """(N, U) binary A(i, u) = 1 when AU u is coded for image i's sequence; and the AU list."""
    missing = sorted({s for s in sequences if s not in labels})
    if missing:
        raise ValueError(f"{len(missing)} image sequences have no AU labels, e.g. {missing[:3]}")
    aus = aus or sorted(set().union(*labels.values()))
    A = np.array([[u in labels[s] for u in aus] for s in sequences], dtype=np.float64)
    return A, aus


def filter_au_correlation(top_idx: np.ndarray, A: np.ndarray) -> np.ndarray:
    """P(j, u) = (1/N) sum over filter j's top-N images i of A(i, u); (F, U)."""
    return A[top_idx].mean(axis=1)


@dataclass(frozen=True)
class AUCorrelation:
    n: int
    alive: int
    matched: int                         # live filters with P(j, u) = 1 for some AU u
    matched_permuted_mean: float
    matched_permuted_std: float
    permutations: int
    matches: list[dict]                  # {"filter", "au", "name"} for every P = 1 of a live filter

    def to_dict(self) -> dict:
        return asdict(self)


def matched_count(P: np.ndarray, alive: np.ndarray) -> int:
    return int(((P >= 1.0 - 1e-12) & alive[:, None]).any(axis=1).sum())


def correlate(top_idx: np.ndarray, sequences: np.ndarray, labels: dict[str, set[int]], alive: np.ndarray,
              permutations: int = 100, seed: int = 0, aus: list[int] | None = None) -> AUCorrelation:
    """P(j, u) on the real labels, and the same count with AU sets shuffled across sequences."""
    A, aus = au_matrix(sequences, labels, aus)
    P = filter_au_correlation(top_idx, A)
    matches = [{"filter": int(j), "au": aus[u], "name": au_name(aus[u])}
               for j, u in zip(*np.nonzero(P >= 1.0 - 1e-12)) if alive[j]]
    seqs = sorted(labels)
    rng = np.random.default_rng(seed)
    counts = []
    for _ in range(permutations):
        shuffled = dict(zip(seqs, [labels[s] for s in rng.permutation(seqs)]))
        counts.append(matched_count(filter_au_correlation(top_idx, au_matrix(sequences, shuffled, aus)[0]), alive))
    return AUCorrelation(
        n=top_idx.shape[1], alive=int(alive.sum()), matched=matched_count(P, alive),
        matched_permuted_mean=float(np.mean(counts)) if counts else float("nan"),
        matched_permuted_std=float(np.std(counts)) if counts else float("nan"),
        permutations=permutations, matches=matches,
    )
