"""Faces in photos: detection (BlazeFace by default) and eye-level alignment, shared by the
training readers and inference so a model always sees faces framed as in its training data."""
from .align import CKPLUS48_FRAMING, FER2013_FRAMING, AlignSpec, align_face, eye_centres_from_landmarks68
from .detect import Detection, FaceDetector, create_detector, list_detectors, register_detector

__all__ = ["AlignSpec", "align_face", "eye_centres_from_landmarks68", "FER2013_FRAMING", "CKPLUS48_FRAMING",
           "Detection", "FaceDetector", "create_detector", "list_detectors", "register_detector"]
