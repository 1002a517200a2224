"""A corpus analysed one result file per input: single process, two shards and Ray give the same
merged table row for row; a run killed half-way and restarted redoes only the unfinished inputs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageOps

from facsnet.cli import main
from facsnet.inference.corpus_inputs import corpus_inputs
from facsnet.utils import parse_shard, shard_of
from facsnet.samples import make_video, sample_path

SETTINGS = ["--model", "fer2013", "--threads", "1"]


def build_corpus(root: Path) -> Path:
    """8 short clips (0, 1 or 3 faces), 20 photos, one broken photo and one cut video, and a manifest
    naming them all with a participant and a condition."""
    (root / "media").mkdir(parents=True)
    paths = [make_video(root / "media" / f"clip{i}.mp4", n_frames=4, size=(320, 240), faces=(0, 1, 3)[i % 3],
                        fps=10, face_height=100, seed=i) for i in range(8)]
    names = ("astronaut.jpg", "grace_hopper.jpg", "group.jpg")
    for i in range(20):
        img = Image.open(sample_path(names[i % 3])).convert("RGB")
        img = ImageOps.mirror(img) if i % 2 else img
        img = img.resize((img.width * (3 + i % 3) // 4, img.height * (3 + i % 3) // 4))
        paths.append(root / "media" / f"photo{i:02d}.jpg")
        img.save(paths[-1], quality=90)
    (root / "media" / "broken.jpg").write_bytes(b"\xff\xd8 not a whole jpeg")
    (root / "media" / "cut.mp4").write_bytes(paths[0].read_bytes()[:300])
    paths += [root / "media" / "broken.jpg", root / "media" / "cut.mp4"]
    manifest = root / "manifest.csv"
    rows = [f"media/{p.name},P{k % 5},{'a' if k % 2 else 'b'}" for k, p in enumerate(paths)]
    manifest.write_text("path,participant,condition\n" + "\n".join(rows) + "\n")
    return manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def merged(run_dir: Path) -> pd.DataFrame:
    assert main(["-q", "merge", str(run_dir), "--out", str(run_dir / "merged.csv")]) == 0
    return pd.read_csv(run_dir / "merged.csv")


@pytest.fixture(scope="module")
def single(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    assert main(["-q", "analyze", str(corpus), "--out", str(out), *SETTINGS]) == 0
    return merged(out)


def test_the_merged_table_has_every_input_its_manifest_columns_and_the_failures(single, corpus):
    assert list(single.columns[:3]) == ["path", "participant", "condition"]
    assert single["path"].nunique() == 30
    listed = pd.read_csv(corpus)
    by_path = single.drop_duplicates("path").set_index("path")
    for _, row in listed.iterrows():
        p = str(corpus.parent / row["path"])
        assert by_path.loc[p, "participant"] == row["participant"] and by_path.loc[p, "condition"] == row["condition"]
    notes = single.set_index("path")["note"].dropna()
    assert notes[str(corpus.parent / "media" / "broken.jpg")].startswith("skipped:")
    assert notes[str(corpus.parent / "media" / "cut.mp4")].startswith("skipped:")
    clip1 = single[single["path"].str.endswith("clip1.mp4")]
    assert sorted(clip1["frame"].unique()) == [0, 1, 2, 3] and (clip1["emotion"].notna()).all()
    group = single[single["path"].str.endswith("photo02.jpg")]
    assert len(group) == 3                                                  # the group photo's three faces


def test_two_shards_give_the_single_process_table(single, corpus, tmp_path):
    out = tmp_path / "run"
    for shard in ("2/2", "1/2"):
        assert main(["-q", "analyze", str(corpus), "--out", str(out), "--shard", shard, *SETTINGS]) == 0
    pd.testing.assert_frame_equal(merged(out), single)


def test_ray_workers_give_the_single_process_table(single, corpus, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "run"
    assert main(["-q", "analyze", str(corpus), "--out", str(out), "--engine", "ray", "--workers", "2",
                 *SETTINGS]) == 0
    pd.testing.assert_frame_equal(merged(out), single)


def test_a_killed_run_redoes_only_what_it_had_not_finished(single, corpus, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "facsnet", "-q", "analyze", str(corpus), "--out", str(out), *SETTINGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and len(list((out / "results").glob("*.json"))) < 5:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()[-1000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert 5 <= len(before) < 28, "the run should have been killed half-way"
    assert main(["-q", "analyze", str(corpus), "--out", str(out), *SETTINGS]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert len(after) == 30
    assert all(after[n] == t for n, t in before.items())                     # finished inputs were not redone
    pd.testing.assert_frame_equal(merged(out), single)


def test_a_rerun_redoes_a_changed_input_and_refuses_other_settings(corpus, tmp_path, capsys):
    media = tmp_path / "m"
    media.mkdir()
    for n in ("astronaut.jpg", "grace_hopper.jpg"):
        (media / n).write_bytes(sample_path(n).read_bytes())
    out = tmp_path / "run"
    assert main(["-q", "analyze", str(media), "--out", str(out), *SETTINGS]) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    Image.open(sample_path("group.jpg")).save(media / "astronaut.jpg")        # the file changed
    assert main(["-q", "analyze", str(media), "--out", str(out), *SETTINGS]) == 0
    redone = {p.name for p in (out / "results").glob("*.json") if p.stat().st_mtime_ns != stamps[p.name]}
    assert [n.split("-")[0] for n in redone] == ["astronaut.jpg"]
    assert len(merged(out).query("path.str.endswith('astronaut.jpg')")) == 3  # now the group photo's faces
    capsys.readouterr()
    assert main(["-q", "analyze", str(media), "--out", str(out), "--model", "fer2013_bn", "--threads", "1"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_shards_started_together_from_other_folders_share_one_run(single, corpus, tmp_path):
    """Two shard processes at once, one given the manifest by a relative path from another working
    folder: one run record, no input done twice, the single-process table."""
    out = tmp_path / "run"
    procs = [subprocess.Popen([sys.executable, "-m", "facsnet", "-q", "analyze", manifest, "--out", str(out),
                               "--shard", f"{i}/2", *SETTINGS], cwd=cwd, stderr=subprocess.PIPE, text=True)
             for i, (manifest, cwd) in enumerate([(str(corpus), None),
                                                   (os.path.relpath(corpus, corpus.parent.parent), corpus.parent.parent)], 1)]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert len(list((out / "results").glob("*.json"))) == 30
    pd.testing.assert_frame_equal(merged(out), single)


def test_a_manifest_column_that_would_hide_a_result_is_refused_and_a_bom_is_read(tmp_path, capsys):
    (tmp_path / "a.jpg").write_bytes(sample_path("astronaut.jpg").read_bytes())
    (tmp_path / "m.csv").write_text("path,emotion\na.jpg,happy\n")
    assert main(["-q", "analyze", str(tmp_path / "m.csv"), "--out", str(tmp_path / "run")]) == 2
    assert "emotion" in capsys.readouterr().err
    (tmp_path / "bom.csv").write_bytes("path,participant\na.jpg,P1\n".encode("utf-8-sig"))
    found = corpus_inputs([tmp_path / "bom.csv"], [])
    assert [(Path(f.path).name, f.meta) for f in found] == [("a.jpg", {"participant": "P1"})]


def test_a_run_into_a_folder_of_other_files_or_a_new_input_list_is_refused(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    for n in ("astronaut.jpg", "grace_hopper.jpg"):
        (tmp_path / "m" / n).write_bytes(sample_path(n).read_bytes())
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("years of work")
    assert main(["-q", "analyze", str(tmp_path / "m"), "--out", str(tmp_path / "busy"), *SETTINGS]) == 2
    assert "holds other files" in capsys.readouterr().err and (tmp_path / "busy" / "thesis.tex").exists()
    out = tmp_path / "run"
    assert main(["-q", "analyze", str(tmp_path / "m"), "--out", str(out), *SETTINGS]) == 0
    assert main(["-q", "analyze", str(tmp_path / "m" / "astronaut.jpg"), "--out", str(out), *SETTINGS]) == 2
    assert "inputs_" in capsys.readouterr().err                               # another input list: refused
    assert main(["-q", "analyze", str(tmp_path / "m"), "--out", str(out), "--shard", "1/2", "--overwrite",
                 *SETTINGS]) == 2
    assert len(merged(out)) == 2


def test_shards_are_deterministic_disjoint_and_complete(tmp_path):
    items = list(range(23))
    parts = [shard_of(items, (i, 4)) for i in range(1, 5)]
    assert sorted(x for p in parts for x in p) == items
    assert parts == [shard_of(items, (i, 4)) for i in range(1, 5)]
    assert parse_shard("3/4") == (3, 4) == parse_shard((3, 4))
    for bad in ("0/4", "5/4", "1-4", "a/b", (0, 1), (1, 2, 3)):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_micro_shards_count_from_one_as_analyze_shards_do(tmp_path):
    """`facsnet micro megc2019 --shard` and `facsnet analyze --shard` read I/N the same way: 0/4 is refused
    before anything is written."""
    from facsnet.micro.run import run_loso

    from facsnet.api import micro_megc2019

    with pytest.raises(ValueError, match="1 <= I <= N"):
        run_loso(None, ["flow"], None, tmp_path / "micro", None, "toy", shard="0/4")
    with pytest.raises(ValueError, match="1 <= I <= N"):       # before any data is looked for
        micro_megc2019(str(tmp_path / "no such folder"), shard="0/4", out=str(tmp_path / "micro"))
    assert not (tmp_path / "micro").exists()


def test_globs_folders_and_manifests_each_list_an_input_once(corpus):
    ignored = []
    media = corpus.parent / "media"
    found = corpus_inputs([str(media / "clip*.mp4"), str(media), str(corpus)], ignored)
    assert len(found) == 30 and len({f.path for f in found}) == 30
    assert found[0].path.endswith("clip0.mp4") and found[0].meta == {}     # first seen through the glob
    assert corpus_inputs([str(media / "nothing*.png")], ignored) == [] and "matches nothing" in ignored[-1][1]


def test_merge_names_what_is_missing(tmp_path, capsys):
    media = tmp_path / "m"
    media.mkdir()
    for n in ("astronaut.jpg", "grace_hopper.jpg"):
        (media / n).write_bytes(sample_path(n).read_bytes())
    out = tmp_path / "run"
    assert main(["-q", "analyze", str(media), "--out", str(out), "--shard", "1/2", *SETTINGS]) == 0
    assert main(["-q", "merge", str(out)]) == 2
    assert "1 of 2 input(s) have no result yet" in capsys.readouterr().err
    assert main(["-q", "merge", str(out), "--allow-missing"]) == 0
    assert main(["-q", "merge", str(tmp_path)]) == 2
    assert "not a corpus run folder" in capsys.readouterr().err


def test_the_python_api_runs_and_merges_a_corpus(tmp_path):
    import facsnet

    media = tmp_path / "m"
    media.mkdir()
    for n in ("astronaut.jpg", "group.jpg"):
        (media / n).write_bytes(sample_path(n).read_bytes())
    summary = facsnet.analyze_corpus([media], tmp_path / "run", model="fer2013", num_threads=1)
    assert (summary.done, summary.already_done, summary.failed) == (2, 0, [])
    table = facsnet.merge(tmp_path / "run")
    assert len(table) == 1 + 3 and table["emotion"].iloc[0] == "happy"
    again = facsnet.analyze_corpus([media], tmp_path / "run", model="fer2013", num_threads=1)
    assert (again.done, again.already_done) == (0, 2)


def test_a_prior_strength_is_checked_before_a_run_is_recorded_and_true_is_one(tmp_path):
    """balanced=True and balanced=1.0 are one run (the second finds everything done); a strength out of
    range is refused before the run folder records anything."""
    import facsnet

    media = tmp_path / "m"
    media.mkdir()
    (media / "astronaut.jpg").write_bytes(sample_path("astronaut.jpg").read_bytes())
    with pytest.raises(ValueError, match="between 0 .* and 1"):
        facsnet.analyze_corpus([media], tmp_path / "run", model="fer2013", num_threads=1, balanced=2)
    assert not (tmp_path / "run" / "config.json").exists()
    with pytest.raises(ValueError, match="unknown analysis setting.*min_face_scor\\b"):   # a typo, by name
        facsnet.analyze_corpus([media], tmp_path / "run", model="fer2013", num_threads=1, min_face_scor=0.9)
    assert not (tmp_path / "run" / "config.json").exists()
    first = facsnet.analyze_corpus([media], tmp_path / "run", model="fer2013", num_threads=1, balanced=True)
    again = facsnet.analyze_corpus([media], tmp_path / "run", model="fer2013", num_threads=1, balanced=1.0)
    assert (first.done, again.done, again.already_done) == (1, 0, 1)
    # None (as the model asks) is the model's own strength: on a model that records none, the same run as False;
    # on one that records 0.3, the same run as 0.3
    first = facsnet.analyze_corpus([media], tmp_path / "plain", model="fer2013", num_threads=1)
    again = facsnet.analyze_corpus([media], tmp_path / "plain", model="fer2013", num_threads=1, balanced=False)
    assert (first.done, again.done, again.already_done) == (1, 0, 1)
    from facsnet.models.checkpoint import record_prior_strength
    from facsnet.models.hub import resolve_weights

    served = tmp_path / "served.pt"
    served.write_bytes(resolve_weights("fer2013").read_bytes())
    record_prior_strength(served, 0.3)
    first = facsnet.analyze_corpus([media], tmp_path / "served", model=str(served), num_threads=1)
    again = facsnet.analyze_corpus([media], tmp_path / "served", model=str(served), num_threads=1, balanced=0.3)
    assert (first.done, again.done, again.already_done) == (1, 0, 1)
