"""Models: the registry, the paper's CNN and the VGG-style default."""
from .breuer2017 import Breuer2017, breuer2017
from .registry import create_model, list_models, register_model
from .vgg48 import Vgg48, vgg48
from .ensemble import Ensemble, ensemble  # noqa: E402  (members are built from the registry above)

__all__ = ["Breuer2017", "breuer2017", "Vgg48", "vgg48", "Ensemble", "ensemble", "create_model", "list_models", "register_model"]
