"""What :func:`facsnet.analyze` returns: small dataclasses, a stable table, and writers.

Table columns (one row per face; a frame with no face gives one row with empty ``face`` and
``emotion``): ``path, frame, time_s, face, face_id`` (one person keeps one id across a video's frames),
``x, y, w, h, face_score, left_eye_x, left_eye_y,
right_eye_x, right_eye_y, roll_deg``, one probability column per canonical emotion (``neutral,
anger, contempt, disgust, fear, happy, sadness, surprise``; empty for an emotion the model lacks),
then ``emotion`` (the most probable) and ``note``; with landmarks (the default of ``facsnet analyze``),
head pose ``pose_yaw, pose_pitch, pose_roll`` (degrees; yaw > 0 turned towards the image's right,
pitch > 0 tilted up, roll > 0 the image-right eye lower), ``landmark_score`` and the named mesh
points as ``<name>_x, <name>_y`` (``facsnet.faces.landmarks.NAMED_LANDMARKS``: brows, eye corners
and lids, nose, mouth, jaw, chin); with an AU model, one probability column per Action Unit
follows (``AU1``, ``AU2``, ...), and with an intensity model one 0-5 column per AU (``AU12_intensity``). Boxes and eyes are in pixels of the frame; "left eye"
is the eye on the image's left. Every input that could not be analysed (or that a folder held
besides photos and videos) adds one last row with only ``path`` and ``note`` ("skipped: why").
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..faces.landmarks import LANDMARK_COLUMNS, NAMED_LANDMARKS
from ..faces.pose import HeadPose
from ..labels import EMOTIONS
from ..utils import atomic_write_bytes, atomic_write_text

GEOMETRY_COLUMNS = ["x", "y", "w", "h", "face_score", "left_eye_x", "left_eye_y", "right_eye_x",
                    "right_eye_y", "roll_deg"]
COLUMNS = ["path", "frame", "time_s", "face", "face_id", *GEOMETRY_COLUMNS, *EMOTIONS, "emotion", "note"]
TABLE_SUFFIXES = (".csv", ".parquet", ".jsonl", ".json")
POSE_COLUMNS = ["pose_yaw", "pose_pitch", "pose_roll", "landmark_score"]
FACE_MESH_COLUMNS = POSE_COLUMNS + LANDMARK_COLUMNS   # present when landmarks are asked for


@dataclass
class FaceResult:
    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    score: float                            # detector confidence
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    probabilities: dict[str, float]         # the model's classes, canonical names
    aus: dict[str, float] = field(default_factory=dict)  # "AU12" -> probability, with an AU model
    frame: int | None = None                # the frame it was found in (0 for a photo)
    time_s: float | None = None             # that frame's time in a video
    face_id: int | None = None              # the same person across a video's frames (tracked); in a photo, its order
    pose: HeadPose | None = None            # yaw, pitch, roll in degrees, with landmarks
    mesh: np.ndarray | None = None          # (468, 3) float32 mesh points (x, y, z) in frame pixels, with landmarks
    landmark_score: float | None = None     # the mesh network's confidence that a face fills its cut-out

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    @property
    def roll_deg(self) -> float:
        return math.degrees(math.atan2(self.right_eye[1] - self.left_eye[1], self.right_eye[0] - self.left_eye[0]))

    @property
    def landmarks(self) -> dict[str, tuple[float, float]]:
        """The named mesh points (``NAMED_LANDMARKS``) as name -> (x, y) in frame pixels; empty without landmarks."""
        if self.mesh is None:
            return {}
        return {n: (float(self.mesh[i, 0]), float(self.mesh[i, 1])) for n, i in NAMED_LANDMARKS.items()}

    def extra_columns(self) -> dict[str, float]:
        """Pose, landmark and AU values by column name (those this face has)."""
        out: dict[str, float] = {}
        if self.pose is not None:
            out.update(pose_yaw=self.pose.yaw, pose_pitch=self.pose.pitch, pose_roll=self.pose.roll,
                       landmark_score=self.landmark_score)
        for name, (x, y) in self.landmarks.items():
            out[f"{name}_x"], out[f"{name}_y"] = x, y
        out.update(self.aus)
        return out


@dataclass
class FrameResult:
    path: str
    frame: int
    time_s: float | None
    faces: list[FaceResult]
    size: tuple[int, int] = (0, 0)  # (width, height) of the frame
    # the emotion model's input crop of each face, (faces, S, S[, 3]) uint8, as Analyzer.stream yields the
    # frame; Analyzer.analyze writes them (crops_to) and drops them, so that a long video holds no pixels
    crops: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def note(self) -> str:
        return "" if self.faces else "no face found"

    def rows(self, extra: list[str] = ()) -> list[dict]:
        """One row per face with the documented columns, then the ``extra`` ones (pose, landmarks, AUs)."""
        base = {"path": self.path, "frame": self.frame, "time_s": self.time_s}
        if not self.faces:
            return [{**base, "face": None, "face_id": None, **{c: None for c in GEOMETRY_COLUMNS},
                     **{e: None for e in EMOTIONS}, "emotion": None, "note": self.note, **{a: None for a in extra}}]
        out = []
        for i, f in enumerate(self.faces):
            values = f.extra_columns()
            x, y, w, h = f.box
            out.append({**base, "face": i, "face_id": f.face_id, "x": x, "y": y, "w": w, "h": h, "face_score": f.score,
                        "left_eye_x": f.left_eye[0], "left_eye_y": f.left_eye[1],
                        "right_eye_x": f.right_eye[0], "right_eye_y": f.right_eye[1], "roll_deg": f.roll_deg,
                        **{e: f.probabilities.get(e) for e in EMOTIONS}, "emotion": f.emotion, "note": "",
                        **{a: values.get(a) for a in extra}})
        return out


@dataclass
class AnalysisResult:
    frames: list[FrameResult]
    model: str = ""
    class_names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    au_names: list[str] = field(default_factory=list)
    face_columns: list[str] = field(default_factory=list)   # pose and landmark columns, with landmarks

    @property
    def extra_columns(self) -> list[str]:
        """The columns after the documented ones: pose and landmarks, then AUs."""
        return list(self.face_columns) + list(self.au_names)

    @property
    def faces(self) -> list[FaceResult]:
        return [f for fr in self.frames for f in fr.faces]

    @property
    def emotions(self) -> list[str]:
        return [f.emotion for f in self.faces]

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def columns(self) -> list[str]:
        return COLUMNS + self.extra_columns

    def rows(self) -> list[dict]:
        """One row per face (or per frame without one), then one per skipped input, its reason in ``note``."""
        rows = [row for fr in self.frames for row in fr.rows(self.extra_columns)]
        empty = {c: None for c in self.columns}
        return rows + [{**empty, "path": source, "note": f"skipped: {reason}"} for source, reason in self.skipped]

    def to_frame(self):
        """A pandas DataFrame with the documented columns, in order."""
        import pandas as pd

        df = pd.DataFrame(self.rows(), columns=self.columns)
        df["face"] = df["face"].astype("Int64")
        df["face_id"] = df["face_id"].astype("Int64")
        df["frame"] = df["frame"].astype("Int64")   # empty on skipped-input rows, whole numbers elsewhere
        numeric = ["time_s", *GEOMETRY_COLUMNS, *EMOTIONS, *self.extra_columns]
        df[numeric] = df[numeric].astype("float64")  # an emotion the model lacks is NaN, not None
        return df

    def save(self, path: str | Path) -> Path:
        """Write the table as .csv, .parquet, .jsonl or .json (by suffix), atomically."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in TABLE_SUFFIXES:
            raise ValueError(f"{path}: table format by suffix, one of {', '.join(TABLE_SUFFIXES)}")
        if suffix in (".csv", ".parquet"):
            write_frame(self.to_frame(), path)
        elif suffix == ".jsonl":
            atomic_write_text(path, "".join(json.dumps(_clean(r)) + "\n" for r in self.rows()))
        else:
            atomic_write_text(path, json.dumps({"model": self.model, "class_names": self.class_names,
                                                "au_names": self.au_names, "face_columns": self.face_columns,
                                                "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
                                                "rows": [_clean(r) for fr in self.frames for r in fr.rows(self.extra_columns)]}, indent=1) + "\n")
        return path

    def summary(self) -> str:
        n_faces = len(self.faces)
        counts: dict[str, int] = {}
        for e in self.emotions:
            counts[e] = counts.get(e, 0) + 1
        top = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        empty = sum(1 for fr in self.frames if not fr.faces)
        text = f"{len(self.frames)} frame(s), {n_faces} face(s)" + (f" ({top})" if top else "")
        if empty:
            text += f"; {empty} frame(s) with no face" + crops_hint(self.frames)
        if self.skipped:
            text += f"; skipped {len(self.skipped)} source(s)"
        return text


