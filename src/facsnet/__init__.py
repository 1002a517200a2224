"""facsnet: facial expression analysis you can read and trust, after Breuer & Kimmel (2017)."""
from .api import analyze, analyze_corpus, cv, evaluate, export, merge, train
from .data import FaceSet, load_dataset
from .inference import Analyzer
from .labels import EMOTIONS
from .models import create_model, list_models
from .models.hub import load_model

__version__ = "0.1.0"
__all__ = ["Analyzer", "analyze", "analyze_corpus", "merge", "cv", "evaluate", "export", "train", "FaceSet", "load_dataset", "EMOTIONS", "create_model",
           "list_models", "load_model", "__version__"]
