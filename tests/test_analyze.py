"""facsnet.analyze on real public-domain photos, generated scenes and videos, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import facsnet
from facsnet.cli import main
from facsnet.inference import COLUMNS, Analyzer, FaceClassifier, MediaError, OnnxModel, export_onnx
from facsnet.inference.results import FACE_MESH_COLUMNS
from facsnet.labels import EMOTIONS
from facsnet.inference.classifier import PARITY_ATOL
from facsnet.inference.media import as_rgb
from facsnet.samples import make_video, sample_path, sample_paths


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # the ONNX export is cached in a folder of this module's own
        mp.setenv("FACSNET_CACHE", str(tmp_path_factory.mktemp("onnx-cache")))
        yield Analyzer()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    return {n: make_video(root / f"faces{n}.mp4", n_frames=20, faces=n, fps=10) for n in (0, 1, 3)}


def test_skimage_astronaut_is_happy(analyzer):
    skdata = pytest.importorskip("skimage.data")
    result = analyzer.analyze(skdata.astronaut())
    assert result.emotions == ["happy"]
    assert result.faces[0].probabilities["happy"] > 0.9


def test_bundled_photos_zero_one_and_several_faces(analyzer):
    result = analyzer.analyze(sample_paths())
    per_photo = {fr.path.rsplit("/", 1)[-1]: fr for fr in result.frames}
    assert len(per_photo["astronaut.jpg"].faces) == 1 and per_photo["astronaut.jpg"].faces[0].emotion == "happy"
    assert len(per_photo["grace_hopper.jpg"].faces) == 1
    group = per_photo["group.jpg"]
    assert len(group.faces) == 3
    # The two astronauts in the group picture are happy; Hopper (tilted 15 degrees) is not.
    by_x = sorted(group.faces, key=lambda f: f.box[0])
    assert [f.emotion for f in by_x][0] == "happy" and by_x[2].emotion == "happy"
    assert abs(by_x[1].roll_deg) > 8  # the tilt was measured, then levelled for the model


def test_no_face_gives_one_row_with_a_note(analyzer):
    result = analyzer.analyze(np.full((240, 320, 3), 90, np.uint8))
    assert result.faces == [] and len(result.frames) == 1
    df = result.to_frame()
    assert len(df) == 1 and pd.isna(df.loc[0, "face"]) and pd.isna(df.loc[0, "emotion"])
    assert df.loc[0, "note"] == "no face found"


def test_table_columns_are_stable_and_probabilities_sum_to_one(analyzer):
    df = analyzer.analyze(sample_path("group.jpg")).to_frame()
    assert list(df.columns) == COLUMNS
    assert COLUMNS[:9] == ["path", "frame", "time_s", "face", "face_id", "x", "y", "w", "h"]
    assert COLUMNS[-10:] == [*EMOTIONS, "emotion", "note"]
    model_classes = [c for c in EMOTIONS if c != "contempt"]  # fer2013_bn has 7 classes
    assert np.allclose(df[model_classes].sum(axis=1), 1.0, atol=1e-5)
    assert df["contempt"].isna().all()
    assert (df["emotion"] == df[model_classes].astype(float).idxmax(axis=1)).all()
    assert df["face"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json", ".parquet"])
def test_table_writers_round_trip(analyzer, tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    result = analyzer.analyze([sample_path("astronaut.jpg"), np.zeros((50, 60), np.uint8)])
    path = result.save(tmp_path / f"t{suffix}")
    if suffix == ".csv":
        back = pd.read_csv(path)
    elif suffix == ".parquet":
        back = pd.read_parquet(path)
    elif suffix == ".jsonl":
        back = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    else:
        back = pd.DataFrame(json.loads(path.read_text())["rows"])
    assert list(back.columns) == COLUMNS and len(back) == 2
    assert back.loc[0, "emotion"] == "happy" and back.loc[0, "happy"] == pytest.approx(result.faces[0].probabilities["happy"])
    assert pd.isna(back.loc[1, "emotion"])
    with pytest.raises(ValueError, match="suffix"):
        result.save(tmp_path / "t.xlsx")


@pytest.mark.parametrize("precision,atol", [("fp32", 1e-5), ("bf16", PARITY_ATOL)])
def test_batching_does_not_change_the_answer(videos, precision, atol):
    """fp32 gives the same probabilities at any batch size; bf16 kernels may round differently
    per batch size, within the tolerance the classifier checks itself against on load."""
    many = Analyzer(precision=precision)
    one = Analyzer(batch_frames=1, precision=precision)
    a = many.analyze(videos[3])
    b = one.analyze(videos[3])
    pa = np.array([[f.probabilities[c] for c in many.class_names] for f in a.faces])
    pb = np.array([[f.probabilities[c] for c in many.class_names] for f in b.faces])
    assert pa.shape == (60, 7) and np.abs(pa - pb).max() <= atol
    assert [f.emotion for f in a.faces] == [f.emotion for f in b.faces]


@pytest.mark.parametrize("n_faces", [0, 1, 3])
def test_video_faces_frames_and_timestamps(analyzer, videos, n_faces):
    result = analyzer.analyze(videos[n_faces])
    assert len(result.frames) == 20
    assert [len(fr.faces) for fr in result.frames] == [n_faces] * 20
    assert [fr.frame for fr in result.frames] == list(range(20))
    assert [fr.time_s for fr in result.frames] == pytest.approx([i / 10 for i in range(20)])
    if n_faces == 1:
        assert set(result.emotions) == {"happy"}


def test_video_stride_and_max_frames(analyzer, videos):
    result = analyzer.analyze(videos[1], stride=3, max_frames=4)
    assert [fr.frame for fr in result.frames] == [0, 3, 6, 9]
    assert [fr.time_s for fr in result.frames] == pytest.approx([0.0, 0.3, 0.6, 0.9])


def test_detecting_every_third_frame_keeps_the_faces_between(analyzer, videos):
    tracked = Analyzer(detect_every=3, backend=analyzer.classifier.backend)
    calls = []
    real = tracked.detector.detect
    tracked.detector.detect = lambda rgb: calls.append(1) or real(rgb)
    result = tracked.analyze(videos[1])
    assert len(calls) == 7 and len(result.frames) == 20  # frames 0, 3, ..., 18
    assert [len(fr.faces) for fr in result.frames] == [1] * 20
    assert result.frames[1].faces[0].box == result.frames[0].faces[0].box  # carried over
    assert result.frames[3].faces[0].box != result.frames[0].faces[0].box  # detected again
    assert set(result.emotions) == {"happy"}


def playable(path):
    """(codec, pixel format, frames) of a video as a browser would meet it: H.264 or VP9 in 4:2:0."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames


