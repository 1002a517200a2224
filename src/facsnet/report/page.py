"""What every report page shares: its style, embedded figures, tables, and writing the page."""
from __future__ import annotations

import base64
import html
import logging
import re
from pathlib import Path

from ..utils import atomic_write_text

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:.3em 0}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em}.note{color:#666;font-size:.9em}
.summary{background:#f6f8fa;border:1px solid #dde;padding:.6em 1em;border-radius:6px}"""
log = logging.getLogger("facsnet.report")


def readable(items: list, section, unreadable: list[str]) -> list:
    """``section(item)`` for each item; a result file that cannot be read is listed in ``unreadable``
    with the reason, and the report goes on without it."""
    done = []
    for item in items:
        try:
            done.append(section(item))
        except (OSError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            why = f"{item}: unreadable ({type(exc).__name__}: {exc})"
            log.warning("left out %s", why)
            unreadable.append(why)
    return done


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_uri(fig) -> str:
    """A matplotlib figure as a data URI (the figure is closed)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def img_file(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'
            f'<figcaption class="note">{html.escape(path.name)}</figcaption></figure>')


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def markdown_html(text: str) -> str:
    """The pipe tables and plain lines of a results .md file as HTML (headings, tables, paragraphs)."""
    out, rows = [], []

    def flush():
        if rows:
            body = [r for r in rows if not re.fullmatch(r"[\s|:-]+", r)]
            cells = [[c.strip().replace("`", "") for c in r.strip().strip("|").split("|")] for r in body]
            out.append(table(cells[0], cells[1:]))
            rows.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            rows.append(line)
            continue
        flush()
        heading = re.match(r"(#+)\s+(.*)", line)
        if heading:
            level = min(6, len(heading.group(1)) + 2)
            out.append(f"<h{level}>{html.escape(heading.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p class='note'>{html.escape(line.strip())}</p>")
    flush()
    return "\n".join(out)


def write_page(path: Path, title: str, parts: list[str]) -> Path:
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")
    atomic_write_text(path, page)
    return path
