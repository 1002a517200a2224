"""Training, cross-validation, evaluation and checkpoints."""
from .cv import CVResult, cross_validate, summarize_cv
from .evaluate import EvalResult, evaluate_on
from .config import TrainConfig
from .loop import TrainResult, train
from .predict import evaluate_model, predict_logits
from .metrics import ClassificationMetrics, classification_metrics, confusion_matrix

__all__ = [
    "CVResult",
    "cross_validate", "summarize_cv", "EvalResult", "evaluate_on", "TrainConfig", "TrainResult",
    "evaluate_model", "predict_logits", "train", "ClassificationMetrics", "classification_metrics",
    "confusion_matrix",
]