def test_annotated_videos_are_h264_or_vp9_with_even_sides(tmp_path):
    from facsnet.inference.annotate import VideoSink

    for name, codec in (("a.mp4", "h264"), ("b.webm", "vp9"), ("c.mov", "h264")):
        sink = VideoSink(tmp_path / name, fps=12.5)
        for k in range(5):
            sink.write(np.full((121, 161, 3), 40 * k, np.uint8))      # odd sides are padded to even
        sink.close()
        assert playable(tmp_path / name) == (codec, "yuv420p", 5)
    with open(tmp_path / "a.mp4", "rb") as fh:                         # the index (moov) before the data: streams at once
        head = fh.read(4096)
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_the_frames_to_come_are_counted_from_headers(videos, tmp_path):
    from facsnet.inference.media import expected_frames

    face = Image.open(sample_path("astronaut.jpg")).convert("RGB")
    face.save(tmp_path / "three.gif", save_all=True,
              append_images=[face.transpose(Image.FLIP_LEFT_RIGHT), Image.new("RGB", face.size, (128,) * 3)])
    assert expected_frames([videos[1]]) == 20 and expected_frames([videos[1]], stride=3) == 7
    assert expected_frames([videos[1], tmp_path / "three.gif", sample_path("group.jpg")], max_frames=5) == 5 + 3 + 1
    assert expected_frames([np.zeros((8, 8, 3), np.uint8), "camera:0"]) is None


