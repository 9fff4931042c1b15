"""generate's real-side memo: a sweep's generate jobs share one bridge process and measure the same real faces
with the same judge; those measurements are reused while their inputs are unchanged, and only then."""
import os
import time

from id3_torch.stages import generate


def test_reused_while_the_key_is_unchanged_recomputed_when_it_changes():
    calls = []

    def compute(value):
        def run():
            calls.append(value)
            return [value]
        return run

    first = generate._memo("test", {"manifest": "a", "split": "test"}, compute(1))
    again = generate._memo("test", {"split": "test", "manifest": "a"}, compute(2))  # the same key, other key order
    assert again is first and calls == [1]
    other = generate._memo("test", {"manifest": "b", "split": "test"}, compute(3))
    assert other == [3] and calls == [1, 3]
    # One value per name: going back to the first key computes again.
    assert generate._memo("test", {"manifest": "a", "split": "test"}, compute(4)) == [4]
    generate._MEMO.pop("test")


def test_a_rewritten_file_or_folder_changes_the_identity(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,identity\na.png,0\n")
    before = generate._file_identity(str(manifest))
    assert generate._file_identity(str(manifest)) == before
    manifest.write_text("path,identity\nb.png,0\n")  # same size, later mtime
    os.utime(manifest, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert generate._file_identity(str(manifest)) != before
    folder = tmp_path / "judge"
    folder.mkdir()
    (folder / "encoder.json").write_text("{}")
    listed = generate._file_identity(str(folder))
    (folder / "backbone.safetensors").write_bytes(b"x")
    assert generate._file_identity(str(folder)) != listed
    assert generate._spec_key({"kind": "folder", "path": str(folder)})["path"] == generate._file_identity(str(folder))
    assert generate._spec_key({"kind": "dlib", "framing": "arcface-112"}) == {"kind": "dlib", "framing": "arcface-112"}


def test_two_runs_linking_the_same_stage_folders_share_one_key(tmp_path):
    """runs/a/judge and runs/b/judge are links to one stage folder: the same judge, the same key."""
    store = tmp_path / ".stages" / "judge"
    store.mkdir(parents=True)
    (store / "encoder.json").write_text("{}")
    (store / "manifest.csv").write_text("path,identity\n")
    keys = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "judge").symlink_to(store)
        spec = {"kind": "folder", "path": str(tmp_path / run / "judge")}
        real = {"manifest": str(tmp_path / run / "judge" / "manifest.csv"), "split": "test"}
        keys.append([generate._spec_key(spec), generate._real_key(real)])
    assert keys[0] == keys[1]
