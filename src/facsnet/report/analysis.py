"""``facsnet report TABLE [--video V]``: a page for an ``analyze`` table: the counts on top, then for
each video the emotions, head pose and strongest Action Units over time per tracked face, with the
annotated video embedded to play beside them."""
from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path

from ..labels import EMOTIONS
from .page import png_uri, pyplot, table, write_page

MAX_FACES = 6   # faces drawn per video
TOP_AUS = 5     # AU intensity curves drawn per face: the strongest on average


def read_table(path: Path):
    """An analyze table in any of its formats: .csv, .jsonl, .parquet, or .json (rows under "rows")."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    if suffix == ".json":
        record = json.loads(path.read_text())
        return pd.DataFrame(record["rows"] if isinstance(record, dict) and "rows" in record else record)
    return pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)


def build_analysis_report(table_path: str | Path, out: str | Path | None = None, video: str | Path | None = None,
                          smooth: int = 5) -> Path:
    """Write ``out`` (default: the table's name with .html); curves are running means over ``smooth`` frames."""
    table_path = Path(table_path)
    df = read_table(table_path)
    missing = {"path", "frame", "face", "emotion", "time_s"} - set(df.columns)
    if missing:
        raise ValueError(f"{table_path}: not an analyze table (no {', '.join(sorted(missing))} column)")
    faces = df[df["emotion"].notna()]
    skipped = df[df["note"].astype("string").fillna("").str.startswith("skipped")] if "note" in df else df.iloc[:0]
    counts = faces["emotion"].value_counts()
    frames = df.dropna(subset=["frame"]).groupby(["path", "frame"]).ngroups
    parts = [f"<h1>{html.escape(table_path.name)}</h1>",
             f"<p class='summary'><b>{df['path'].nunique() - len(skipped)}</b> input(s), <b>{frames}</b> frame(s), "
             f"<b>{len(faces)}</b> face(s): " + ", ".join(f"{e} {n}" for e, n in counts.items())
             + (f"; {len(skipped)} input(s) skipped" if len(skipped) else "") + "</p>"]
    path = Path(out) if out else table_path.with_suffix(".html")
    if video is not None:
        parts.append(video_tag(Path(video), path.parent))
    for source, rows in faces[faces["time_s"].notna()].groupby("path", sort=False):
        parts.append(_video_section(source, rows, smooth))
    if len(skipped):
        parts.append("<h2>Skipped</h2>" + table(["input", "why"], skipped[["path", "note"]].values.tolist()))
    return write_page(path, table_path.name, parts)


def _video_section(source: str, rows, smooth: int) -> str:
    key = "face_id" if "face_id" in rows and rows["face_id"].notna().any() else "face"
    every = sorted(rows[key].dropna().astype(int).unique())
    ids = every[:MAX_FACES]
    name = html.escape(Path(source).name)
    out = [f"<h2>{name}</h2>", _curves(rows, key, ids, smooth, _emotion_curves, f"{name}: emotion probabilities")]
    if {"pose_yaw", "pose_pitch", "pose_roll"} <= set(rows.columns) and rows["pose_yaw"].notna().any():
        out.append(_curves(rows, key, ids, smooth, _pose_curves, f"{name}: head pose (degrees)"))
    intensity = [c for c in rows.columns if re.fullmatch(r"AU\d+_intensity", c) and rows[c].notna().any()]
    if intensity:
        out.append(_curves(rows, key, ids, smooth, lambda ax, one, s: _au_curves(ax, one, s, intensity),
                           f"{name}: the strongest Action Units, intensity 0-5"))
    more = f"; the first {MAX_FACES} of {len(every)} faces are shown" if len(every) > MAX_FACES else ""
    out.append(f"<p class='note'>running means over {smooth} frames; one person keeps one face number while in "
               f"view (tracked across frames){more}</p>")
    return "\n".join(out)


def _curves(rows, key: str, ids: list[int], smooth: int, draw, title: str) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(len(ids), 1, figsize=(8, 2.2 * len(ids)), sharex=True, squeeze=False)
    for ax, face in zip(axes[:, 0], ids):
        draw(ax, rows[rows[key] == face].sort_values("time_s"), smooth)
        ax.set_ylabel(f"face {face}")
        ax.legend(loc="upper right", fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(html.unescape(title), fontsize=9)
    fig.tight_layout()
    return f"<img alt='{title}' src='{png_uri(fig)}'>"


def _smoothed(series, smooth: int):
    return series.rolling(smooth, center=True, min_periods=1).mean()


def _emotion_curves(ax, one, smooth: int) -> None:
    from ..inference.annotate import COLOURS

    for e in EMOTIONS:
        if e in one and one[e].notna().any():
            ax.plot(one["time_s"], _smoothed(one[e], smooth), color=[c / 255 for c in COLOURS[e]], label=e)
    ax.set_ylim(0, 1)


def _pose_curves(ax, one, smooth: int) -> None:
    for col, colour in (("pose_yaw", "#1f77b4"), ("pose_pitch", "#2ca02c"), ("pose_roll", "#d62728")):
        ax.plot(one["time_s"], _smoothed(one[col], smooth), color=colour, label=col.removeprefix("pose_"))
    ax.axhline(0, color="#bbb", lw=0.8)


def _au_curves(ax, one, smooth: int, columns: list[str]) -> None:
    strongest = one[columns].mean().sort_values(ascending=False).index[:TOP_AUS]
    for col in sorted(strongest, key=lambda c: int(c[2:].split("_")[0])):
        ax.plot(one["time_s"], _smoothed(one[col], smooth), label=col.removesuffix("_intensity"))
    ax.set_ylim(0, 5)


def video_tag(path: Path, page_dir: Path, limit_mb: int = 40) -> str:
    """The annotated video, embedded when small enough, else linked relative to the page."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video")
    kind = "video/webm" if path.suffix.lower() == ".webm" else "video/mp4"
    if path.stat().st_size > limit_mb * 2**20:
        return f"<video controls width='640' src='{html.escape(os.path.relpath(path, page_dir))}'></video>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<video controls width='640' src='data:{kind};base64,{data}'></video>"
