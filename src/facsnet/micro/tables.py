"""The coding tables of the micro-expression databases, read as their owners distribute them.

One reader per table layout (CASME II, SAMM, SMIC, CAS(ME)^3, DFME) turns the rows into ``Clip``
records: subject, clip folder, onset / apex / offset frame numbers, AU codes and the emotion as
coded. Rows that cannot be used as they stand (a missing or non-numeric frame number, onset after
offset, apex outside [onset, offset]) are never fatal: each becomes a ``problems`` line naming the
clip, and the clip is dropped only when its frames cannot be placed at all.

Class sets are declared, not guessed: ``emotion`` (the coded emotion, lower case), ``megc3``
(negative / positive / surprise, the MEGC 2019 composite mapping; other emotions are left out),
and ``objective`` (the AU-based objective classes I..VII, where a table carries them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MEGC3 = ("negative", "positive", "surprise")

# MEGC 2019 composite (Davison/Yap et al.): per database, which coded emotions form each class.
# CASME II keeps only disgust and repression as negative (its sadness and fear clips are left out).
MEGC3_MAP: dict[str, dict[str, str]] = {
    "casme2": {"disgust": "negative", "repression": "negative", "happiness": "positive", "surprise": "surprise"},
    "samm": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise"},
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
    "casme3": {"anger": "negative", "disgust": "negative", "fear": "negative", "sad": "negative",
               "happy": "positive", "surprise": "surprise"},
    "dfme": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise"},
}
SMIC_LABELS = {0: "negative", 1: "positive", 2: "surprise"}
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7}


class TableError(ValueError):
    """A coding table that cannot be read at all (missing file, no xlsx engine, unknown layout)."""


@dataclass(frozen=True)
class Clip:
    database: str                 # casme2 | samm | smic | casme3 | dfme
    subject: str                  # as the frame folders spell it: sub01, 006, s3, spNO.1, sub0003
    clip: str                     # the clip's folder / file stem: EP02_01f, 006_1_2, s3_ne_03, a
    onset: int
    apex: int
    offset: int
    emotion: str                  # the coded emotion, lower case
    aus: tuple[str, ...] = ()     # AU codes as written (R12, 15A, 4 ...)
    objective: int | None = None  # objective class 1..7 where the table codes it

    @property
    def key(self) -> str:
        key = f"{self.database}/{self.subject}/{self.clip}"
        return f"{key}@{self.onset}" if self.database == "casme3" else key  # CAS(ME)^3: several events a clip

    @property
    def au_numbers(self) -> tuple[int, ...]:
        """The AU numbers without side / intensity letters (R12 -> 12, 15A -> 15)."""
        return tuple(sorted({int(m) for a in self.aus for m in re.findall(r"\d+", a)}))

    def label(self, classes: str) -> str | None:
        """This clip's class under a declared class set, or None when the set leaves it out."""
        if classes == "emotion":
            return self.emotion
        if classes == "megc3":
            return MEGC3_MAP[self.database].get(self.emotion)
        if classes == "objective":
            return None if self.objective is None else f"class{self.objective}"
        raise ValueError(f"unknown class set {classes!r}; choose emotion, megc3 or objective")


@dataclass
class CodingTable:
    database: str
    path: str
    clips: list[Clip]
    problems: list[str] = field(default_factory=list)  # rows reported, one line each, naming the clip

    @property
    def subjects(self) -> list[str]:
        return sorted({c.subject for c in self.clips})

    def summary(self) -> str:
        s = f"{self.database}: {len(self.clips)} clips, {len(self.subjects)} subjects ({self.path})"
        return s + (f"; {len(self.problems)} rows reported" if self.problems else "")


def _read_sheet(path: Path, sheet):
    try:
        import pandas as pd
        return pd.read_excel(path, sheet_name=sheet, dtype=object)
    except ImportError as e:
        raise TableError(f"{path}: reading .xlsx needs the openpyxl engine ({e}); pip install openpyxl") from e