def test_annotated_video_and_photos(analyzer, videos, tmp_path):
    analyzer.analyze(videos[1], stride=2, annotate_to=tmp_path / "out.mp4")
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 640
    cap.release()
    assert playable(tmp_path / "out.mp4") == ("h264", "yuv420p", 10)
    assert not list(tmp_path.glob(".*partial*"))
    analyzer.analyze([sample_path("astronaut.jpg"), videos[0]], annotate_to=tmp_path / "dir")
    names = sorted(p.name for p in (tmp_path / "dir").iterdir())
    assert names == ["astronaut.annotated.jpg", "faces0.annotated.mp4"]
    drawn = np.asarray(Image.open(tmp_path / "dir" / "astronaut.annotated.jpg"))
    assert drawn.shape == (512, 512, 3) and np.abs(drawn.astype(int) - np.asarray(Image.open(sample_path("astronaut.jpg"))).astype(int)).max() > 100


def test_saved_crops_are_what_the_model_saw_one_file_per_face(tmp_path, videos):
    fast = Analyzer("fer2013_bn", backend="torch", precision="fp32")
    res = fast.analyze([sample_path("group.jpg"), videos[3]], max_frames=2, crops_to=tmp_path / "crops")
    group, video = res.frames[0], res.frames[1:]
    assert len(group.faces) > 1 and [len(fr.faces) for fr in video] == [3, 3]
    expected = [f"group.face{i}.png" for i in range(len(group.faces))]
    expected += [f"faces3.frame{fr.frame}.face{i}.png" for fr in video for i in range(3)]
    assert sorted(p.name for p in (tmp_path / "crops").iterdir()) == sorted(expected)
    crops = np.stack([np.asarray(Image.open(tmp_path / "crops" / name)) for name in expected[:len(group.faces)]])
    assert crops.shape[1:] == (48, 48)
    probs = fast.classifier.predict_proba(crops)        # the saved crops give the table's probabilities back
    table = np.array([[face.probabilities[c] for c in fast.class_names] for face in group.faces])
    assert np.allclose(probs, table, atol=1e-5)
    assert all(fr.crops is None for fr in res.frames)     # the result holds no pixels
    assert main(["analyze", str(sample_path("group.jpg")), "--out", str(tmp_path / "corpus"), "--save-crops",
                 str(tmp_path / "c2"), "--shard", "1/1"]) == 2 and not (tmp_path / "c2").exists()


def test_outputs_of_sources_with_one_stem_do_not_overwrite_each_other(tmp_path):
    from facsnet.inference.pipeline import output_names

    assert output_names([Path("a/x.jpg"), Path("b/x.jpg"), Path("c/y.png"), np.zeros((2, 2, 3), np.uint8),
                         "camera:0"]) == ["x-0", "x-1", "y", "array3", "camera0"]
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        Image.open(sample_path("astronaut.jpg")).save(tmp_path / day / "IMG_1.jpg")
    facsnet.analyze([tmp_path / "day1", tmp_path / "day2"], model="fer2013_bn", aus=None, au_intensity=None,
                    landmarks=False, progress=False, save_crops=str(tmp_path / "seen"))
    assert sorted(p.name for p in (tmp_path / "seen").iterdir()) == ["IMG_1-0.face0.png", "IMG_1-1.face0.png"]
    with pytest.raises(ValueError, match="an input folder"):
        facsnet.analyze([tmp_path / "day1"], model="fer2013_bn", save_crops=str(tmp_path / "day1"))


