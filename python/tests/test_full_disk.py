"""A full disk: the write fails naming the file it was writing, and leaves no temporary behind."""
import errno
import os
import subprocess

import pytest

from id3_torch.files import write_bytes_atomic


@pytest.fixture
def full_disk(tmp_path):
    """A 16 KiB tmpfs (root only, as on the project's machines and CI)."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)]).returncode:
        pytest.skip("mounting a tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_write_that_fills_the_disk_names_the_file_and_leaves_nothing(full_disk):
    target = full_disk / "ema.safetensors"
    with pytest.raises(OSError) as caught:
        write_bytes_atomic(target, b"0" * 100_000)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert str(target) in str(caught.value)
    assert list(full_disk.iterdir()) == []