def _int(value) -> int | None:
    """A frame number from a cell: ints, integral floats and digit strings; anything else is None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value) if value == value and float(value).is_integer() else None
    s = str(value).strip()
    return int(s) if s.isdigit() else None


def _aus(value) -> tuple[str, ...]:
    if value is None or value != value:
        return ()
    s = str(value).strip()
    if s.endswith(".0"):
        s = s[:-2]
    return tuple(t.strip() for t in s.split("+") if t.strip() and t.strip() != "?")


def _clip_or_problem(database: str, subject: str, name: str, onset, apex, offset, **kw) -> tuple[Clip | None, str | None]:
    """Check the frame numbers of one row: a usable clip, with a note when something is off."""
    o, a, f = _int(onset), _int(apex), _int(offset)
    where = f"{database} {subject}/{name}"
    if o is None or a is None:
        return None, f"{where}: onset {onset!r} / apex {apex!r} is not a frame number; skipped"
    if f is None:
        return (Clip(database, subject, name, o, a, a, **kw),
                f"{where}: offset {offset!r} is not a frame number; the apex ({a}) stands in for it")
    if o > f:
        return None, f"{where}: onset {o} after offset {f}; skipped"
    clip = Clip(database, subject, name, o, a, f, **kw)
    if not o <= a <= f:
        return clip, f"{where}: apex {a} outside [onset {o}, offset {f}]; kept, the apex frame is used as coded"
    return clip, None


def _rows(df, columns: dict[str, str], path: Path) -> list[dict]:
    """Rename a table's columns to ours; a missing column is an error naming the file."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TableError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    return df[list(columns)].rename(columns=columns).to_dict("records")


def _build(database: str, path: Path, rows, subject_fmt, emotion_of, objective_of=lambda r: None) -> CodingTable:
    clips, problems = [], []
    for r in rows:
        if all(v is None or v != v for v in r.values()):
            continue  # blank row
        subject = subject_fmt(r["subject"])
        clip, note = _clip_or_problem(database, subject, str(r["clip"]).strip(), r["onset"], r["apex"], r["offset"],
                                      emotion=emotion_of(r), aus=_aus(r.get("aus")), objective=objective_of(r))
        if clip is not None:
            clips.append(clip)
        if note:
            problems.append(note)
    return CodingTable(database, str(path), clips, problems)


def _lower(value) -> str:
    return str(value).strip().lower()


def read_casme2(path: str | Path) -> CodingTable:
    """CASME II ``CASME2-coding-*.xlsx`` (first sheet): frames in ``sub01/EP02_01f/img46.jpg``."""
    path = Path(path)
    cols = {"Subject": "subject", "Filename": "clip", "OnsetFrame": "onset", "ApexFrame": "apex",
            "OffsetFrame": "offset", "Action Units": "aus", "Estimated Emotion": "emotion"}
    rows = _rows(_read_sheet(path, 0), cols, path)
    return _build("casme2", path, rows, lambda s: f"sub{int(s):02d}" if _int(s) is not None else str(s),
                  lambda r: _lower(r["emotion"]))


def read_samm(path: str | Path) -> CodingTable:
    """SAMM ``SAMM.xlsx`` (sheet MICRO_ONLY, or the first): frames in ``006/006_1_2/006_05562.jpg``."""
    path = Path(path)
    df = _read_sheet(path, None)
    sheet = df.get("MICRO_ONLY", next(iter(df.values())))
    cols = {"Subject": "subject", "Filename": "clip", "Onset Frame": "onset", "Apex Frame": "apex",
            "Offset Frame": "offset", "Action Units": "aus", "Estimated Emotion": "emotion",
            "Objective Classes": "objective"}
    rows = _rows(sheet, cols, path)
    return _build("samm", path, rows, lambda s: f"{int(s):03d}" if _int(s) is not None else str(s),
                  lambda r: _lower(r["emotion"]), lambda r: _int(r["objective"]))


