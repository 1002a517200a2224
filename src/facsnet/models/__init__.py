"""The model hub: the architecture registry (the paper's CNN, the VGG-style members, ensembles),
checkpoints (read and write, weights only, architecture checked) and the bundled weights."""
from .breuer2017 import Breuer2017, breuer2017
from .registry import create_model, list_models, register_model
from .vgg48 import Vgg48, vgg48
from .ensemble import Ensemble, ensemble
from .checkpoint import CheckpointError, model_from_checkpoint, read_checkpoint, save_checkpoint
from .hub import BUNDLED, DEFAULT_MODEL, load_model, resolve_weights, weights_digest

__all__ = ["Breuer2017", "breuer2017", "Vgg48", "vgg48", "Ensemble", "ensemble", "create_model", "list_models",
           "register_model", "CheckpointError", "model_from_checkpoint", "read_checkpoint", "save_checkpoint",
           "BUNDLED", "DEFAULT_MODEL", "load_model", "resolve_weights", "weights_digest"]
