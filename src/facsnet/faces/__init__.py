"""Face geometry: eye-level alignment and cropping shared by training readers and inference."""
from .align import AlignSpec, align_face, eye_centres_from_landmarks68

__all__ = ["AlignSpec", "align_face", "eye_centres_from_landmarks68"]
