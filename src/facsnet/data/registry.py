"""`load_dataset`: one entry point from a dataset name or a path to a :class:`FaceSet`."""
from __future__ import annotations

import os
from pathlib import Path

from .faceset import FaceSet
from .ckplus_release import read_ckplus_release
from .ferplus import read_fer2013_votes, read_ferplus
from .readers import DatasetError, read_ckplus48, read_class_folder, read_fer2013_csv, read_fer2013_folder

NAMED = ("ckplus48", "fer2013", "fer2013-votes", "ferplus", "ferplus-dist")


def data_root(required: bool = True) -> Path | None:
    """``$FACSNET_DATA``, else the ``shared/data`` folder beside the project (``../shared/data``)."""
    if os.environ.get("FACSNET_DATA"):
        root = Path(os.environ["FACSNET_DATA"])
        if root.is_dir():
            return root
        if required:
            raise DatasetError(f"FACSNET_DATA={root} is not a folder; point it at the datasets "
                               "(FER2013/, FERPlus/, CK+48/) or unset it to use ../shared/data")
        return None
    here = Path(__file__).resolve()
    for base in [Path.cwd(), *Path.cwd().parents, *here.parents]:
        cand = base / "shared" / "data"
        if cand.is_dir():
            return cand
        cand = base.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    if required:
        raise DatasetError(
            "no data folder: set FACSNET_DATA or put the datasets in ../shared/data "
            "(FER2013/, FERPlus/, CK+48/) beside the project"
        )
    return None


def load_dataset(spec: str | Path, split: str = "train", subject_pattern: str | None = None) -> FaceSet:
    """A dataset by name (``ckplus48``, ``fer2013``, ``fer2013-votes``, ``ferplus``, ``ferplus-dist``) or by path.

    A path may be a class-folder tree, a FER2013-style folder with ``train/`` and ``validation/``
    (``split`` picks one), a ``fer2013.csv``, or a CK+ release (``cohn-kanade-images/`` inside).
    """
    key = str(spec).lower().replace("+", "plus")
    if key in ("ckplus48", "ckplus", "ck48"):
        return read_ckplus48(data_root() / "CK+48")
    if key == "fer2013":
        return read_fer2013_folder(data_root() / "FER2013", split)
    if key == "fer2013-votes":
        return read_fer2013_votes(data_root() / "FER2013", data_root() / "FERPlus", split)
    if key in ("ferplus", "ferplus-dist"):
        mode = "distribution" if key.endswith("dist") else "majority"
        return read_ferplus(data_root() / "FER2013", data_root() / "FERPlus", split, mode)
    path = Path(spec)
    if not path.exists():
        raise DatasetError(f"{spec}: neither a dataset name ({', '.join(NAMED)}) nor an existing path")
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return read_fer2013_csv(path, split)
        raise DatasetError(f"{path}: a file dataset must be a fer2013.csv")
    if (path / "cohn-kanade-images").is_dir():
        return read_ckplus_release(path)
    if (path / "train").is_dir() and (path / "validation").is_dir():
        return read_fer2013_folder(path, split)
    if subject_pattern is None and path.name.upper().startswith("CK+"):
        return read_ckplus48(path)
    return read_class_folder(path, subject_pattern=subject_pattern)
