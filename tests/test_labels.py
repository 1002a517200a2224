import pytest

from facsnet.labels import EMOTIONS, UnknownLabelError, canonical_label, sort_canonical


def test_canonical_set_is_the_papers_eight():
    assert EMOTIONS == ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


@pytest.mark.parametrize("name,expected", [
    ("angry", "anger"), ("Angry", "anger"), ("sad", "sadness"), ("happiness", "happy"),
    ("surprised", "surprise"), ("NE", "neutral"), ("fearful", "fear"), ("contempt", "contempt"),
])
def test_dataset_names_map_onto_canonical(name, expected):
    assert canonical_label(name) == expected


def test_unknown_name_is_an_error_naming_the_folder():
    with pytest.raises(UnknownLabelError, match=r"bored.*data/bored"):
        canonical_label("bored", where="data/bored")


def test_sort_canonical_orders_a_subset():
    assert sort_canonical({"surprise", "anger", "neutral"}) == ["neutral", "anger", "surprise"]
