"""Headless Chromium for the report tests and the docs screenshots: render a page to a PNG, and
play a video in a page. Both need the `chromium` binary (Debian: apt-get install chromium)."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        raise RuntimeError("headless Chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 1500) -> list[str]:
    """Render ``page`` to ``png``; returns the page's console errors (none expected)."""
    r = _run(["--enable-logging=stderr", "--v=0", f"--screenshot={png}", f"--window-size={width},{height}",
              "--virtual-time-budget=3000", Path(page).resolve().as_uri()])
    if not Path(png).exists():
        raise RuntimeError(f"Chromium made no screenshot of {page}: {r.stderr[-1000:]}")
    return [line for line in r.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


PLAYER = """<!doctype html><html><head><title>waiting</title></head><body><video id="v" muted playsinline src="{src}">
</video><script>
const v = document.getElementById('v');
v.addEventListener('timeupdate', () => {{ if (v.currentTime > 0.3) document.title = 'played ' + v.videoWidth + 'x' + v.videoHeight; }});
v.addEventListener('error', () => {{ document.title = 'error ' + (v.error && v.error.code); }});
v.play().catch(e => {{ document.title = 'error ' + e; }});
</script></body></html>"""


def play(video: Path) -> str:
    """Play ``video`` muted in a headless page: 'played WxH' once it has run 0.3 s, else 'error ...'."""
    video = Path(video).resolve()
    page = video.with_name(video.name + ".player.html")
    page.write_text(PLAYER.format(src=video.name))
    try:
        r = _run(["--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=8000", "--dump-dom",
                  page.as_uri()])
    finally:
        page.unlink(missing_ok=True)
    found = re.search(r"<title>([^<]*)</title>", r.stdout)
    return found.group(1) if found else f"no page ({r.stderr[-300:]})"
