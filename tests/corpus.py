"""A corpus of bad and odd inputs, each case generated here and run through the CLI as a user would.

Every case states the outcome it must have, and the runner observes what really happened:

- ``ok``          odd but valid input: exit 0, the useful answer;
- ``partial``     some inputs bad: exit 0, the good ones done, the bad ones listed with the reason;
- ``refused``     nothing useful possible: exit 1 or 2, at most three lines naming the file or option;
- ``interrupted`` Ctrl-C: exit 130, one line saying what was kept.

Anything else is a defect: ``traceback`` (an exception or a traceback reached the user), ``silent`` (a wrong
or missing answer without a word: exit 0 with nothing done, a message that does not name the culprit),
``lost`` (an output that existed before the run was damaged). ``tests/test_corpus.py`` asserts every case;
``scripts/reliability_corpus.py`` counts the outcomes into ``results/reliability.json``.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from conftest import write_class_folder

OUTCOMES = ("ok", "partial", "refused", "interrupted")
DEFECTS = ("traceback", "silent", "lost")
TRAIN = ["--epochs", "1", "--batch-size", "8", "--precision", "fp32", "--no-progress"]


@dataclass(frozen=True)
class Case:
    name: str
    kind: str                     # image | video | dataset | csv | checkpoint | option | output | interrupt | concurrency
    expect: str                   # one of OUTCOMES
    run: Callable[[Path], str]    # builds its inputs under the folder, runs, returns the observed outcome


CASES: list[Case] = []


def case(kind: str, expect: str):
    def register(fn):
        CASES.append(Case(fn.__name__, kind, expect, fn))
        return fn
    return register


# ----------------------------------------------------------------------------- running the CLI
@dataclass
class Run:
    code: int
    out: str
    err: str


LAST: list[Run] = []       # every run of this process, to show what a failing case saw


def cli(*argv: str) -> Run:
    """``facsnet -q ARGV`` in this process; log records count as stderr, an escaping exception as a traceback."""
    from facsnet.cli import main

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")             # the same in pytest (which captures them) and the script
            try:
                code = main(["-q", *map(str, argv)])
            except SystemExit as exc:                                    # argparse errors
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:                                 # noqa: BLE001 - that is the defect
                err.write(f"Traceback (escaped main): {type(exc).__name__}: {exc}\n")
                code = -1
    finally:
        root.removeHandler(handler)
    LAST.append(Run(code, out.getvalue(), err.getvalue()))
    return LAST[-1]


def refused(run: Run, *needles: str, kept: dict[Path, bytes] | None = None) -> str:
    """Exit 1/2 with a short message holding every needle, and every kept file byte-identical."""
    if "Traceback" in run.err or "unexpected failure" in run.err:      # the catch-all is no designed refusal
        return "traceback"
    for path, before in (kept or {}).items():
        if not path.exists() or path.read_bytes() != before:
            return "lost"
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    if run.code not in (1, 2) or not lines or len(lines) > max(3, len(needles) + 1) or not all(n in run.err for n in needles):
        return "silent"
    return "refused"


def table_rows(path: Path) -> list[dict]:
    import pandas as pd

    return pd.read_csv(path).to_dict("records") if path.exists() else []


def skipped_in_table(run: Run, table: Path, bad: str, good: str = "good.jpg") -> str:
    """Exit 0, the good photo's face is there and the bad input is a row whose note says why."""
    if "Traceback" in run.err:
        return "traceback"
    rows = table_rows(table)
    good_ok = any(str(r["path"]).endswith(good) and r.get("emotion") == "happy" for r in rows)
    bad_noted = [r for r in rows if str(r["path"]).endswith(bad) and str(r.get("note", "")).startswith("skipped")]
    if run.code != 0 or not good_ok or not bad_noted or bad not in str(bad_noted[0]["note"]):
        return "silent"
    return "partial"


def good_photo(folder: Path, name: str = "good.jpg") -> Path:
    from facsnet.samples import sample_path

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(sample_path("astronaut.jpg").read_bytes())
    return path


def analyze_beside_a_good_photo(tmp: Path, bad: Path) -> str:
    good = good_photo(tmp)
    table = tmp / "t.csv"
    return skipped_in_table(cli("analyze", good, bad, "--out", table), table, bad.name)


def face_image() -> Image.Image:
    from facsnet.samples import sample_path

    return Image.open(sample_path("astronaut.jpg")).convert("RGB")


def analyze_one(tmp: Path, path: Path, faces: int | None = 1) -> str:
    """An odd but valid picture: exit 0, one row per frame, ``faces`` faces found (None: any number)."""
    table = tmp / "t.csv"
    run = cli("analyze", path, "--out", table)
    if "Traceback" in run.err:
        return "traceback"
    rows = table_rows(table)
    if run.code != 0 or not rows or any(str(r.get("note", "nan")).startswith("skipped") for r in rows):
        return "silent"
    found = sum(isinstance(r.get("emotion"), str) for r in rows)
    if faces is not None and found != faces:
        return "silent"
    return "ok"


