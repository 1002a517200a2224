"""Pages and figures people read: ``facsnet report`` for run and results folders and for analysis
tables, ``facsnet evaluate --out`` pages, and the confusion-matrix figure."""
from .analysis import build_analysis_report
from .evaluation import write_evaluation
from ..figures import confusion_figure, save_confusion_png
from .runs import build_report

__all__ = ["build_analysis_report", "build_report", "confusion_figure", "save_confusion_png", "write_evaluation"]