CROP_HINT_MAX_SIDE = 256   # pixels: photos no larger than this, most of them without a face, are likely face crops


def crops_hint(frames: list[FrameResult]) -> str:
    """A hint where most inputs look like face crops already: photos (not video frames) of at most
    :data:`CROP_HINT_MAX_SIDE` pixels in which no face was found. A detector needs some of the head
    around a face, so a tight crop is often missed (BlazeFace finds 20% of 600 FER2013 hold-out crops:
    ``results/crops_detector.json``)."""
    photos = [fr for fr in frames if fr.time_s is None]
    small_empty = sum(1 for fr in photos if not fr.faces and 0 < max(fr.size) <= CROP_HINT_MAX_SIDE)
    if not photos or small_empty * 2 <= len(photos):   # most of them, not half
        return ""
    return (f" ({small_empty} of them small photos: if they are face crops already, --detector crops takes each "
            "whole image as the face)")


def _clean(row: dict) -> dict:
    return {k: (float(v) if isinstance(v, (np.floating, float)) and v is not None else v) for k, v in row.items()}


class RowStream:
    """Rows of finished frames appended to a CSV (or JSON Lines) file and flushed as they come, so
    a run stopped in any way (Ctrl-C, a crash, a killed process) keeps them; removed when the
    complete table has been written."""

    def __init__(self, path: str | Path, columns: list[str]):
        self.path, self.columns, self.rows = Path(path), list(columns), 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w", newline="")
        self._csv = csv.DictWriter(self._fh, fieldnames=self.columns) if self.path.suffix.lower() == ".csv" else None
        if self._csv is not None:
            self._csv.writeheader()

    def write(self, frame: FrameResult, extra: list[str]) -> None:
        for row in frame.rows(extra):
            if self._csv is not None:
                self._csv.writerow({k: "" if v is None else v for k, v in row.items()})
            else:
                self._fh.write(json.dumps(_clean(row)) + "\n")
            self.rows += 1
        self._fh.flush()

    def close(self, keep: bool) -> Path | None:
        """Close; keep the file (and return its path) only if asked and it holds rows."""
        self._fh.close()
        if keep and self.rows:
            return self.path
        self.path.unlink(missing_ok=True)
        return None


def write_frame(df, path: str | Path) -> Path:
    """A DataFrame as .csv, .parquet or .jsonl (by suffix), atomically."""
    import io

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        atomic_write_text(path, df.to_csv(index=False))
    elif suffix == ".parquet":
        buf = io.BytesIO()
        try:
            df.to_parquet(buf, index=False)
        except ImportError as exc:
            raise ImportError("writing .parquet needs pyarrow (pip install 'facsnet[parquet]')") from exc
        atomic_write_bytes(path, buf.getvalue())
    elif suffix == ".jsonl":
        atomic_write_text(path, df.to_json(orient="records", lines=True))
    else:
        raise ValueError(f"{path}: a merged table is .csv, .parquet or .jsonl")
    return path
