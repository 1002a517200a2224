"""Micro-expressions (the paper's section 4): coding-table readers, frame selection, the emotion CNN
as a frame encoder feeding a shallow LSTM, and leave-one-subject-out scoring with the MEGC metrics."""
from .data import MicroSet, read_megc2019, sequence_set
from .frames import FrameError, FrameLocator, load_clips, select_frames
from ..data.splits import loso_folds
from .loso import LosoResult, MicroScores, micro_scores
from .model import MicroConfig, MicroLSTM, fit_cnn, fit_lstm
from .run import COMPOSITE_VARIANTS, composite_fold, run_loso, score_store, sequence_fold
from .tables import MEGC3, Clip, CodingTable, TableError, read_coding_table, with_labels

__all__ = ["MicroSet", "read_megc2019", "sequence_set", "FrameError", "FrameLocator", "load_clips", "select_frames",
           "LosoResult", "MicroScores", "loso_folds", "micro_scores", "MicroConfig", "MicroLSTM", "fit_cnn",
           "fit_lstm", "COMPOSITE_VARIANTS", "composite_fold", "run_loso", "score_store", "sequence_fold", "MEGC3",
           "Clip", "CodingTable", "TableError", "read_coding_table", "with_labels"]