# ----------------------------------------------------------------------------- images
def _bad_file(name: str, data: bytes):
    def build(tmp: Path) -> str:
        bad = tmp / name
        bad.write_bytes(data)
        return analyze_beside_a_good_photo(tmp, bad)
    build.__name__ = name
    return build


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    face_image().save(buf, format="JPEG")
    return buf.getvalue()


for _name, _data in {
    "zero_bytes.jpg": b"",
    "truncated.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 40,
    "random_bytes.png": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    "text_renamed.jpg": b"this is a shopping list, not a photo\n",
    "html_page.png": b"<!doctype html><html><body>404 not found</body></html>",
    "png_header_only.png": b"\x89PNG\r\n\x1a\n",
    "gif_header_only.gif": b"GIF89a",
    "bmp_bad_size.bmp": b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHH", 40, 4, -99999, 1, 24),
}.items():
    case("image", "partial")(_bad_file(_name, _data))


@case("image", "partial")
def half_a_jpeg(tmp):
    whole = _jpeg_bytes()
    bad = tmp / "half.jpg"
    bad.write_bytes(whole[: len(whole) // 2])
    return analyze_beside_a_good_photo(tmp, bad)


@case("image", "partial")
def decompression_bomb(tmp):
    bad = tmp / "bomb.png"
    Image.new("1", (30000, 30000)).save(bad)                           # 900 Mpx declared, a few kB on disk
    return analyze_beside_a_good_photo(tmp, bad)


@case("image", "partial")
def a_folder_named_like_a_photo(tmp):
    bad = tmp / "folder.jpg"
    bad.mkdir()
    return analyze_beside_a_good_photo(tmp, bad)


@case("image", "refused")
def a_photo_that_does_not_exist(tmp):
    return refused(cli("analyze", tmp / "missing.jpg"), "missing.jpg")


@case("image", "refused")
def only_broken_photos(tmp):
    (tmp / "a.jpg").write_bytes(b"nope")
    (tmp / "b.png").write_bytes(b"")
    return refused(cli("analyze", tmp / "a.jpg", tmp / "b.png"), "a.jpg", "b.png")


@case("image", "refused")
def an_empty_folder(tmp):
    (tmp / "empty").mkdir()
    return refused(cli("analyze", tmp / "empty"), "empty: folder holds no photos")


@case("image", "refused")
def a_folder_of_text_files(tmp):
    (tmp / "docs").mkdir()
    (tmp / "docs" / "readme.txt").write_text("hello")
    return refused(cli("analyze", tmp / "docs"), "readme.txt")


@case("image", "partial")
def a_broken_symlink_in_a_folder(tmp):
    folder = tmp / "photos"
    good_photo(folder)
    (folder / "gone.jpg").symlink_to(tmp / "nowhere.jpg")
    table = tmp / "t.csv"
    return skipped_in_table(cli("analyze", folder, "--out", table), table, "gone.jpg")


@case("image", "ok")
def a_png_named_jpg(tmp):
    path = tmp / "really_png.jpg"
    face_image().save(path, format="PNG")
    return analyze_one(tmp, path)


@case("image", "ok")
def a_photo_without_suffix(tmp):
    path = tmp / "IMG_0001"
    face_image().save(path, format="JPEG")
    return analyze_one(tmp, path)


@case("image", "ok")
def a_jfif_suffix(tmp):
    path = tmp / "portrait.jfif"
    face_image().save(path, format="JPEG")
    return analyze_one(tmp, path)


@case("image", "ok")
def upper_case_suffix(tmp):
    path = tmp / "PORTRAIT.JPEG"
    face_image().save(path, format="JPEG")
    return analyze_one(tmp, path)


@case("image", "ok")
def a_non_ascii_file_name(tmp):
    path = tmp / "фото лица 😀.jpg"
    face_image().save(path, format="JPEG")
    return analyze_one(tmp, path)


@case("image", "ok")
def sixteen_bit_grey_png(tmp):
    path = tmp / "grey16.png"
    grey = np.asarray(face_image().convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(path)
    return analyze_one(tmp, path)


@case("image", "ok")
def cmyk_jpeg(tmp):
    path = tmp / "print.jpg"
    face_image().convert("CMYK").save(path, format="JPEG")
    return analyze_one(tmp, path)


@case("image", "ok")
def transparent_png(tmp):
    path = tmp / "cutout.png"
    rgba = face_image().convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 200))
    rgba.save(path)
    return analyze_one(tmp, path)


@case("image", "ok")
def palette_gif(tmp):
    path = tmp / "still.gif"
    face_image().convert("P", palette=Image.ADAPTIVE).save(path)
    return analyze_one(tmp, path)


@case("image", "ok")
def exif_rotated_jpeg(tmp):
    """Stored on its side with EXIF orientation 6 (rotate 90 on show): the face is found upright."""
    path = tmp / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    face_image().transpose(Image.ROTATE_90).save(path, format="JPEG", exif=exif)
    return analyze_one(tmp, path)


@case("image", "ok")
def a_one_pixel_image(tmp):
    path = tmp / "dot.png"
    Image.new("RGB", (1, 1), (90, 90, 90)).save(path)
    return analyze_one(tmp, path, faces=0)


@case("image", "ok")
def a_one_pixel_high_strip(tmp):
    path = tmp / "strip.png"
    Image.new("RGB", (4000, 1), (90, 90, 90)).save(path)
    return analyze_one(tmp, path, faces=0)


@case("image", "ok")
def an_all_black_photo(tmp):
    path = tmp / "black.png"
    Image.new("RGB", (640, 480)).save(path)
    return analyze_one(tmp, path, faces=0)


@case("image", "ok")
def a_noise_photo_has_no_face(tmp):
    path = tmp / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(path)
    return analyze_one(tmp, path, faces=0)


@case("image", "ok")
def a_large_photo(tmp):
    path = tmp / "large.jpg"
    canvas = Image.new("RGB", (6000, 4000), (120, 110, 100))
    canvas.paste(face_image().resize((1500, 1500)), (2000, 1000))
    canvas.save(path, quality=80)
    return analyze_one(tmp, path)


@case("image", "ok")
def an_animated_gif_gives_every_frame(tmp):
    path = tmp / "anim.gif"
    face = face_image()
    face.save(path, save_all=True, append_images=[Image.new("RGB", face.size, (128,) * 3), face])
    table = tmp / "t.csv"
    run = cli("analyze", path, "--out", table)
    frames = sorted({r["frame"] for r in table_rows(table)})
    return "ok" if run.code == 0 and frames == [0, 1, 2] else ("traceback" if "Traceback" in run.err else "silent")


@case("image", "ok")
def a_multi_page_tiff_gives_every_page(tmp):
    path = tmp / "pages.tiff"
    face = face_image()
    face.save(path, save_all=True, append_images=[face.transpose(Image.FLIP_LEFT_RIGHT)])
    table = tmp / "t.csv"
    run = cli("analyze", path, "--out", table)
    rows = table_rows(table)
    happy = sorted(r["frame"] for r in rows if r.get("emotion") == "happy")
    return "ok" if run.code == 0 and happy == [0, 1] else ("traceback" if "Traceback" in run.err else "silent")


# ----------------------------------------------------------------------------- videos
def write_video(path: Path, frames: int = 6, size=(160, 120)) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    face = np.asarray(face_image().resize((size[1], size[1])))[:, :, ::-1]
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 100, np.uint8)
        frame[:, (size[0] - size[1]) // 2:(size[0] + size[1]) // 2] = face
        writer.write(frame)
    writer.release()
    return path


@case("video", "ok")
def a_short_video(tmp):
    path = write_video(tmp / "clip.avi")
    table = tmp / "t.csv"
    run = cli("analyze", path, "--out", table)
    frames = sorted({r["frame"] for r in table_rows(table) if r.get("emotion") == "happy"})
    return "ok" if run.code == 0 and frames == list(range(6)) else ("traceback" if "Traceback" in run.err else "silent")


@case("video", "ok")
def a_one_frame_video(tmp):
    return analyze_one(tmp, write_video(tmp / "one.avi", frames=1))


@case("video", "ok")
def a_video_of_odd_size(tmp):
    return analyze_one(tmp, write_video(tmp / "odd.avi", frames=2, size=(161, 121)), faces=None)


@case("video", "partial")
def a_truncated_video(tmp):
    whole = write_video(tmp / "whole.avi", frames=6).read_bytes()
    bad = tmp / "cut.avi"
    bad.write_bytes(whole[:200])
    return analyze_beside_a_good_photo(tmp, bad)


@case("video", "partial")
def a_zero_byte_video(tmp):
    bad = tmp / "empty.mp4"
    bad.write_bytes(b"")
    return analyze_beside_a_good_photo(tmp, bad)


@case("video", "partial")
def random_bytes_named_mp4(tmp):
    bad = tmp / "noise.mp4"
    bad.write_bytes(bytes(np.random.default_rng(2).integers(0, 256, 20000, dtype=np.uint8)))
    return analyze_beside_a_good_photo(tmp, bad)


@case("video", "refused")
def a_camera_that_is_not_there(tmp):
    return refused(cli("analyze", "camera:7"), "camera:7")


@case("video", "refused")
def a_camera_index_that_is_no_number(tmp):
    return refused(cli("analyze", "camera:front"), "camera:front")


# ----------------------------------------------------------------------------- datasets
@case("dataset", "refused")
def data_that_does_not_exist(tmp):
    return refused(cli("train", "--data", tmp / "nothing", *TRAIN, "--out", tmp / "run"), "nothing")


@case("dataset", "refused")
def an_empty_data_folder(tmp):
    (tmp / "d").mkdir()
    return refused(cli("train", "--data", tmp / "d", *TRAIN, "--out", tmp / "run"), str(tmp / "d"))


@case("dataset", "refused")
def a_one_class_dataset(tmp):
    data = write_class_folder(tmp / "d", classes=("happy",), per_class=6)
    return refused(cli("train", "--data", data, *TRAIN, "--out", tmp / "run"), "at least 2")


@case("dataset", "refused")
def class_folders_without_images(tmp):
    for c in ("happy", "sad"):
        (tmp / "d" / c).mkdir(parents=True)
        (tmp / "d" / c / "notes.txt").write_text("x")
    return refused(cli("train", "--data", tmp / "d", *TRAIN, "--out", tmp / "run"), str(tmp / "d"))


@case("dataset", "partial")
def a_dataset_with_corrupt_images(tmp):
    data = write_class_folder(tmp / "d", per_class=6)
    (data / "happy" / "S001_001_broken.png").write_bytes(b"\x89PNG broken")
    run = cli("train", "--data", data, *TRAIN, "--out", tmp / "run")
    if "Traceback" in run.err:
        return "traceback"
    return "partial" if run.code == 0 and "S001_001_broken.png" in run.err else "silent"


@case("dataset", "ok")
def a_dataset_of_mixed_sizes_and_colours(tmp):
    data = write_class_folder(tmp / "d", per_class=6)
    face_image().resize((97, 131)).save(data / "happy" / "S001_001_big_colour.jpg")
    run = cli("train", "--data", data, *TRAIN, "--out", tmp / "run")
    return "ok" if run.code == 0 and (tmp / "run" / "final.pt").exists() else (
        "traceback" if "Traceback" in run.err else "silent")


@case("dataset", "refused")
def cv_subject_pattern_that_matches_nothing(tmp):
    data = write_class_folder(tmp / "d", per_class=6)
    return refused(cli("cv", "--data", data, "--subject-pattern", r"^(P\d+)-", "--k", "2", *TRAIN,
                       "--out", tmp / "cv"), "id pattern")


@case("dataset", "refused")
def cv_with_fewer_subjects_than_folds(tmp):
    data = write_class_folder(tmp / "d", per_class=6, subjects=2)
    return refused(cli("cv", "--data", data, "--subject-pattern", r"^(S\d+)_", "--k", "5", *TRAIN,
                       "--out", tmp / "cv"), "2 subjects")


@case("dataset", "refused")
def evaluate_data_whose_classes_the_model_lacks(tmp):
    data = write_class_folder(tmp / "d", classes=("contempt",), per_class=3)
    return refused(cli("evaluate", "--model", "fer2013", "--data", data), "nothing to score")


@case("dataset", "refused")
def evaluate_an_au_model_on_emotions(tmp):
    data = write_class_folder(tmp / "d", classes=("happy", "sadness"), per_class=3)
    return refused(cli("evaluate", "--model", "ckplus_au", "--data", data), "ckplus_au", "Action Unit")


@case("dataset", "refused")
def a_single_file_that_is_no_dataset(tmp):
    (tmp / "faces.zip").write_bytes(b"PK\x03\x04")
    return refused(cli("train", "--data", tmp / "faces.zip", *TRAIN, "--out", tmp / "run"), "faces.zip")


@case("dataset", "refused")
def a_report_of_a_folder_with_no_run(tmp):
    (tmp / "empty").mkdir()
    return refused(cli("report", tmp / "empty"), "empty")


@case("dataset", "refused")
def a_cv_json_with_missing_keys(tmp):
    (tmp / "run").mkdir()
    (tmp / "run" / "cv.json").write_text(json.dumps({"dataset": "x"}))
    return refused(cli("report", tmp / "run"), "cv.json")


# ----------------------------------------------------------------------------- fer2013.csv
def _csv(tmp: Path, text: str) -> Path:
    path = tmp / "fer2013.csv"
    path.write_text(text)
    return path


def _pixels(value: int = 120) -> str:
    return " ".join([str(value)] * 2304)


@case("csv", "refused")
def a_csv_with_the_wrong_header(tmp):
    path = _csv(tmp, "label,image\n3," + _pixels() + "\n")
    return refused(cli("train", "--data", path, *TRAIN, "--out", tmp / "run"), "fer2013.csv", "header")


@case("csv", "refused")
def an_empty_csv(tmp):
    return refused(cli("train", "--data", _csv(tmp, ""), *TRAIN, "--out", tmp / "run"), "fer2013.csv")


@case("csv", "refused")
def a_csv_whose_every_row_is_bad(tmp):
    rows = ["9," + _pixels(), "3,1 2 3", "x," + _pixels()]
    path = _csv(tmp, "emotion,pixels,Usage\n" + "\n".join(r + ",Training" for r in rows) + "\n")
    return refused(cli("train", "--data", path, *TRAIN, "--out", tmp / "run"), "fer2013.csv", "no usable rows")


@case("csv", "partial")
def a_csv_with_some_bad_rows(tmp):
    rng = np.random.default_rng(0)
    good = [f"{c},{' '.join(map(str, rng.integers(0, 256, 2304)))},Training" for c in (3, 4) * 6]
    bad = ["3,1 2 3,Training", "11," + _pixels() + ",Training", "3," + _pixels(999) + ",Training", "only-one-field"]
    path = _csv(tmp, "emotion,pixels,Usage\n" + "\n".join(good + bad) + "\n")
    run = cli("train", "--data", path, *TRAIN, "--out", tmp / "run")
    if "Traceback" in run.err:
        return "traceback"
    return "partial" if run.code == 0 and "fer2013.csv:14" in run.err else "silent"


@case("csv", "refused")
def a_binary_file_named_csv(tmp):
    path = tmp / "fer2013.csv"
    path.write_bytes(bytes(np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8)))
    return refused(cli("train", "--data", path, *TRAIN, "--out", tmp / "run"), "fer2013.csv")


