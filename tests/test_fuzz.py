"""Fuzzing the readers: whatever bytes or rows come in, the answer is an array or a clear error
naming the file, never another exception."""
from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
from PIL import Image

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis not installed (pip install -e '.[test]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from facsnet.data.images import ImageReadError, read_grey, read_rgb_frames  # noqa: E402
from facsnet.data.readers import DatasetError, read_fer2013_csv  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _image_bytes(fmt: str) -> bytes:
    """A small real image in ``fmt``; GIF and TIFF with three frames (the multi-frame path)."""
    buf = io.BytesIO()
    frames = [Image.fromarray((np.arange(64, dtype=np.uint8).reshape(8, 8) * k) % 255) for k in (1, 3, 7)]
    frames[0].save(buf, format=fmt, save_all=fmt != "PNG", append_images=frames[1:] if fmt != "PNG" else [])
    return buf.getvalue()


SEEDS = {fmt: _image_bytes(fmt) for fmt in ("PNG", "GIF", "TIFF")}


@FUZZ
@given(data=st.one_of(st.binary(max_size=600),
                      st.builds(lambda fmt, cut, junk: SEEDS[fmt][:cut % (len(SEEDS[fmt]) + 1)] + junk,  # damaged real images
                                st.sampled_from(sorted(SEEDS)), st.integers(0, 4000), st.binary(max_size=40))))
def test_image_reader_returns_pixels_or_a_named_error(tmp_path, data):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    for read in (read_grey, lambda p: list(read_rgb_frames(p))):
        try:
            out = read(path)
        except ImageReadError as exc:
            assert str(path) in str(exc)
        else:
            arrays = out if isinstance(out, list) else [out]
            assert all(a.dtype == np.uint8 and a.size > 0 for a in arrays)


_row = st.tuples(st.one_of(st.integers(-2, 9).map(str), st.text(max_size=3)),
                 st.one_of(st.just(" ".join(["7"] * 2304)), st.text(alphabet="0123456789 -x", max_size=40)),
                 st.sampled_from(["Training", "PublicTest", "PrivateTest", "", "x"]))


@FUZZ
@given(rows=st.lists(st.one_of(_row, st.lists(st.text(max_size=4), max_size=2).map(tuple)), max_size=8))
def test_fer2013_csv_reader_keeps_good_rows_and_names_bad_ones(tmp_path, rows):
    path = tmp_path / f"fer2013-{uuid.uuid4().hex}.csv"   # a new name per example: no reader cache is shared
    lines = ["emotion,pixels,Usage"] + [",".join(f'"{v}"' for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    try:
        fs = read_fer2013_csv(path, split=None)
    except DatasetError as exc:
        assert str(path) in str(exc)
        return
    good = sum(1 for r in rows if len(r) == 3 and r[0] in [str(i) for i in range(7)] and r[1].split() == ["7"] * 2304)
    assert len(fs) == good and (fs.images == 7).all()
    assert all(where.startswith(f"{path}:") for where, _ in fs.skipped)
