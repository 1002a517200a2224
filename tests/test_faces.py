"""Face detection, alignment and framing on real public-domain portraits and generated scenes."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facsnet.faces import AlignSpec, align_face, create_detector, list_detectors
from facsnet.faces.detect import blazeface_anchors, detect_tiled, letterbox, weighted_nms
from facsnet.faces.framing import measure_framing
from facsnet.samples import face_patch, sample_path


@pytest.fixture(scope="module")
def detector():
    return create_detector("blazeface")


@pytest.fixture(scope="module")
def astronaut():
    from facsnet.data import read_rgb

    return read_rgb(sample_path("astronaut.jpg"))


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def test_registry_and_unknown_detector():
    assert "blazeface" in list_detectors()
    with pytest.raises(ValueError, match="unknown face detector 'nope'.*blazeface"):
        create_detector("nope")


def test_anchors_cover_the_input_grid():
    a = blazeface_anchors(48)
    assert a.shape == (2304, 2)
    assert np.allclose(a[0], [0.5 / 48, 0.5 / 48]) and np.allclose(a[-1], [47.5 / 48, 47.5 / 48])
    assert np.allclose(a[1] - a[0], [1 / 48, 0])  # x runs fastest


def test_letterbox_keeps_aspect_and_centres():
    img = np.full((480, 640, 3), 255, np.uint8)
    out, scale, (px, py) = letterbox(img, 192)
    assert out.shape == (192, 192, 3) and scale == pytest.approx(0.3)
    assert (px, py) == (0, 24) and out[23].max() == 0 and out[24].min() == 255 and out[168].max() == 0


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [5, 5, 5, 5]], np.float64)
    scores = np.array([0.9, 0.6, 0.8, 0.7])
    kps = boxes[:, None, :2].repeat(6, axis=1)
    b, s, k = weighted_nms(boxes, scores, kps, 0.3)
    assert len(s) == 3  # the two overlapping boxes merge; the degenerate one stands alone
    assert s.tolist() == [0.9, 0.8, 0.7]
    assert b[0][0] == pytest.approx((0 * 0.9 + 1 * 0.6) / 1.5)  # score-weighted mean
    assert np.allclose(b[1], [50, 50, 60, 60])


def test_astronaut_face_and_eyes(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    f = faces[0]
    x, y, w, h = f.box
    assert 0.85 < f.score <= 1 and 80 < w < 140 and 80 < h < 140
    # Eyes inside the upper half of the box, image-left eye left of the image-right eye, about level.
    for eye in (f.left_eye, f.right_eye):
        assert x < eye[0] < x + w and y < eye[1] < y + h / 2
    assert f.left_eye[0] < f.right_eye[0] and abs(f.roll_degrees) < 10


@pytest.mark.parametrize("degrees", [-20, 20])
def test_eye_line_follows_a_rotated_face(detector, astronaut, degrees):
    upright = detector.detect(astronaut)[0].roll_degrees
    faces = detector.detect(rotate(astronaut, degrees))
    assert len(faces) == 1
    # cv2 rotates counter-clockwise for positive angles: the eye line tilts by -degrees in image coords.
    assert faces[0].roll_degrees == pytest.approx(upright - degrees, abs=6)


def test_no_face_in_noise_or_a_flat_frame(detector):
    rng = np.random.default_rng(0)
    assert detector.detect(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) == []
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []


def test_several_faces_of_different_sizes_and_small_ones_by_tiles(detector):
    canvas = np.full((540, 960, 3), 128, np.uint8)
    for i, (x, size) in enumerate([(30, 260), (360, 180), (650, 110)]):
        patch = face_patch(("astronaut.jpg", "grace_hopper.jpg")[i % 2])
        patch = cv2.resize(patch, (int(size * patch.shape[1] / patch.shape[0]), size), interpolation=cv2.INTER_AREA)
        canvas[100:100 + patch.shape[0], x:x + patch.shape[1]] = patch
    # The smallest face is ~11 px at the detector's 192x192 input: found only by the tiled pass.
    assert len(detector.detect(canvas)) == 2
    faces = detect_tiled(detector, canvas, grid=2)
    assert len(faces) == 3
    assert sorted(int(f.box[0] // 320) for f in faces) == [0, 1, 2]  # one per third of the width


def test_bad_frame_is_refused(detector):
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        detector.detect(np.zeros((10, 10), np.uint8))


def _eye_dots(h=300, w=400, left=(150, 120), right=(250, 140)):
    img = np.zeros((h, w), np.uint8)
    for x, y in (left, right):
        cv2.circle(img, (x, y), 3, 255, -1)
    return img, left, right


def test_align_puts_the_eyes_level_where_the_spec_says():
    img, left, right = _eye_dots()
    spec = AlignSpec(96, 0.4, 0.35)
    crop = align_face(img, left, right, spec)
    ys, xs = np.nonzero(crop > 100)
    left_blob, right_blob = xs < 48, xs >= 48
    assert ys[left_blob].mean() == pytest.approx(ys[right_blob].mean(), abs=0.8)  # level
    assert ys.mean() == pytest.approx(96 * 0.35 - 0.5, abs=1.0)
    assert xs[right_blob].mean() - xs[left_blob].mean() == pytest.approx(96 * 0.4, abs=1.0)


def test_align_shrinks_a_huge_face_without_aliasing(astronaut, detector):
    """The same face at 8x resolution gives nearly the same 48x48 crop (area-averaged first)."""
    f = detector.detect(astronaut)[0]
    small = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    big = cv2.resize(small, None, fx=8, fy=8, interpolation=cv2.INTER_CUBIC)
    a = align_face(small, f.left_eye, f.right_eye).astype(float)
    b = align_face(big, f.left_eye * 8 + 3.5, f.right_eye * 8 + 3.5).astype(float)
    assert np.abs(a - b).mean() < 6


def test_measured_framing_recovers_the_framing_crops_were_made_with(astronaut, detector):
    """Crop the astronaut at a known framing (several tilts) and measure it back with the detector."""
    spec = AlignSpec(96, 0.36, 0.40)
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    crops = []
    for deg in (-8, 0, 8):
        f = detector.detect(rotate(astronaut, deg))[0]
        crops.append(align_face(cv2.cvtColor(rotate(astronaut, deg), cv2.COLOR_RGB2GRAY), f.left_eye, f.right_eye, spec))
    framing = measure_framing(np.stack(crops), detector)
    assert framing.found == 3
    assert framing.eye_distance == pytest.approx(0.36, abs=0.02)
    assert framing.eye_height == pytest.approx(0.40, abs=0.02)
    assert framing.eye_centre_x == pytest.approx(0.5, abs=0.02)
    assert grey.shape == astronaut.shape[:2]


def test_openvino_and_litert_runtimes_find_the_same_faces():
    """The default runtime (OpenVINO, reading the TFLite file) and the TFLite runtime agree."""
    from facsnet.samples import sample_paths
    from PIL import Image

    ov, lite = create_detector("blazeface", runtime="openvino"), create_detector("blazeface", runtime="litert")
    assert create_detector("blazeface").runtime == "openvino"
    for path in sample_paths():
        rgb = np.asarray(Image.open(path).convert("RGB"))
        reg_ov, logit_ov, *_ = ov.raw(rgb)
        reg_lite, logit_lite, *_ = lite.raw(rgb)
        assert np.abs(reg_ov - reg_lite).max() < 1e-2 and np.abs(logit_ov - logit_lite).max() < 1e-2
        a, b = ov.detect(rgb), lite.detect(rgb)
        assert len(a) == len(b) >= 1
        for fa, fb in zip(a, b):
            np.testing.assert_allclose(fa.box, fb.box, atol=0.05)
            np.testing.assert_allclose(fa.keypoints, fb.keypoints, atol=0.05)
    with pytest.raises(ValueError, match="auto, openvino, litert"):
        create_detector("blazeface", runtime="tpu")


def test_area_resize_in_steps_matches_one_area_resize():
    from facsnet.faces.detect import area_resize

    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
    for src in (smooth, cv2.resize(smooth, (1920, 1080))):
        ours = area_resize(src, (192, 144)).astype(float)
        direct = cv2.resize(src, (192, 144), interpolation=cv2.INTER_AREA).astype(float)
        assert ours.shape == direct.shape and np.abs(ours - direct).mean() < 1.0
    flat = np.full((480, 640, 3), 77, np.uint8)
    assert (area_resize(flat, (192, 144)) == 77).all()        # a mean of equal values is that value


def test_crops_detector_takes_the_whole_image_as_the_face_the_model_would_be_fed():
    """--detector crops: one face per image, its centre square, which every model (the AU model, framed
    otherwise, too) sees resized: a 48x48 crop comes back unchanged."""
    from facsnet.inference import Analyzer

    analyzer = Analyzer("fer2013_bn", detector="crops", backend="torch", precision="fp32", au_model="ckplus_au")
    face = cv2.resize(cv2.cvtColor(face_patch(), cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    faces = analyzer.detector.detect(cv2.cvtColor(face, cv2.COLOR_GRAY2RGB))
    assert len(faces) == 1 and faces[0].box == (0.0, 0.0, 48.0, 48.0) and faces[0].score == 1.0
    for model in (analyzer.classifier, analyzer.au):
        assert (analyzer.crops(cv2.cvtColor(face, cv2.COLOR_GRAY2RGB), faces, model)[0] == face).all()
    wide = np.zeros((96, 160), np.uint8)
    wide[:, 32:128] = cv2.resize(face, (96, 96), interpolation=cv2.INTER_CUBIC)   # the face is the centre square
    crop = analyzer.crops(cv2.cvtColor(wide, cv2.COLOR_GRAY2RGB),
                          analyzer.detector.detect(cv2.cvtColor(wide, cv2.COLOR_GRAY2RGB)))[0]
    assert np.abs(crop.astype(int) - face).mean() < 3
    assert np.abs(crop[:, [0, -1]].astype(int) - face[:, [0, -1]]).mean() < 6     # the black sides stay out
    res = analyzer.analyze([cv2.cvtColor(face, cv2.COLOR_GRAY2RGB), np.full((30, 40, 3), 90, np.uint8)])
    assert [len(fr.faces) for fr in res.frames] == [1, 1] and "no face" not in res.summary()


def test_the_summary_suggests_the_crops_detector_when_most_small_photos_have_no_face():
    from facsnet.inference import Analyzer

    analyzer = Analyzer("fer2013_bn", backend="torch", precision="fp32")
    small = [np.full((48, 48, 3), v, np.uint8) for v in (60, 120, 180)]
    assert "--detector crops" in analyzer.analyze(small).summary()
    assert "--detector crops" not in analyzer.analyze([np.full((480, 640, 3), 120, np.uint8)] * 2).summary()