def _bad_files(tmp_path):
    good = Image.open(sample_path("astronaut.jpg"))
    data = sample_path("astronaut.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    Image.new("L", (700, 700)).save(tmp_path / "bomb.png")
    good.convert("RGBA").save(tmp_path / "rgba.png")
    good.convert("P").save(tmp_path / "palette.png")
    good.convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray((np.asarray(good.convert("L")).astype(np.uint16) * 257)).save(tmp_path / "sixteen.png")
    return tmp_path


def test_bad_inputs_are_reported_by_name_and_the_batch_goes_on(analyzer, tmp_path, monkeypatch):
    import facsnet.data.images as images

    monkeypatch.setattr(images, "MAX_PIXELS", 300_000)  # bomb.png has 490,000 pixels, the photos 262,144
    folder = _bad_files(tmp_path)
    sources = [folder / n for n in ("truncated.jpg", "notes.txt", "empty.mp4", "garbage.mp4", "bomb.png",
                                    "rgba.png", "palette.png", "cmyk.jpg", "sixteen.png", "missing.jpg")]
    result = analyzer.analyze(sources)
    skipped = dict(result.skipped)
    assert set(skipped) == {str(folder / n) for n in ("truncated.jpg", "notes.txt", "empty.mp4", "garbage.mp4",
                                                      "bomb.png", "missing.jpg")}
    assert "truncated.jpg" in skipped[str(folder / "truncated.jpg")]
    assert "too large" in skipped[str(folder / "bomb.png")]
    assert "empty file" in skipped[str(folder / "empty.mp4")]
    assert "no such file" in skipped[str(folder / "missing.jpg")]
    assert "cannot open" in analyzer.analyze("camera:99").skipped[0][1]  # no such camera
    # RGBA, palette, CMYK and 16-bit versions of the astronaut are read, not refused: still happy.
    assert [fr.path.rsplit("/", 1)[-1] for fr in result.frames] == ["rgba.png", "palette.png", "cmyk.jpg", "sixteen.png"]
    assert result.emotions == ["happy"] * 4


def test_a_truncated_video_gives_its_readable_frames_or_a_named_skip(analyzer, videos, tmp_path):
    data = videos[1].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    result = analyzer.analyze([cut, sample_path("astronaut.jpg")])
    assert result.frames[-1].path.endswith("astronaut.jpg")  # the batch went on
    if result.skipped:
        assert result.skipped[0][0] == str(cut) and "cut.mp4" in result.skipped[0][1]
    else:
        assert 0 < len(result.frames) - 1 <= 20 and all(len(fr.faces) == 1 for fr in result.frames)


def test_arrays_of_every_common_layout(analyzer):
    rgb = np.asarray(Image.open(sample_path("astronaut.jpg")))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    result = analyzer.analyze([rgb, grey, rgba, rgb.astype(np.float32) / 255.0])
    assert result.emotions == ["happy"] * 4
    bad = analyzer.analyze(np.zeros((4, 4, 7), np.uint8))
    assert bad.frames == [] and bad.skipped[0][0] == "array:0" and "shape (4, 4, 7)" in bad.skipped[0][1]
    with pytest.raises(MediaError, match="array.*shape"):
        as_rgb(np.zeros((4, 4, 7), np.uint8))


def test_onnx_export_matches_pytorch_to_1e4(tmp_path):
    torch_clf = FaceClassifier("fer2013", backend="torch", precision="fp32")
    path = export_onnx(torch_clf.model.model, tmp_path / "m.onnx", framing=torch_clf.framing)
    onnx_model = OnnxModel(path)
    assert onnx_model.class_names == torch_clf.class_names and onnx_model.input_size == (1, 48, 48)
    assert onnx_model.framing == torch_clf.framing
    onnx_clf = FaceClassifier(str(path), backend="onnx")
    openvino_clf = FaceClassifier(str(path), backend="openvino", precision="fp32")
    crops = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    group = Analyzer("fer2013", backend="torch")
    photo = np.asarray(Image.open(sample_path("group.jpg")))
    crops = np.concatenate([crops, group.crops(photo, group.detector.detect(photo))])  # + 3 real faces
    p_torch, p_onnx = torch_clf.predict_proba(crops), onnx_clf.predict_proba(crops)
    assert onnx_clf.backend == "onnx" and np.abs(p_torch - p_onnx).max() < 1e-4
    assert np.abs(p_torch - openvino_clf.predict_proba(crops)).max() < 1e-4
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        (tmp_path / "bad.onnx").write_bytes(b"nonsense")
        OnnxModel(tmp_path / "bad.onnx")
    import onnx

    for key, value, message in (("temperature", "-1.0", "temperature -1.0"), ("prior_strength", "2", "prior_strength 2"),
                                ("class_prior", "[0.5, 0.5]", "one positive share per class")):
        edited = onnx.load(str(path))
        for prop in edited.metadata_props:
            if prop.key == key:
                prop.value = value
                break
        else:
            edited.metadata_props.add(key=key, value=value)
        onnx.save(edited, str(tmp_path / f"edited_{key}.onnx"))
        with pytest.raises(ValueError, match=message):      # hand-edited metadata, checked as a checkpoint's is
            OnnxModel(tmp_path / f"edited_{key}.onnx")


def test_the_default_model_serves_the_same_probabilities_on_every_backend():
    """What ships: five int8 members averaged, mirror-averaged, tempered and prior-corrected at 0.3,
    the same on ONNX Runtime and OpenVINO as in PyTorch."""
    from facsnet.inference.classifier import backend_available
    from facsnet.models.hub import DEFAULT_MODEL

    crops = np.random.default_rng(1).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    reference = FaceClassifier(DEFAULT_MODEL, backend="torch", precision="fp32")
    from facsnet.models.checkpoint import read_checkpoint, served_prior_strength
    from facsnet.models.hub import resolve_weights

    recorded = served_prior_strength(read_checkpoint(resolve_weights(DEFAULT_MODEL)))
    assert recorded > 0 and reference.prior_strength == pytest.approx(recorded) and reference.tta_flip   # served corrected
    expected = reference.predict_proba(crops)
    np.testing.assert_allclose(expected.sum(1), 1.0, atol=1e-5)
    for backend in [b for b in ("onnx", "openvino") if backend_available(b)]:
        served = FaceClassifier(DEFAULT_MODEL, backend=backend, precision="fp32")
        np.testing.assert_allclose(served.predict_proba(crops), expected, atol=1e-4, err_msg=backend)


def test_cli_analyze_and_export(tmp_path, videos, capsys, caplog):
    assert main(["-q", "analyze", str(sample_path("astronaut.jpg")), str(videos[1]), "--stride", "5",
                 "--out", str(tmp_path / "t.csv"), "--annotate", str(tmp_path / "ann")]) == 0
    df = pd.read_csv(tmp_path / "t.csv")
    assert len(df) == 1 + 4 and df["emotion"].tolist() == ["happy"] * 5
    assert df["time_s"].isna().tolist() == [True, False, False, False, False]
    assert main(["-q", "analyze", str(tmp_path / "missing.jpg")]) == 1
    assert "skipped 1 source" in capsys.readouterr().err
    assert "missing.jpg: no such file" in caplog.text                      # a warning on stderr, once
    assert main(["-q", "export", "ckplus48", str(tmp_path / "ck.onnx")]) == 0
    assert OnnxModel(tmp_path / "ck.onnx").class_names[0] == "anger"


def test_top_level_analyze_defaults_to_the_bundled_photos():
    from facsnet.models.hub import DEFAULT_MODEL

    result = facsnet.analyze()
    assert len(result.frames) == 3 and len(result.faces) == 5 and result.model == DEFAULT_MODEL


def test_au_columns_from_the_bundled_au_model(tmp_path):
    analyzer = Analyzer(au_model="ckplus_au")
    result = analyzer.analyze(sample_path("astronaut.jpg"))
    aus = result.faces[0].aus
    assert result.au_names[:3] == ["AU1", "AU2", "AU4"] and len(aus) == 19
    # A Duchenne smile: cheek raiser and lip corner puller on, brow lowerer off.
    assert aus["AU6"] > 0.5 and aus["AU12"] > 0.5 and aus["AU4"] < 0.5
    df = result.to_frame()
    assert list(df.columns) == COLUMNS + result.au_names
    with pytest.raises(ValueError, match="not an Action Unit model"):
        Analyzer(au_model="fer2013")
    with pytest.raises(ValueError, match="not an emotion model"):
        Analyzer(model="ckplus_au")


def test_table_columns_are_floats_and_each_face_knows_its_frame(analyzer, videos):
    res = analyzer.analyze(videos[1], max_frames=3)
    df = res.to_frame()
    assert df["contempt"].dtype == "float64" and df["contempt"].isna().all()      # the model has no contempt
    assert df["time_s"].dtype == "float64" and df["happy"].dtype == "float64"
    assert [f.frame for f in res.faces] == [0, 1, 2] and res.faces[1].time_s == pytest.approx(0.1)


def crossing_clip(path, n_frames=40, size=(480, 320), face=100):
    """Two people crossing: the astronaut left to right high, Hopper right to left lower (drawn over
    her where they overlap). Returns the path and each frame's true centres (astronaut, Hopper)."""
    from facsnet.samples import face_patch

    w, h = size
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(60, 200, (h, w, 3), dtype=np.uint8), (0, 0), 6)
    patches = [cv2.resize(face_patch(n), (face, int(face * 1.1)), interpolation=cv2.INTER_AREA)
               for n in ("astronaut.jpg", "grace_hopper.jpg")]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    truth = []
    for t in range(n_frames):
        frame, centres = background.copy(), []
        for i, patch in enumerate(patches):
            x = int(20 + (w - 40 - face) * (t / (n_frames - 1) if i == 0 else 1 - t / (n_frames - 1)))
            y = 60 if i == 0 else 120
            frame[y:y + patch.shape[0], x:x + face] = patch
            centres.append((x + face / 2, y + patch.shape[0] / 2))
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        truth.append(centres)
    writer.release()
    return path, truth


