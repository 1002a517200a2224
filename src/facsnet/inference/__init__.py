"""Inference on real photos and videos: detect, align, crop, classify; export to ONNX."""
from .classifier import FaceClassifier
from .media import Frame, MediaError
from .onnx_export import OnnxModel, export_onnx
from .pipeline import DEFAULT_MODEL, Analyzer
from .results import COLUMNS, AnalysisResult, FaceResult, FrameResult

__all__ = ["Analyzer", "DEFAULT_MODEL", "FaceClassifier", "Frame", "MediaError", "OnnxModel",
           "export_onnx", "COLUMNS", "AnalysisResult", "FaceResult", "FrameResult"]
