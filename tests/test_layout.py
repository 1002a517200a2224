"""The package's rooms import only downwards: a newcomer can read them bottom-up."""
import ast
from pathlib import Path

import facsnet

ROOT = Path(facsnet.__file__).parent
# Lower rooms first; a module may import from its own room and any room on a lower layer.
LAYERS = [
    {"utils", "labels", "hardware", "figures", "provenance"},   # helpers with no facsnet imports of note
    {"faces"},                                            # detect, align, landmarks, pose, track
    {"data", "au"},                                       # datasets, names, splits, FACS labels
    {"models", "samples"},                                # architectures, checkpoints, bundled weights
    {"training"},                                         # the loop, cross-validation, evaluation, calibration
    {"inference", "interpret", "transfer", "micro"},      # the four uses of a trained model (never each other)
    {"report"},                                           # pages people read
    {"api"}, {"cli"}, {"__init__", "__main__"},
]
LAYER = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
SIBLINGS = LAYERS[5]


def imports_of(path: Path) -> list[str]:
    """The facsnet rooms a module imports from (relative imports resolved)."""
    package = path.relative_to(ROOT).parts[:-1]
    rooms = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package)[:len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                rooms.append(target[0].removesuffix(".py"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("facsnet."):
            rooms.append(node.module.split(".")[1])
    return rooms


def test_every_module_belongs_to_a_room():
    rooms = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.rglob("*.py")}
    assert rooms <= set(LAYER), sorted(rooms - set(LAYER))


def violations(edges) -> list[str]:
    """The (importer room, imported room) pairs that go up a layer or across to a sibling."""
    return [f"{here} imports {room}" for here, room in edges
            if room in LAYER and (LAYER[room] > LAYER[here] or (room in SIBLINGS and here in SIBLINGS and room != here))]


def test_no_room_imports_upwards_or_sideways():
    edges = {(path.relative_to(ROOT).parts[0].removesuffix(".py"), room)
             for path in ROOT.rglob("*.py") for room in imports_of(path)}
    assert violations(sorted(edges)) == []


def test_the_checker_finds_wrong_imports():
    assert "figures" in imports_of(ROOT / "training" / "cv.py") and "faces" in imports_of(ROOT / "data" / "ckplus_release.py")
    assert violations([("faces", "models"), ("inference", "transfer"), ("report", "inference"), ("data", "faces")]) == [
        "faces imports models", "inference imports transfer"]


def test_the_api_is_a_lobby():
    text = (ROOT / "api.py").read_text()
    tree = ast.parse(text)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert len(text.splitlines()) <= 200
    assert all(not isinstance(n, ast.ImportFrom) for f in functions for n in ast.walk(f))   # imports at the top
