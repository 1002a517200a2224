"""Every training setting in one dataclass, :class:`TrainConfig`, with the paper's values as defaults
and each setting checked where it is made."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..data.augment import Augment
from ..models import list_models
from ..utils import parse_device


@dataclass
class TrainConfig:
    """Every training setting, with the paper's values as defaults."""

    model: str = "breuer2017"
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"       # adam | sgd (Nesterov momentum)
    momentum: float = 0.9         # SGD only
    schedule: str = "keras"       # keras: lr / (1 + decay * step) | cosine: lr -> 0 over all epochs
    decay: float = 1e-5           # Keras time decay per step (schedule "keras")
    warmup_steps: int = 0         # linear warm-up of the learning rate over this many steps (0: none)
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    soft_targets: bool = False    # train on vote distributions where the dataset has them (ferplus-dist, fer2013-votes)
    mixup: float = 0.0            # alpha of mixup's Beta(alpha, alpha) mixing weight (0: no mixup)
    augment: dict = field(default_factory=lambda: Augment().to_dict())
    norm: str = "per_image"
    precision: str = "auto"       # auto: bf16 where the device computes it natively, else fp32 | bf16 | fp32
    channels_last: bool = True
    seed: int = 0
    device: str = "auto"
    init: str | None = None       # checkpoint path or bundled name to start from (transfer)
    teacher: str | None = None    # checkpoint path or bundled name to distil from (knowledge distillation)
    distill_weight: float = 0.9   # share of the teacher's soft term in the loss (with a teacher)
    distill_temperature: float = 4.0  # softmax temperature of teacher and student in that term
    tta_flip: bool = False        # score with the mean of the image and its mirror
    progress: bool = True
    max_minutes: float | None = None  # stop (resumably) at the first epoch end past this wall time

    def __post_init__(self):
        """Every setting checked where it is made, with the setting named in the error."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} = {value}: must be greater than 0")
        non_negative = {"lr": self.lr, "decay": self.decay, "warmup_steps": self.warmup_steps,
                        "weight_decay": self.weight_decay, "mixup": self.mixup}
        for name, value in non_negative.items():
            if not value >= 0:
                raise ValueError(f"{name} = {value}: must be 0 or more")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing = {self.label_smoothing}: must lie in [0, 1)")
        if not 0 <= self.distill_weight <= 1:
            raise ValueError(f"distill_weight = {self.distill_weight}: must lie in [0, 1]")
        if not self.distill_temperature > 0:
            raise ValueError(f"distill_temperature = {self.distill_temperature}: must be greater than 0")
        if self.teacher is None:
            for name in ("distill_weight", "distill_temperature"):
                if getattr(self, name) != self.__dataclass_fields__[name].default:
                    raise ValueError(f"{name} = {getattr(self, name)}: has no effect without a teacher (--teacher)")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum = {self.momentum}: must lie in [0, 1)")
        if self.max_minutes is not None and not self.max_minutes >= 0:
            raise ValueError(f"max_minutes = {self.max_minutes}: must be 0 or more")
        Augment(**self.augment)
        if self.model not in list_models():
            raise ValueError(f"model = {self.model!r}: not a registered model; choose from {', '.join(list_models())}")
        parse_device(self.device)
        choices = {"optimizer": ("adam", "sgd"), "schedule": ("keras", "cosine"),
                   "precision": ("auto", "bf16", "fp32"), "norm": ("per_image", "fixed")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} = {getattr(self, name)!r}: choose from {', '.join(allowed)}")

    def record(self) -> dict:
        """The settings a run is identified by (its ``config.json``): every setting, the distillation ones
        only with a teacher, so that runs begun before distillation existed still resume."""
        record = asdict(self)
        if self.teacher is None:
            for key in ("distill_weight", "distill_temperature"):
                record.pop(key)
        return record

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**d)
