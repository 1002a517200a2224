"""The bundled weights (fp16, or int8 with per-channel scales for the default ensemble; loadable with
``weights_only=True``): names, files, the default model.

See ``facsnet/weights/MODEL_CARD.md`` for the data, protocol and accuracy of each.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED = {
    "fer2013": "fer2013.pt",     # trained on FER2013 Training, selected on PublicTest
    "ckplus48": "ckplus48.pt",   # trained on all of CK+48 (7 classes), started from fer2013
    "ferplus": "ferplus.pt",     # trained on FER2013 Training with FER+ majority labels
    "fer2013_bn": "fer2013_bn.pt",  # the same CNN with BatchNorm (a variant, not the paper's)
    "ckplus_au": "ckplus_au.pt",  # fer2013's conv layers + a multi-label AU head fitted on CK+48 (task "au")
    "ckplus_au_intensity": "ckplus_au_intensity.pt",  # the same conv layers + an AU intensity head (0-5)
    "fer2013_kd": "fer2013_kd.pt",  # the paper's CNN distilled from the default model, 100 epochs, final epoch
    "fer2013_vgg_ens": "fer2013_vgg_ens.pt",  # the default: five CNNs, int8, calibrated, chosen on a hold-out
}

# The most one bundled file may weigh: the package stays small enough to install anywhere.
BUNDLE_LIMIT_BYTES = 16 * 2**20

# The one expression model `facsnet analyze`, `facsnet evaluate` and `facsnet.analyze` use unless
# told otherwise, chosen for faces it never saw (see weights/MODEL_CARD.md).
DEFAULT_MODEL = "fer2013_vgg_ens"


def bundled_path(name: str) -> Path:
    if name not in BUNDLED:
        raise ValueError(f"no bundled model {name!r}; bundled: {', '.join(BUNDLED)}")
    path = Path(str(resources.files("facsnet") / "weights" / BUNDLED[name]))
    if not path.is_file():
        raise FileNotFoundError(f"bundled weights {name!r} are missing from this install ({path})")
    return path


def resolve_weights(name_or_path: str | Path) -> Path:
    """A bundled model name or a checkpoint path -> the checkpoint file."""
    if str(name_or_path) in BUNDLED:
        return bundled_path(str(name_or_path))
    path = Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{name_or_path}: neither a bundled model ({', '.join(BUNDLED)}) nor a checkpoint file")
    return path


def weights_digest(name_or_path: str | Path) -> str:
    """The first 16 hex digits of the weights file's SHA-256 (a bundled name, a checkpoint or an
    ``.onnx`` export): which weights a result came from."""
    import hashlib

    path = Path(name_or_path) if str(name_or_path).endswith(".onnx") else resolve_weights(name_or_path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_model(name_or_path: str | Path, device="cpu"):
    """The model of a bundled name or checkpoint path, fp32, in eval mode."""
    from .checkpoint import model_from_checkpoint

    return model_from_checkpoint(resolve_weights(name_or_path), device=device)


# How each bundled model's training faces were framed (see facsnet.faces.align and
# results/framing.json); a checkpoint may carry its own under the key "framing".
BUNDLED_FRAMING = {"ckplus48": "ckplus48"}


def framing_of(ckpt: dict, name: str = ""):
    """The :class:`~facsnet.faces.AlignSpec` a checkpoint's model expects its faces cropped with."""
    from ..faces.align import CKPLUS48_FRAMING, FER2013_FRAMING, AlignSpec

    size = int(ckpt.get("model_config", {}).get("img_size", 48))
    if isinstance(ckpt.get("framing"), dict):
        f = ckpt["framing"]
        return AlignSpec(size, float(f["eye_distance"]), float(f["eye_height"]))
    base = CKPLUS48_FRAMING if BUNDLED_FRAMING.get(name) == "ckplus48" else FER2013_FRAMING
    return base.resized(size)
