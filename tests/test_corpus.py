"""Every case of the bad-input corpus (``tests/corpus.py``) has the outcome it states: a clear refusal, a
partial result that lists what was skipped, an interrupt that keeps what was done, or a plain success;
never a traceback, a silent wrong answer or a lost output."""
from __future__ import annotations

import pytest

from corpus import CASES, OUTCOMES, run_case


def test_the_corpus_is_broad():
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)
    assert kinds == {"image", "video", "dataset", "csv", "checkpoint", "option", "output", "interrupt", "concurrency"}
    assert {c.expect for c in CASES} == set(OUTCOMES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, tmp_path):
    assert run_case(case, tmp_path) == case.expect