def read_smic(path: str | Path) -> CodingTable:
    """SMIC ``smic_apex.xlsx``: label 0/1/2 = negative/positive/surprise; frames in
    ``s3/micro/negative/s3_ne_03/image302370.bmp`` (SMIC-HS)."""
    path = Path(path)
    cols = {"subject": "subject", "clip": "clip", "label": "label", "onset_frame": "onset",
            "apex_frame": "apex", "offset_frame": "offset"}
    rows = _rows(_read_sheet(path, 0), cols, path)

    def emotion(r):
        lab = _int(r["label"])
        return SMIC_LABELS.get(lab, _lower(r["label"]))
    return _build("smic", path, rows, lambda s: f"s{int(s)}" if _int(s) is not None else str(s), emotion)


def read_casme3(path: str | Path) -> CodingTable:
    """CAS(ME)^3 ``casme3_table.xlsx`` (sheet label): part A frames in ``spNO.1/a/color/355.jpg``.
    A clip name (a, b, e ...) holds several coded events; the clip key keeps them apart by onset."""
    path = Path(path)
    df = _read_sheet(path, None)
    sheet = df.get("label", next(iter(df.values())))
    cols = {"Subject": "subject", "Filename": "clip", "Onset": "onset", "Apex": "apex", "Offset": "offset",
            "AU": "aus", "Objective class": "objective", "emotion": "emotion"}
    rows = _rows(sheet, cols, path)
    return _build("casme3", path, rows, lambda s: str(s).strip(), lambda r: _lower(r["emotion"]),
                  lambda r: ROMAN.get(str(r["objective"]).strip().upper()))


def read_dfme(path: str | Path) -> CodingTable:
    """DFME ``*_full_with_AU.xlsx``: frames in ``sub0003/sub0003_01/<n>.jpg`` (500 fps)."""
    path = Path(path)
    cols = {"Subject": "subject", "Filename": "clip", "OnsetFrame": "onset", "ApexFrame": "apex",
            "OffsetFrame": "offset", "AU": "aus", "Emotion": "emotion"}
    rows = _rows(_read_sheet(path, 0), cols, path)
    return _build("dfme", path, rows, lambda s: str(s).strip(), lambda r: _lower(r["emotion"]))


READERS = {"casme2": read_casme2, "samm": read_samm, "smic": read_smic, "casme3": read_casme3, "dfme": read_dfme}


def guess_database(path: str | Path) -> str:
    """The layout of a table from its file name (CASME2-coding-*, SAMM*, smic*, casme3*, *_full_with_AU)."""
    name = Path(path).name.lower()
    for key, db in (("casme2", "casme2"), ("casme3", "casme3"), ("samm", "samm"), ("smic", "smic"),
                    ("full_with_au", "dfme")):
        if key in name:
            return db
    raise TableError(f"{path}: cannot tell which database this table is from its name; "
                     f"pass database= one of {sorted(READERS)}")


def read_coding_table(path: str | Path, database: str | None = None) -> CodingTable:
    """Read one coding table; ``database`` defaults to a guess from the file name."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such coding table")
    db = database or guess_database(path)
    if db not in READERS:
        raise TableError(f"unknown database {db!r}; choose one of {sorted(READERS)}")
    return READERS[db](path)


def with_labels(clips: list[Clip], classes: str) -> tuple[list[Clip], list[str]]:
    """The clips that the class set keeps, and the sorted class names (MEGC order for megc3)."""
    kept = [c for c in clips if c.label(classes) is not None]
    names = list(MEGC3) if classes == "megc3" else sorted({c.label(classes) for c in kept})
    return kept, names


__all__ = ["Clip", "CodingTable", "TableError", "MEGC3", "MEGC3_MAP", "read_coding_table", "guess_database",
           "with_labels", "READERS"]
