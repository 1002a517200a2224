"""The bundled weights: small, safe to load, self-describing."""
import pytest
import torch

from facsnet.labels import EMOTIONS
from facsnet.models.hub import BUNDLE_LIMIT_BYTES, BUNDLED, bundled_path, load_model


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_weights_load_safely_and_describe_themselves(name):
    path = bundled_path(name)
    assert path.stat().st_size < BUNDLE_LIMIT_BYTES
    ck = torch.load(path, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float16 for v in ck["state_dict"].values() if v.is_floating_point())
    scales = (ck.get("quantization") or {}).get("scales", {})     # int8 conv and linear weights, if any
    assert {k for k, v in ck["state_dict"].items() if v.dtype == torch.int8} == set(scales)
    assert all(scales[k].shape == (ck["state_dict"][k].shape[0],) for k in scales)
    if ck.get("task") == "au":  # an Action Unit model: FACS names, its provenance, CK+48's framing
        assert ck["class_names"][:3] == ["AU1", "AU2", "AU4"] and ck["provenance"]["n_images"] == 981
        assert ck["provenance"]["head"]["seed"] == 0 and ck["framing"]["eye_height"] > 0.4
    elif ck.get("task") == "au_intensity":   # 0-5 per AU, fitted on the faces with FACS intensity files
        assert ck["class_names"][:2] == ["AU1_intensity", "AU2_intensity"] and ck["provenance"]["n_images"] == 624
        assert ck["provenance"]["head"]["kind"] == "regression" and ck["framing"]["eye_height"] > 0.4
    else:
        assert set(ck["class_names"]) <= set(EMOTIONS) and len(ck["class_names"]) in (7, 8)
        assert ck["data"]["train"]["n"] > 900 and ck["train_config"]["seed"] == 0
    model = load_model(name)
    out = model(torch.rand(2, 1, 48, 48))
    assert out.shape == (2, len(ck["class_names"])) and torch.isfinite(out).all()


def test_unknown_bundled_name_lists_the_choices():
    with pytest.raises(ValueError, match="fer2013"):
        bundled_path("affectnet")
