"""Look inside the CNN: single-filter deconvnet / guided-backprop views, top-N images per filter,
dead filters, and the filter-to-Action-Unit correlation."""
from .backprop import RULES, filter_reconstruction, relu_rule

__all__ = ["RULES", "filter_reconstruction", "relu_rule"]
