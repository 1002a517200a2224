"""`FaceSet`: decoded face crops with canonical labels, as a torch Dataset."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset


@dataclass
class FaceSet(Dataset):
    """Face crops in memory: ``images`` (N, H, W) uint8, ``labels`` (N,) indices into ``class_names``.

    ``subjects`` (N,) holds subject ids where the source has them (CK+, a folder read with a
    subject pattern), else None. ``soft`` (N, C) holds vote distributions (FER+), else None.
    ``skipped`` lists (file, reason) for inputs the reader had to leave out.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    paths: list[str]
    subjects: np.ndarray | None = None
    sequences: np.ndarray | None = None
    soft: np.ndarray | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""

    def __post_init__(self):
        n = len(self.images)
        if len(self.labels) != n or len(self.paths) != n:
            raise ValueError(f"{self.name}: images, labels and paths differ in length")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(f"{self.name}: a label index lies outside class_names")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        x = torch.from_numpy(self.images[i]).float().div_(255.0).unsqueeze(0)  # (1, H, W)
        return x, int(self.labels[i])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def has_subjects(self) -> bool:
        return self.subjects is not None

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {c: int(k) for c, k in zip(self.class_names, counts)}

    def subset(self, idx, name: str | None = None) -> "FaceSet":
        idx = np.asarray(idx, dtype=np.int64)
        return FaceSet(
            name=name or self.name,
            images=self.images[idx],
            labels=self.labels[idx],
            class_names=list(self.class_names),
            paths=[self.paths[i] for i in idx],
            subjects=None if self.subjects is None else self.subjects[idx],
            sequences=None if self.sequences is None else self.sequences[idx],
            soft=None if self.soft is None else self.soft[idx],
            skipped=[],
            source=self.source,
        )

    def fingerprint(self) -> str:
        """A content hash of pixels and labels (stored in checkpoints as the data hash)."""
        h = hashlib.sha1()
        h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        h.update(",".join(self.class_names).encode())
        return h.hexdigest()[:16]

    def tensors(self, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """All images as (N, 1, H, W) uint8 and labels as (N,) int64 on ``device``."""
        x = torch.from_numpy(np.ascontiguousarray(self.images)).unsqueeze(1).to(device)
        y = torch.from_numpy(self.labels.astype(np.int64)).to(device)
        return x, y

    def summary(self) -> str:
        subj = f", {len(np.unique(self.subjects))} subjects" if self.subjects is not None else ""
        skip = f", {len(self.skipped)} skipped" if self.skipped else ""
        return f"{self.name}: {len(self)} images{subj}{skip}; " + ", ".join(
            f"{c} {k}" for c, k in self.class_counts().items()
        )

    # -- cache round trip ---------------------------------------------------------------
    def to_arrays(self) -> dict:
        out = {
            "images": self.images, "labels": self.labels,
            "class_names": np.array(self.class_names), "paths": np.array(self.paths, dtype=str),
            "name": np.array(self.name), "source": np.array(self.source),
            "skipped": np.array([f"{p}\t{r}" for p, r in self.skipped], dtype=str),
        }
        for k in ("subjects", "sequences", "soft"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out

    @classmethod
    def from_arrays(cls, a: dict) -> "FaceSet":
        skipped = [tuple(s.split("\t", 1)) for s in a["skipped"].tolist()] if "skipped" in a else []
        return cls(
            name=str(a["name"]), images=a["images"], labels=a["labels"].astype(np.int64),
            class_names=[str(c) for c in a["class_names"]], paths=[str(p) for p in a["paths"]],
            subjects=a.get("subjects"), sequences=a.get("sequences"), soft=a.get("soft"),
            skipped=skipped, source=str(a.get("source", "")),
        )
