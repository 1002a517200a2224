"""Faces in photos, shared by the training readers and inference so a model always sees faces framed
as in its training data:

- ``detect``: face detection (BlazeFace by default) and the detector registry;
- ``align``: eye-level alignment and crops in a dataset's framing (``AlignSpec``);
- ``framing``: measuring a dataset's framing from its faces;
- ``landmarks``: the 468-point face mesh and named landmarks; ``pose``: head pose from the mesh;
- ``track``: face identities across video frames;
- ``runtime``: the TFLite / OpenVINO runtimes the detector and mesh run on;
- ``render``: faces turned by known angles, a generated test set for head pose.
"""
from .align import CKPLUS48_FRAMING, FER2013_FRAMING, AlignSpec, align_face, eye_centres_from_landmarks68
from .detect import Detection, FaceDetector, create_detector, list_detectors, register_detector

__all__ = ["AlignSpec", "align_face", "eye_centres_from_landmarks68", "FER2013_FRAMING", "CKPLUS48_FRAMING",
           "Detection", "FaceDetector", "create_detector", "list_detectors", "register_detector"]