def test_two_people_crossing_keep_their_face_ids(analyzer, tmp_path):
    clip, truth = crossing_clip(tmp_path / "crossing.avi")
    result = analyzer.analyze(clip)
    ids_of = {0: [], 1: []}                      # the ids given to each person, frame by frame
    for fr in result.frames:
        for f in fr.faces:
            cx, cy = f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2
            person = int(np.argmin([np.hypot(cx - x, cy - y) for x, y in truth[fr.frame]]))
            ids_of[person].append(f.face_id)
    assert all(len(v) >= 30 for v in ids_of.values())            # both faces found in most frames
    switches = sum(sum(a != b for a, b in zip(v, v[1:])) for v in ids_of.values())
    assert switches <= 1, ids_of


def test_a_tracker_keeps_an_id_through_a_short_occlusion():
    from facsnet.faces.track import FaceTracker

    tracker, seen = FaceTracker(), []
    for t in range(30):
        a = (10 + 10 * t, 50, 60, 60)                 # moving right
        b = (310 - 10 * t, 60, 60, 60)                # moving left, hidden behind a for frames 14-16
        boxes = [a] if 14 <= t <= 16 else [a, b]
        seen.append(tracker.update(boxes))
    assert {ids[0] for ids in seen} == {0}
    assert {ids[1] for ids in seen if len(ids) == 2} == {1}
    assert tracker.update([(900, 900, 60, 60)]) == [2]           # someone new: a new id


