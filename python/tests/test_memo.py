"""The real-side memo (stages/memo.py): a sweep's jobs share one bridge process and measure the same real faces
with the same networks; those measurements are reused while their inputs are unchanged, and only then."""
import os
import time

from id3_torch.stages import memo


def test_reused_while_the_key_is_unchanged_recomputed_when_it_changes():
    calls = []

    def compute(value):
        def run():
            calls.append(value)
            return [value]
        return run

    first = memo.memo("test", {"manifest": "a", "split": "test"}, compute(1))
    again = memo.memo("test", {"split": "test", "manifest": "a"}, compute(2))  # the same key, other key order
    assert again is first and calls == [1]
    other = memo.memo("test", {"manifest": "b", "split": "test"}, compute(3))
    assert other == [3] and calls == [1, 3]
    # One value per name: going back to the first key computes again.
    assert memo.memo("test", {"manifest": "a", "split": "test"}, compute(4)) == [4]
    memo._MEMO.pop("test")


def test_a_rewritten_file_or_folder_changes_the_identity(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,identity\na.png,0\n")
    before = memo.file_identity(str(manifest))
    assert memo.file_identity(str(manifest)) == before
    manifest.write_text("path,identity\nb.png,0\n")  # same size, later mtime
    os.utime(manifest, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert memo.file_identity(str(manifest)) != before
    folder = tmp_path / "judge"
    folder.mkdir()
    (folder / "encoder.json").write_text("{}")
    listed = memo.file_identity(str(folder))
    (folder / "backbone.safetensors").write_bytes(b"x")
    assert memo.file_identity(str(folder)) != listed
    assert memo.spec_key({"kind": "folder", "path": str(folder)})["path"] == memo.file_identity(str(folder))
    assert memo.spec_key({"kind": "dlib", "framing": "arcface-112"}) == {"kind": "dlib", "framing": "arcface-112"}


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
        keys.append([memo.spec_key(spec), memo.real_key(real)])
    assert keys[0] == keys[1]