# ----------------------------------------------------------------------------- checkpoints
def _emotion_data(tmp: Path) -> Path:
    return write_class_folder(tmp / "d", classes=("happy", "sadness"), per_class=3)


def _evaluate_checkpoint(tmp: Path, name: str, data: bytes | None = None, ckpt: dict | None = None) -> str:
    path = tmp / name
    if ckpt is not None:
        import torch

        torch.save(ckpt, path)
    else:
        path.write_bytes(data)
    return refused(cli("evaluate", "--model", path, "--data", _emotion_data(tmp)), name)


def _bundled(name: str = "fer2013") -> dict:
    import torch

    from facsnet.models.hub import resolve_weights

    return torch.load(resolve_weights(name), weights_only=True)


@case("checkpoint", "refused")
def a_zero_byte_checkpoint(tmp):
    return _evaluate_checkpoint(tmp, "empty.pt", b"")


@case("checkpoint", "refused")
def a_random_byte_checkpoint(tmp):
    return _evaluate_checkpoint(tmp, "noise.pt", bytes(np.random.default_rng(4).integers(0, 256, 5000, dtype=np.uint8)))


@case("checkpoint", "refused")
def a_truncated_checkpoint(tmp):
    from facsnet.models.hub import resolve_weights

    whole = Path(resolve_weights("fer2013")).read_bytes()
    return _evaluate_checkpoint(tmp, "cut.pt", whole[: len(whole) // 2])


@case("checkpoint", "refused")
def a_malicious_pickle(tmp):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    path = tmp / "evil.pt"
    path.write_bytes(pickle.dumps(Evil()))
    run = cli("evaluate", "--model", path, "--data", _emotion_data(tmp))
    return "traceback" if "code ran" in run.out else refused(run, "evil.pt")


@case("checkpoint", "refused")
def a_checkpoint_of_an_unknown_architecture(tmp):
    return _evaluate_checkpoint(tmp, "alien.pt", ckpt={**_bundled(), "model_name": "transformer9000"})


@case("checkpoint", "refused")
def a_checkpoint_without_weights(tmp):
    ckpt = _bundled()
    ckpt.pop("state_dict")
    return _evaluate_checkpoint(tmp, "hollow.pt", ckpt=ckpt)


@case("checkpoint", "refused")
def a_checkpoint_whose_weights_do_not_fit(tmp):
    ckpt = _bundled()
    ckpt["class_names"] = ckpt["class_names"][:5]
    ckpt["model_config"] = {**ckpt["model_config"], "num_classes": 5}
    return _evaluate_checkpoint(tmp, "misfit.pt", ckpt=ckpt)


@case("checkpoint", "refused")
def a_plain_tensor_as_checkpoint(tmp):
    import torch

    return _evaluate_checkpoint(tmp, "tensor.pt", ckpt=torch.zeros(3))


@case("checkpoint", "refused")
def a_64px_model_on_48px_data(tmp):
    from facsnet.models import create_model
    from facsnet.models.checkpoint import save_checkpoint

    model = create_model("breuer2017", num_classes=2, img_size=64, class_names=["happy", "sadness"])
    save_checkpoint(tmp / "m64.pt", model, "breuer2017")
    return refused(cli("evaluate", "--model", tmp / "m64.pt", "--data", _emotion_data(tmp)), "m64.pt", "64x64")


@case("checkpoint", "refused")
def an_onnx_file_of_garbage(tmp):
    bad = tmp / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    good = good_photo(tmp)
    return refused(cli("analyze", good, "--model", bad), "model.onnx")


@case("checkpoint", "refused")
def an_unknown_bundled_model_name(tmp):
    return refused(cli("analyze", good_photo(tmp), "--model", "fer2031"), "fer2031")


@case("checkpoint", "refused")
def an_au_model_that_is_an_emotion_model(tmp):
    return refused(cli("analyze", good_photo(tmp), "--aus", "fer2013"), "fer2013")


@case("checkpoint", "refused")
def resume_from_a_damaged_last_checkpoint(tmp):
    data = write_class_folder(tmp / "d", per_class=6)
    args = ["train", "--data", data, "--batch-size", "8", "--precision", "fp32", "--no-progress", "--out", tmp / "run"]
    if cli(*args, "--epochs", "1").code != 0:
        return "silent"
    (tmp / "run" / "last.pt").write_bytes(b"half a checkpo")
    return refused(cli(*args, "--epochs", "2"), "last.pt")


# ----------------------------------------------------------------------------- options
def _option(verb: str, *options: str, needle: str):
    def build(tmp: Path) -> str:
        if verb in ("train", "cv"):
            where = ["--data", write_class_folder(tmp / "d", per_class=4), "--out", tmp / "out"]
        elif verb == "analyze":
            where = [good_photo(tmp)]
        else:
            where = []
        result = refused(cli(verb, *where, *options), needle)
        return "silent" if (tmp / "out").exists() and result == "refused" else result
    return build


for _verb, _opts, _needle in [
    ("train", ("--batch-size", "0"), "batch_size = 0"),
    ("train", ("--batch-size", "-4"), "batch_size = -4"),
    ("train", ("--epochs", "-3"), "epochs = -3"),
    ("train", ("--epochs", "ten"), "--epochs"),
    ("train", ("--lr", "-0.1"), "lr"),
    ("train", ("--val-fraction", "0"), "--val-fraction"),
    ("train", ("--val-fraction", "1.5"), "--val-fraction"),
    ("train", ("--val", "holdout", "--val-fraction", "0.9"), "--val-fraction"),   # one fold of k >= 2: at most 0.5
    ("train", ("--label-smoothing", "2"), "label_smoothing"),
    ("train", ("--erase", "-1"), "erase"),
    ("train", ("--model", "resnet9000"), "resnet9000"),
    ("train", ("--device", "tpu"), "tpu"),
    ("train", ("--max-minutes", "-5"), "max_minutes"),
    ("cv", ("--k", "0"), "k = 0"),
    ("cv", ("--k", "1"), "k = 1"),
    ("cv", ("--k", "2", "--folds", "5"), "fold(s) 5"),
    ("cv", ("--k", "2", "--folds", "one"), "--folds"),
    ("analyze", ("--min-face-score", "5"), "min_face_score"),
    ("analyze", ("--stride", "0"), "stride"),
    ("analyze", ("--max-frames", "-1"), "max_frames"),
    ("analyze", ("--detect-every", "0"), "detect_every"),
    ("analyze", ("--photo-tiles", "-2"), "photo_tiles"),
    ("analyze", ("--detector", "yolo"), "yolo"),
    ("analyze", ("--ann", "x"), "--annotate"),
    ("evaluate", ("--modle", "fer2013"), "--model"),
]:
    _n = f"option_{_verb}_{'_'.join(o.strip('-').replace('-', '_').replace('.', '_') for o in _opts)}"
    _build = _option(_verb, *_opts, needle=_needle)
    _build.__name__ = _n
    case("option", "refused")(_build)


@case("option", "refused")
def train_with_no_data_named(tmp):
    return refused(cli("train", "--out", tmp / "run"), "--data")


@case("option", "refused")
def a_shard_beyond_the_count(tmp):
    return refused(cli("analyze", good_photo(tmp), "--out", tmp / "run", "--shard", "5/4"), "--shard '5/4'")


@case("option", "refused")
def shards_into_one_table(tmp):
    return refused(cli("analyze", good_photo(tmp), "--out", tmp / "t.csv", "--shard", "1/2"), "folder")


@case("dataset", "refused")
def a_manifest_without_a_path_column(tmp):
    (tmp / "list.csv").write_text("file,participant\ngood.jpg,P1\n")
    return refused(cli("analyze", tmp / "list.csv", "--out", tmp / "run"), "list.csv", "'path' column")


@case("dataset", "refused")
def a_glob_that_matches_nothing(tmp):
    return refused(cli("analyze", str(tmp / "*.mov"), "--out", tmp / "run"), "matches nothing")


@case("output", "refused")
def merge_a_folder_that_holds_no_run(tmp):
    (tmp / "x").mkdir()
    return refused(cli("merge", tmp / "x"), "not a corpus run folder")


@case("output", "refused")
def a_corpus_rerun_with_another_model(tmp):
    good_photo(tmp / "m")
    if cli("analyze", tmp / "m", "--out", tmp / "run", "--model", "fer2013").code != 0:
        return "silent"
    kept = {p: p.read_bytes() for p in (tmp / "run" / "results").glob("*.json")}
    return refused(cli("analyze", tmp / "m", "--out", tmp / "run", "--model", "fer2013_bn"), "other settings", kept=kept)


# ----------------------------------------------------------------------------- output paths
def _kept_table(tmp: Path) -> tuple[Path, dict[Path, bytes]]:
    table = tmp / "t.csv"
    table.write_text("path,emotion\nearlier.jpg,happy\n")
    return table, {table: table.read_bytes()}


@case("output", "refused")
def every_input_fails_and_a_table_exists(tmp):
    table, kept = _kept_table(tmp)
    (tmp / "bad.jpg").write_bytes(b"no")
    return refused(cli("analyze", tmp / "bad.jpg", "--out", table), "bad.jpg", kept=kept)


@case("output", "refused")
def out_is_a_folder(tmp):
    (tmp / "t.csv").mkdir()
    return refused(cli("analyze", good_photo(tmp), "--out", tmp / "t.csv"), "is a folder")


@case("output", "refused")
def out_under_a_file(tmp):
    (tmp / "file").write_text("x")
    return refused(cli("analyze", good_photo(tmp), "--out", tmp / "file" / "t.csv"), "is a file")


@case("output", "refused")
def out_with_an_unknown_format(tmp):
    return refused(cli("analyze", good_photo(tmp), "--out", tmp / "t.xlsx"), "suffix")


@case("output", "refused")
def annotate_into_a_file_that_is_no_video(tmp):
    (tmp / "notes.txt").write_text("keep me")
    return refused(cli("analyze", good_photo(tmp), "--annotate", tmp / "notes.txt"), "notes.txt",
                   kept={tmp / "notes.txt": b"keep me"})


@case("output", "refused")
def export_into_a_folder(tmp):
    (tmp / "models").mkdir()
    return refused(cli("export", "fer2013", tmp / "models"), "is a folder")


@case("output", "refused")
def ensemble_of_one_model(tmp):
    return refused(cli("ensemble", "fer2013", "--out", tmp / "e.pt"), "ensemble")


@case("output", "refused")
def train_into_a_folder_of_another_run(tmp):
    data = write_class_folder(tmp / "d", per_class=6)
    if cli("train", "--data", data, *TRAIN, "--out", tmp / "run").code != 0:
        return "silent"
    kept = {tmp / "run" / "final.pt": (tmp / "run" / "final.pt").read_bytes()}
    other = write_class_folder(tmp / "e", per_class=7, seed=5)
    return refused(cli("train", "--data", other, *TRAIN, "--out", tmp / "run"), "--overwrite", kept=kept)


@case("output", "refused")
def train_into_a_file(tmp):
    (tmp / "notes.txt").write_text("keep me")
    data = write_class_folder(tmp / "d", per_class=4)
    return refused(cli("train", "--data", data, *TRAIN, "--out", tmp / "notes.txt"), "a file, not a folder",
                   kept={tmp / "notes.txt": b"keep me"})


@case("output", "refused")
def calibrate_over_its_own_model(tmp):
    data = write_class_folder(tmp / "d", per_class=6)
    if cli("train", "--data", data, *TRAIN, "--val", "holdout", "--out", tmp / "run").code != 0:
        return "silent"
    final = tmp / "run" / "final.pt"
    return refused(cli("calibrate", "--model", final, "--data", data, "--out", final), "input", "itself",
                   kept={final: final.read_bytes()})


@case("output", "refused")
def cv_rerun_with_another_k(tmp):
    data = write_class_folder(tmp / "d", per_class=6, subjects=4)
    common = ["cv", "--data", data, "--subject-pattern", r"^(S\d+)_", *TRAIN, "--out", tmp / "cv"]
    if cli(*common, "--k", "2").code != 0:
        return "silent"
    kept = {tmp / "cv" / "cv.json": (tmp / "cv" / "cv.json").read_bytes()}
    return refused(cli(*common, "--k", "3"), "k: 2 -> 3", kept=kept)


# ----------------------------------------------------------------------------- interrupts
@contextlib.contextmanager
def interrupting(owner, attr: str, after: int, when=lambda *args, **kwargs: True):
    """``owner.attr`` raises KeyboardInterrupt (as Ctrl-C would) once ``after`` calls matching ``when`` ran."""
    real = getattr(owner, attr)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += bool(when(*args, **kwargs))
        if calls["n"] > after:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    setattr(owner, attr, wrapper)
    try:
        yield
    finally:
        setattr(owner, attr, real)


@case("interrupt", "interrupted")
def ctrl_c_during_analyze(tmp):
    from facsnet.inference import Analyzer
    from facsnet.samples import sample_path

    photos = [sample_path(n) for n in ("astronaut.jpg", "grace_hopper.jpg", "group.jpg")]
    table, kept = _kept_table(tmp)
    with interrupting(Analyzer, "_analyze_source", after=2):
        run = cli("analyze", *photos, "--out", table)
    partial = tmp / "t.partial.csv"
    if run.code != 130 or "Traceback" in run.err or table.read_bytes() != kept[table]:
        return "traceback" if "Traceback" in run.err else ("lost" if table.read_bytes() != kept[table] else "silent")
    return "interrupted" if len(table_rows(partial)) >= 2 and "t.partial.csv" in run.err else "lost"


@case("interrupt", "interrupted")
def ctrl_c_during_training_then_resume(tmp):
    from facsnet.training import loop

    data = write_class_folder(tmp / "d", per_class=6)
    args = ["train", "--data", data, "--batch-size", "8", "--precision", "fp32", "--no-progress",
            "--epochs", "3", "--out", tmp / "run"]
    with interrupting(loop, "save_checkpoint", after=1, when=lambda path, *a, **k: Path(path).name == "last.pt"):
        run = cli(*args)
    if run.code != 130 or "Traceback" in run.err:
        return "traceback" if "Traceback" in run.err else "silent"
    if not (tmp / "run" / "last.pt").exists() or "resumes" not in run.err:
        return "lost"
    again = cli(*args)                                              # resumes: epochs 2 and 3 only
    history = json.loads((tmp / "run" / "history.json").read_text()) if (tmp / "run" / "history.json").exists() else []
    return "interrupted" if again.code == 0 and [h["epoch"] for h in history] == [1, 2, 3] else "silent"


@case("interrupt", "interrupted")
def ctrl_c_during_cv(tmp):
    from facsnet.training import cv as cv_module

    data = write_class_folder(tmp / "d", per_class=6, subjects=4)
    args = ["cv", "--data", data, "--subject-pattern", r"^(S\d+)_", "--k", "2", *TRAIN, "--out", tmp / "cv"]
    with interrupting(cv_module, "train", after=1):
        run = cli(*args)
    if run.code != 130 or "Traceback" in run.err:
        return "traceback" if "Traceback" in run.err else "silent"
    fold1 = tmp / "cv" / "fold01" / "final.pt"
    if not fold1.exists() or "kept in" not in run.err:
        return "lost"
    first = fold1.read_bytes()
    again = cli(*args)                                               # fold 2 only; fold 1 is kept as it was
    if again.code != 0 or not (tmp / "cv" / "cv.json").exists():
        return "silent"
    return "interrupted" if fold1.read_bytes() == first else "lost"


# ----------------------------------------------------------------------------- two writers
@case("concurrency", "ok")
def two_processes_one_table_and_one_cache(tmp):
    import os
    import subprocess
    import sys

    from facsnet.samples import sample_path

    script = ("import sys, facsnet\n"
              "facsnet.analyze(sys.argv[1], out=sys.argv[2], backend='onnx', model='fer2013')\n")
    env = {**os.environ, "FACSNET_CACHE": str(tmp / "cache")}
    table = tmp / "t.csv"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(sample_path(n)), str(table)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in ("astronaut.jpg", "grace_hopper.jpg")]
    outs = [finish(p) for p in procs]
    if any("Traceback" in e for _, e in outs):
        return "traceback"
    rows = table_rows(table)
    leftovers = list((tmp / "cache").rglob("*.tmp"))
    return "ok" if [p.returncode for p in procs] == [0, 0] and len(rows) == 1 and not leftovers else "lost"


@case("concurrency", "ok")
def two_processes_fill_one_dataset_cache(tmp):
    import os
    import subprocess
    import sys

    data = write_class_folder(tmp / "d", per_class=20)
    script = ("import sys\nfrom facsnet.data import load_dataset\n"
              "print(len(load_dataset(sys.argv[1])))\n")
    env = {**os.environ, "FACSNET_CACHE": str(tmp / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(data)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [finish(p) for p in procs]
    if any("Traceback" in e for _, e in outs):
        return "traceback"
    third = subprocess.run([sys.executable, "-c", script, str(data)], env=env, capture_output=True, text=True)
    sizes = [o.strip() for o, _ in outs] + [third.stdout.strip()]
    return "ok" if sizes == ["60"] * 3 and not list((tmp / "cache").rglob("*.tmp")) else "lost"


def finish(proc, timeout: float = 300) -> tuple[str, str]:
    """A child's output; one that hangs is killed (and its hang shows as a traceback)."""
    import subprocess

    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return out, err + "\nTraceback: timed out"


def run_case(c: Case, folder: Path) -> str:
    """The observed outcome of one case, run in its own empty folder."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return c.run(folder)
    except Exception as exc:                                             # noqa: BLE001 - the runner's own defect
        return f"traceback ({type(exc).__name__}: {exc})"
