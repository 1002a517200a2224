"""Models: the registry and the paper's CNN (later: CNN+LSTM, transfer heads)."""
from .breuer2017 import Breuer2017, breuer2017
from .registry import create_model, list_models, register_model

__all__ = ["Breuer2017", "breuer2017", "create_model", "list_models", "register_model"]
