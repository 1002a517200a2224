"""One canonical label set for every dataset, and the declared maps onto it.

Every reader turns its own class names into these canonical names through
:func:`canonical_label`; a name it does not know is an error that names where
it came from, never a silent guess.
"""
from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise",
)

# Folder / file names used by the datasets people actually hold, lower-cased.
ALIASES: dict[str, str] = {
    # canonical
    **{e: e for e in EMOTIONS},
    # FER2013 folders (Kaggle msambare), NovaEmotions, RAF-DB, AffectNet style
    "angry": "anger", "anger": "anger", "an": "anger", "mad": "anger",
    "disgusted": "disgust", "di": "disgust",
    "fearful": "fear", "scared": "fear", "afraid": "fear", "fe": "fear",
    "happiness": "happy", "joy": "happy", "ha": "happy", "smile": "happy",
    "sad": "sadness", "sa": "sadness",
    "surprised": "surprise", "su": "surprise",
    "neutrality": "neutral", "ne": "neutral", "calm": "neutral",
    "contemptuous": "contempt", "co": "contempt",
}

# The integer codes of the original releases.
FER2013_CODES: dict[int, str] = {
    0: "anger", 1: "disgust", 2: "fear", 3: "happy", 4: "sadness", 5: "surprise", 6: "neutral",
}
CKPLUS_CODES: dict[int, str] = {
    0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy",
    6: "sadness", 7: "surprise",
}


class UnknownLabelError(ValueError):
    """A class name that maps onto no canonical emotion."""


def canonical_label(name: str, where: str = "") -> str:
    """Map a dataset's class name onto the canonical set, or raise naming ``where``."""
    key = name.strip().lower().replace("-", "").replace(" ", "")
    if key in ALIASES:
        return ALIASES[key]
    where_txt = f" (in {where})" if where else ""
    raise UnknownLabelError(
        f"unknown class name {name!r}{where_txt}; known names: {', '.join(EMOTIONS)} "
        f"and aliases {', '.join(sorted(set(ALIASES) - set(EMOTIONS)))}"
    )


def sort_canonical(names) -> list[str]:
    """Canonical names in canonical order (the class order of every model)."""
    names = set(names)
    return [e for e in EMOTIONS if e in names]
