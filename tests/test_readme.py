"""Every code block of the README runs as written (the first, the setup commands, is what CI itself runs)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```(bash|python)\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_starts_with_the_two_setup_commands():
    kind, first = BLOCKS[0]
    lines = [ln.split("#")[0].strip() for ln in first.strip().splitlines()]
    assert kind == "bash" and lines == ["bash scripts/quickstart.sh", "bash .ci/run"]


def test_the_readme_is_a_front_page():
    assert len(README.read_text().splitlines()) <= 200


@pytest.mark.parametrize("kind,code", BLOCKS[1:], ids=[f"block{i + 1}" for i in range(1, len(BLOCKS))])
def test_readme_block_runs(kind, code, tmp_path_factory):
    work = tmp_path_factory.getbasetemp() / "readme"      # one folder for all blocks: later ones use earlier files
    work.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = ["bash", "-euo", "pipefail", "-c", code] if kind == "bash" else [sys.executable, "-c", code]
    r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{kind} block failed:\n{code}\n{r.stderr[-3000:]}"


def test_every_relative_link_of_the_readme_and_docs_resolves():
    root = README.parent
    pages = [README, *sorted((root / "docs").glob("*.md")), root / "results" / "README.md"]
    broken = [(p.name, link) for p in pages
              for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", p.read_text())
              if not link.startswith("http") and not (p.parent / link).exists()]
    assert broken == []
