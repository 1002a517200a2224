"""Several trained networks as one model: the mean of their softmax probabilities.

An :class:`Ensemble` is an ordinary ``nn.Module`` with a registered name, so it is saved, loaded
(``weights_only=True``), calibrated, exported to ONNX and served exactly like a single network.
Its output is the log of the members' mean probability, so a softmax of it (at temperature 1)
gives that mean back, and temperature scaling divides it like any logits.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from .registry import create_model, register_model
from ..data.specs import kept_out_fingerprint
from ..utils import check_not_an_input, check_writable_file
from .checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from .hub import framing_of, resolve_weights

DEFAULT_MEMBERS = ({"model_name": "vgg48", "model_config": {}}, {"model_name": "vgg48_small", "model_config": {}})


class Ensemble(nn.Module):
    """``members``: ``[{"model_name": ..., "model_config": {...}}, ...]``, all with the same classes and input."""
    def __init__(self, members=DEFAULT_MEMBERS, in_chans: int = 1, num_classes: int = 7, img_size: int = 48,
                 norm: str = "per_image", class_names=None):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        shared = dict(in_chans=in_chans, num_classes=num_classes, img_size=img_size, class_names=class_names)
        self.members = nn.ModuleList(
            create_model(m["model_name"], **{"norm": norm, **m["model_config"], **shared}) for m in members)
        first = self.members[0]
        for m in self.members[1:]:
            if m.data_config != first.data_config:
                raise ValueError(f"ensemble members differ in input or classes: {m.data_config} vs {first.data_config}")
        self.class_names = list(first.class_names)
        self.config = dict(members=[{"model_name": m["model_name"], "model_config": dict(net.config)}
                                    for m, net in zip(members, self.members)],
                           in_chans=in_chans, num_classes=num_classes, img_size=img_size, norm=norm)

    @property
    def data_config(self) -> dict:
        return self.members[0].data_config

    def conv_layers(self) -> dict[str, nn.Conv2d]:
        """The members' conv layers as ``m{i}.{name}``."""
        return {f"m{i}.{name}": conv for i, net in enumerate(self.members) for name, conv in net.conv_layers().items()}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, members, classes): every member's log-probabilities."""
        return torch.stack([net(x).float().log_softmax(1) for net in self.members], 1)

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """log of the members' mean probability (``pre_logits``: the members' log-probabilities, flattened)."""
        if pre_logits:
            return feats.flatten(1)
        # exp -> mean -> log rather than logsumexp: OpenVINO reads the ONNX ReduceLogSumExp of the
        # TorchScript exporter as a reduction over every axis (a scalar); ReduceMean it reads right
        return feats.exp().mean(1).clamp_min(1e-30).log()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def ensemble(**kwargs) -> Ensemble:
    """Mean probability of several trained networks (default members: vgg48 + vgg48_small)."""
    return Ensemble(**kwargs)


def ensemble_checkpoint(models: list[str], out: str, keep: list[int] | None = None) -> Path:
    """One checkpoint that averages the probabilities of ``models`` (emotion checkpoints or bundled
    names with the same classes, input and framing, trained on the same data and validated on the
    same faces, so that the ensemble can be calibrated on them); written to ``out``. An ensemble
    among ``models`` contributes its members (each counts as one). ``keep``: only these members,
    counted from 1 over every member of ``models`` in order (a sub-ensemble of one ensemble). The
    members' own temperatures do not carry over: calibrate the ensemble itself."""
    if len(models) < 2 and keep is None:
        raise ValueError("an ensemble needs at least two models")
    check_writable_file(out, (".pt",))
    check_not_an_input(out, [resolve_weights(m) for m in models])
    ckpts = [read_checkpoint(resolve_weights(m)) for m in models]
    first = ckpts[0]
    for m, ck in zip(models[1:], ckpts[1:]):
        if ck["class_names"] != first["class_names"]:
            raise ValueError(f"{m}: classes {ck['class_names']} differ from {models[0]}'s {first['class_names']}")
        data, first_data = ck.get("data") or {}, first.get("data") or {}
        same_train = (data.get("train") or {}).get("fingerprint") == (first_data.get("train") or {}).get("fingerprint")
        if not (same_train and kept_out_fingerprint(data.get("val")) == kept_out_fingerprint(first_data.get("val"))):
            raise ValueError(f"{m}: trained on or kept out other faces than {models[0]} (data fingerprints differ; "
                             "runs of different seeds share their faces when trained with --val holdout)")
    for m, ck in zip(models, ckpts):
        if ck.get("task", "emotion") != "emotion":
            raise ValueError(f"{m}: an {ck['task']} model; ensembles average emotion models")
    nets = [model_from_checkpoint(ck) for ck in ckpts]
    framings = [framing_of(ck, str(m)) for m, ck in zip(models, ckpts)]
    for m, net, framing in zip(models[1:], nets[1:], framings[1:]):
        if net.data_config != nets[0].data_config or framing != framings[0]:
            raise ValueError(f"{m}: takes other faces than {models[0]} (input size, channels, normalisation or "
                             f"framing differ)")
    specs, weights, members = [], [], []
    for m, ck, net in zip(models, ckpts, nets):
        for spec, member, state in _members_of(str(m), ck, net):   # an ensemble given as a model adds its members
            specs.append(spec)
            members.append(member)
            weights.append(state)
    if keep is not None:
        specs, members, weights = _kept(keep, specs, members, weights)
    cfg = first["model_config"]
    ens = Ensemble(members=specs, in_chans=cfg.get("in_chans", 1), num_classes=len(first["class_names"]),
                   img_size=cfg["img_size"], norm=cfg.get("norm", "per_image"), class_names=first["class_names"])
    for member, state in zip(ens.members, weights):
        member.load_state_dict(state)
    framing = {"eye_distance": framings[0].eye_distance, "eye_height": framings[0].eye_height}
    save_checkpoint(out, ens, "ensemble", data=first.get("data"), train_config=first.get("train_config"),
                    members=members, framing=framing)
    return Path(out)


def _kept(keep: list[int], *per_member: list) -> list[list]:
    """The entries of each list at the 1-based positions ``keep`` (at least two distinct members)."""
    n = len(per_member[0])
    bad = [k for k in keep if not 1 <= k <= n]
    if bad:
        raise ValueError(f"keep {bad}: the models given hold members 1 to {n}")
    if len(set(keep)) != len(keep) or len(keep) < 2:
        raise ValueError(f"keep {keep}: an ensemble keeps at least two distinct members")
    return [[entries[k - 1] for k in keep] for entries in per_member]


def _members_of(source: str, ck: dict, net: nn.Module) -> list[tuple[dict, dict, dict]]:
    """(architecture spec, member record, weights) of each network in a checkpoint: one for a single
    network, every member (with its own record) for an ensemble, so ensembles grow flat."""
    if ck["model_name"] != "ensemble":
        return [({"model_name": ck["model_name"], "model_config": ck["model_config"]},
                 {"source": source, "model_name": ck["model_name"], "epoch": ck.get("epoch"),
                  "train_config": ck.get("train_config")}, net.state_dict())]
    records = ck.get("members") or [{} for _ in net.members]
    if len(records) != len(net.members):
        raise ValueError(f"{source}: records {len(records)} members but holds {len(net.members)} networks")
    return [({"model_name": spec["model_name"], "model_config": spec["model_config"]},
             {**record, "source": record.get("source", f"{source} member {i + 1}"), "via": f"{source} member {i + 1}"},
             member.state_dict())
            for i, (spec, record, member) in enumerate(zip(ck["model_config"]["members"], records, net.members))]

