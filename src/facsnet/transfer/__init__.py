"""Transfer from the emotion CNN (the paper's section 3.2): cross-dataset scoring and new heads for
Action Unit detection and intensity on frozen backbone features."""
from .au_tasks import (AUResult, LabelError, au_detection_cv, au_intensity_cv, au_targets, intensity_targets,
                       read_intensities)
from .cross import CrossCell, NoSharedClassesError, as_is, refit_output_layer, to_markdown
from .fit import HeadConfig, fit_head, head_outputs
from .heads import DenseHead, attach_head, extract_features, feature_dim, freeze_backbone, sparsity_penalty

__all__ = ["AUResult", "LabelError", "au_detection_cv", "au_intensity_cv", "au_targets", "intensity_targets",
           "read_intensities", "CrossCell", "NoSharedClassesError", "as_is", "refit_output_layer", "to_markdown",
           "HeadConfig", "fit_head", "head_outputs", "DenseHead", "attach_head", "extract_features", "feature_dim",
           "freeze_backbone", "sparsity_penalty"]
