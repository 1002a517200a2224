"""Face mesh landmarks and head pose: geometry facts on real photos, exact fits, known turns."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facsnet.faces.detect import create_detector
from facsnet.faces.landmarks import LANDMARK_COLUMNS, NAMED_LANDMARKS, FaceMesh
from facsnet.faces.pose import (canonical_face, euler_angles, head_pose, orthographic_fit, rotation_matrix,
                                similarity_fit, skull_points)
from facsnet.faces.render import turn_face
from facsnet.inference import Analyzer
from facsnet.inference.results import POSE_COLUMNS
from facsnet.samples import sample_path


@pytest.fixture(scope="module")
def models():
    return create_detector(), FaceMesh()


@pytest.fixture(scope="module")
def astronaut():
    return np.asarray(Image.open(sample_path("astronaut.jpg")).convert("RGB"))


def mesh_of(rgb, models, face=0):
    detector, mesh = models
    faces = detector.detect(rgb)
    return faces[face], mesh.one(rgb, faces[face])


def test_named_landmarks_sit_where_anatomy_puts_them(models, astronaut):
    det, m = mesh_of(astronaut, models)
    p = m.named()
    assert m.score > 0.9
    x = {n: v[0] for n, v in p.items()}
    y = {n: v[1] for n, v in p.items()}
    # left to right across the image: the subject's right eye, then the left one
    assert x["right_eye_outer"] < x["right_eye_inner"] < x["left_eye_inner"] < x["left_eye_outer"]
    assert x["right_brow_outer"] < x["right_brow_inner"] < x["left_brow_inner"] < x["left_brow_outer"]
    assert x["mouth_right"] < x["upper_lip_top"] < x["mouth_left"]
    assert x["right_face_edge"] < x["right_eye_outer"] and x["left_eye_outer"] < x["left_face_edge"]
    # top to bottom
    assert y["forehead"] < y["right_brow_mid"] < y["right_eye_top"] < y["right_eye_bottom"] < y["nose_tip"]
    assert y["nose_tip"] < y["upper_lip_top"] < y["upper_lip_inner"] <= y["lower_lip_inner"] < y["lower_lip_bottom"]
    assert y["lower_lip_bottom"] < y["chin"] and max(y.values()) == y["chin"]
    # the mesh's eyes agree with the detector's eye keypoints to a tenth of the eye distance
    eye_distance = np.hypot(*(det.right_eye - det.left_eye))
    for mesh_eye, det_eye in zip(m.eyes, (det.left_eye, det.right_eye)):
        assert np.hypot(*(mesh_eye - det_eye)) < 0.1 * eye_distance


def test_named_landmarks_are_distinct_mesh_vertices():
    assert len(set(NAMED_LANDMARKS.values())) == len(NAMED_LANDMARKS)
    assert all(0 <= i < 468 for i in NAMED_LANDMARKS.values())
    assert len(LANDMARK_COLUMNS) == 2 * len(NAMED_LANDMARKS)


def test_canonical_face_is_centred_symmetric_and_upright():
    face = canonical_face()
    assert face.shape == (468, 3)
    assert np.allclose(face.mean(axis=0), 0, atol=1e-5)
    assert np.sqrt((face ** 2).sum(axis=1).mean()) == pytest.approx(1.0, abs=1e-5)
    mirrored = face * [-1, 1, 1]   # every point has a mirror twin
    nearest = np.sqrt(((face[:, None] - mirrored[None]) ** 2).sum(axis=2)).min(axis=1)
    assert nearest.max() < 1e-5
    n = NAMED_LANDMARKS
    assert face[n["forehead"], 1] < face[n["nose_tip"], 1] < face[n["chin"], 1]        # y down
    assert face[n["nose_tip"], 2] < face[n["right_eye_outer"], 2]                        # the nose nearer the camera
    assert face[n["right_eye_outer"], 0] < 0 < face[n["left_eye_outer"], 0]              # the subject's right on the left
    assert n["nose_tip"] in skull_points() and n["chin"] not in skull_points()


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (-40, 10, 5), (10, -25, -30), (60, 30, 80)])
def test_euler_angles_invert_rotation_matrix(angles):
    r = rotation_matrix(*angles)
    assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    assert np.allclose(euler_angles(r), angles, atol=1e-9)


def test_pose_signs_follow_the_image():
    nose, right_eye_img = canonical_face()[NAMED_LANDMARKS["nose_tip"]], canonical_face()[NAMED_LANDMARKS["left_eye_outer"]]
    assert (rotation_matrix(20, 0, 0) @ nose)[0] > nose[0]            # yaw > 0: the nose moves right
    assert (rotation_matrix(0, 20, 0) @ nose)[1] < nose[1]            # pitch > 0: it moves up (y down)
    assert (rotation_matrix(0, 0, 20) @ right_eye_img)[1] > right_eye_img[1]  # roll > 0: image-right eye lower


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    r = rotation_matrix(25, -10, 40)
    dst = 2.5 * src @ r.T + [3, -1, 7]
    scale, rotation, shift = similarity_fit(src, dst)
    assert scale == pytest.approx(2.5) and np.allclose(rotation, r) and np.allclose(shift, [3, -1, 7])


@pytest.mark.parametrize("angles", [(0, 0, 0), (35, 0, 0), (-45, 15, 0), (20, -20, 25)])
def test_orthographic_fit_recovers_pose_from_exact_projections(angles):
    face = canonical_face()[skull_points()]
    xy = (80.0 * face @ rotation_matrix(*angles).T)[:, :2] + [320, 240]
    scale, rotation, shift = orthographic_fit(face, xy)
    assert scale == pytest.approx(80.0, rel=1e-4)
    assert np.allclose(euler_angles(rotation), angles, atol=0.05)
    assert np.allclose(shift, [320, 240], atol=1e-3)


def test_head_pose_checks_its_input():
    with pytest.raises(ValueError, match="468"):
        head_pose(np.zeros((68, 2)))


@pytest.mark.parametrize("turn", [(30, 0, 0), (-30, 0, 0), (0, 15, 0), (0, -15, 0), (0, 0, 25), (20, 10, -15)])
def test_head_pose_of_a_photo_turned_by_known_angles(models, astronaut, turn):
    """The astronaut's face turned by a known rotation: the estimated turn (relative to the source's
    own estimate) is within 8 degrees on each axis (benchmarks/pose_known_angles.py measures the grid)."""
    detector, mesh = models
    _, source = mesh_of(astronaut, models)
    p0 = head_pose(source.points)
    turned = turn_face(astronaut, source.points, rotation_matrix(*turn))
    faces = detector.detect(turned)
    assert faces, "the turned face was not found"
    p = head_pose(mesh.one(turned, faces[0]).points)
    relative = euler_angles(rotation_matrix(p.yaw, p.pitch, p.roll) @ rotation_matrix(p0.yaw, p0.pitch, p0.roll).T)
    assert np.abs(np.subtract(relative, turn)).max() < 8.0, relative


def test_pose_roll_agrees_with_the_eye_line(models):
    for name in ("astronaut.jpg", "grace_hopper.jpg", "group.jpg"):
        rgb = np.asarray(Image.open(sample_path(name)).convert("RGB"))
        detector, mesh = models
        for det in detector.detect(rgb):
            assert head_pose(mesh.one(rgb, det).points).roll == pytest.approx(det.roll_degrees, abs=4.0)


def test_analysis_table_has_pose_and_landmarks(tmp_path):
    blank = np.full((120, 160, 3), 90, np.uint8)
    res = Analyzer(landmarks=True).analyze([sample_path("astronaut.jpg"), blank])
    df = res.to_frame()
    for col in POSE_COLUMNS + LANDMARK_COLUMNS:
        assert col in df.columns and df[col].dtype == "float64"
    face, empty = df.iloc[0], df.iloc[1]
    assert abs(face["pose_yaw"]) < 15 and face["landmark_score"] > 0.9
    assert face["x"] < face["nose_tip_x"] < face["x"] + face["w"]
    assert np.isnan(empty["pose_yaw"]) and np.isnan(empty["chin_y"])      # the blank frame: no face, no values
    assert res.faces[0].mesh.shape == (468, 3) and res.faces[0].landmarks["chin"][1] == pytest.approx(face["chin_y"])
    res.save(tmp_path / "t.csv")
    assert "pose_pitch" in (tmp_path / "t.csv").read_text().splitlines()[0]
    assert "pose_yaw" not in Analyzer().analyze(sample_path("astronaut.jpg")).to_frame().columns


def test_eye_offset_maps_mesh_eyes_back_to_the_detectors():
    from facsnet.faces.framing import EyeOffset

    offset = EyeOffset(ratio=1.1, dx=0.05, dy=-0.04)
    left, right = np.array([100.0, 120.0]), np.array([160.0, 135.0])      # detector eyes, a tilted face
    v = right - left
    u, down, d = v / np.hypot(*v), np.array([-v[1], v[0]]) / np.hypot(*v), np.hypot(*v)
    centre = (left + right) / 2 + (offset.dx * u + offset.dy * down) * d   # where the mesh would put them
    mesh_left, mesh_right = centre - u * d * offset.ratio / 2, centre + u * d * offset.ratio / 2
    back = offset.detector_eyes(mesh_left, mesh_right)
    assert np.allclose(back[0], left) and np.allclose(back[1], right)


def test_analyzer_can_frame_faces_by_the_mesh_eyes():
    with pytest.raises(ValueError, match="needs landmarks"):
        Analyzer(eyes="mesh")
    with pytest.raises(ValueError, match="choose detector"):
        Analyzer(landmarks=True, eyes="pupils")
    photo = sample_path("grace_hopper.jpg")
    by_detector = Analyzer(landmarks=True).analyze(photo).faces[0]
    by_mesh = Analyzer(landmarks=True, eyes="mesh").analyze(photo).faces[0]
    eye_distance = np.hypot(*np.subtract(by_detector.right_eye, by_detector.left_eye))
    moved = np.hypot(*np.subtract(by_mesh.left_eye, by_detector.left_eye))
    assert 0 < moved < 0.15 * eye_distance                         # other points, near the detector's
    mesh_eyes = (np.asarray(by_mesh.landmarks["right_eye_outer"]) + np.asarray(by_mesh.landmarks["right_eye_inner"])) / 2
    assert np.hypot(*(mesh_eyes - by_mesh.left_eye)) < 0.1 * eye_distance


def test_a_mesh_with_nothing_to_fit_has_no_pose():
    pose = head_pose(np.zeros((468, 3)))
    assert np.isnan([pose.yaw, pose.pitch, pose.roll]).all()
    assert np.isnan(head_pose(np.full((468, 3), np.nan)).yaw)


def test_manifest_columns_may_not_hide_pose_or_landmark_columns(tmp_path):
    from facsnet.inference.corpus_inputs import read_manifest

    manifest = tmp_path / "m.csv"
    manifest.write_text("path,pose_yaw,participant\na.jpg,3,p1\n")
    with pytest.raises(ValueError, match="pose_yaw"):
        read_manifest(manifest)


def test_video_report_reads_json_tables_and_ignores_other_intensity_columns(tmp_path):
    import json

    import pandas as pd

    from facsnet.report import build_analysis_report

    rows = [{"path": "v.mp4", "frame": i, "time_s": i / 10, "face": 0, "face_id": 0, "emotion": "happy", "note": "",
             "happy": 0.9, "neutral": 0.1, "pose_yaw": 5.0, "pose_pitch": 1.0, "pose_roll": 0.0,
             "AU12_intensity": 2.0 + i / 10, "stimulus_intensity": "high"} for i in range(6)]
    (tmp_path / "t.json").write_text(json.dumps({"model": "m", "rows": rows}))
    page = build_analysis_report(tmp_path / "t.json").read_text()
    assert "<b>6</b> frame(s)" in page and "head pose (degrees)" in page and "intensity 0-5" in page
    pd.DataFrame(rows).to_csv(tmp_path / "T.CSV", index=False)
    assert "<b>6</b> face(s)" in build_analysis_report(tmp_path / "T.CSV").read_text()