def test_au_presence_and_intensity_columns_by_default_and_none_with_no_aus(tmp_path):
    photo = str(sample_path("astronaut.jpg"))
    assert main(["-q", "analyze", photo, "--out", str(tmp_path / "t.csv")]) == 0
    df = pd.read_csv(tmp_path / "t.csv")
    presence = [c for c in df.columns if c.startswith("AU") and not c.endswith("_intensity")]
    intensity = [c for c in df.columns if c.endswith("_intensity")]
    assert len(presence) == 19 and len(intensity) == 17
    assert df[intensity].to_numpy().min() >= 0 and df[intensity].to_numpy().max() <= 5
    smile = df.iloc[0]
    assert smile["AU12"] > 0.9 and smile["AU12_intensity"] > smile["AU4_intensity"]   # a smile, brows not lowered
    assert main(["-q", "analyze", photo, "--out", str(tmp_path / "e.csv"), "--no-aus"]) == 0
    assert list(pd.read_csv(tmp_path / "e.csv").columns) == COLUMNS + FACE_MESH_COLUMNS
    assert main(["-q", "analyze", photo, "--out", str(tmp_path / "o.csv"), "--no-aus", "--no-landmarks"]) == 0
    assert list(pd.read_csv(tmp_path / "o.csv").columns) == COLUMNS


def test_a_tracker_with_a_stride_keeps_an_id_through_a_missed_sample():
    from facsnet.faces.track import FaceTracker

    tracker, ids = FaceTracker(), []
    for k in range(8):                                 # every 5th frame of a face moving 4 px a frame
        box = (100 + 20 * k, 80, 60, 60)
        ids.append(tracker.update([] if k == 4 else [box], step=5))
    assert [i for i in ids if i] == [[0]] * 7


def test_device_is_checked_and_auto_falls_back_to_the_cpu(tmp_path, capsys):
    import torch

    photo = str(sample_path("astronaut.jpg"))
    assert main(["-q", "analyze", photo, "--no-aus", "--device", "tpu"]) == 2
    assert "not a device" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["-q", "analyze", photo, "--no-aus", "--device", "cuda"]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
        result = Analyzer(model="fer2013", device="auto").analyze(photo)   # no GPU: the CPU, same answer
        assert result.emotions == ["happy"]
