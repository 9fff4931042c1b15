"""Verification `.bin` pair files: round trips, the layouts insightface's files were written in, and
pickles that must not be trusted."""

from __future__ import annotations

import os
import pickle
import pickletools

import numpy as np
import pytest
import torch

from id3_torch.data.errors import DataFormatError
from id3_torch.data.folders import decode_image, encode_image
from id3_torch.data.parametric import render_images
from id3_torch.data.verification_bin import load_verification_bin, write_verification_bin


@pytest.fixture(scope="module")
def pairs() -> tuple[torch.Tensor, torch.Tensor]:
    """4 pairs of 40 px faces: (images (8, 3, 40, 40) uint8, issame (4,) bool)."""
    identities = torch.tensor([0, 0, 1, 2, 3, 3, 4, 5])
    images, _ = render_images(11, identities, torch.tensor([0, 1, 0, 0, 0, 1, 0, 0]), 40)
    return images, identities[0::2] == identities[1::2]


def test_png_round_trip_is_exact(pairs, tmp_path):
    images, issame = pairs
    path = tmp_path / "lfw.bin"
    write_verification_bin(path, images, issame, format="png")
    loaded, same = load_verification_bin(path)
    assert torch.equal(loaded, images)
    assert same.dtype == torch.bool and same.tolist() == [True, False, True, False]
    assert os.listdir(tmp_path) == ["lfw.bin"]


def test_jpeg_file_is_what_insightface_unpickles(pairs, tmp_path):
    images, issame = pairs
    path = tmp_path / "agedb_30.bin"
    write_verification_bin(path, images, issame, format="jpeg", quality=90)
    bins, issame_list = pickle.loads(path.read_bytes(), encoding="bytes")  # insightface's load_bin
    assert issame_list == [True, False, True, False]
    assert all(data[:3] == b"\xff\xd8\xff" for data in bins)
    loaded, _ = load_verification_bin(path)
    assert torch.equal(loaded, torch.stack([decode_image(data, path=path) for data in bins]))
    assert (loaded.float() - images.float()).abs().mean() < 12


def test_python2_layout(pairs, tmp_path):
    # 1002 tiny PNGs: SHORT_BINSTRING items and two batches of appends, as Python 2's cPickle wrote.
    images = torch.arange(1002 * 3 * 4 * 4, dtype=torch.int64).remainder(251).to(torch.uint8).reshape(1002, 3, 4, 4)
    issame = [n % 3 == 0 for n in range(501)]
    path = tmp_path / "cfp_fp.bin"
    write_verification_bin(path, images, issame, format="png", protocol=2)
    data = path.read_bytes()
    opcodes = {op.name for op, _, _ in pickletools.genops(data)}
    assert {"SHORT_BINSTRING", "APPENDS", "NEWTRUE", "NEWFALSE"} <= opcodes and "GLOBAL" not in opcodes
    with pytest.raises(UnicodeDecodeError):  # why insightface retries with encoding='bytes'
        pickle.loads(data)
    bins, issame_list = pickle.loads(data, encoding="bytes")
    assert issame_list == issame
    assert torch.equal(torch.stack([decode_image(data, path=path) for data in bins]), images)
    loaded, same = load_verification_bin(path)
    assert torch.equal(loaded, images) and same.tolist() == issame

    # Images of 256 bytes and more are BINSTRING items.
    write_verification_bin(path, pairs[0], pairs[1], format="png", protocol=2)
    assert "BINSTRING" in {op.name for op, _, _ in pickletools.genops(path.read_bytes())}
    loaded, same = load_verification_bin(path)
    assert torch.equal(loaded, pairs[0]) and torch.equal(same, pairs[1])


def test_numpy_encoded_images_and_numpy_1_module_paths(pairs, tmp_path):
    # Several insightface pack scripts stored cv2.imencode output: (L, 1) uint8 arrays; issame as an array.
    images, issame = pairs
    bins = [np.frombuffer(encode_image(image, format="png"), dtype=np.uint8).reshape(-1, 1) for image in images]
    content = (bins, np.array(issame.tolist()))
    for protocol in (2, 4, 5):
        data = pickle.dumps(content, protocol=protocol)
        if protocol == 2:  # as numpy 1.x wrote the same pickle
            data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            assert b"cnumpy.core.multiarray\n_reconstruct" in data
        path = tmp_path / f"p{protocol}.bin"
        path.write_bytes(data)
        loaded, same = load_verification_bin(path)
        assert torch.equal(loaded, images) and torch.equal(same, issame)


def test_image_size_resizes_off_size_images(pairs, tmp_path):
    images, issame = pairs
    encoded = [encode_image(image, format="png") for image in images]
    encoded[3] = encode_image(render_images(11, torch.tensor([2]), torch.tensor([0]), 56)[0][0], format="png")
    path = tmp_path / "mixed.bin"
    write_verification_bin(path, encoded, issame)
    with pytest.raises(DataFormatError, match="image is 56x56 but image 0 is 40x40") as caught:
        load_verification_bin(path)
    assert caught.value.record == "image 3"
    loaded, _ = load_verification_bin(path, image_size=40)
    assert loaded.shape == (8, 3, 40, 40)
    assert torch.equal(loaded[:3], images[:3])
    # The 56 px render of the same face, scaled down, is close to the 40 px one.
    assert (loaded[3].float() - images[3].float()).abs().mean() < 20
    assert load_verification_bin(path, image_size=(32, 48))[0].shape == (8, 3, 32, 48)


class _RunsShellCommand:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_crafted_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.bin"
    path.write_bytes(pickle.dumps(([_RunsShellCommand(f"touch {marker}")], [True])))
    with pytest.raises(DataFormatError, match=r"global posix\.system") as caught:
        load_verification_bin(path)
    assert caught.value.path == str(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the payload is live: a plain unpickler runs it
    assert marker.exists()


def test_allowed_globals_cannot_be_turned_into_other_calls(tmp_path):
    path = tmp_path / "codec.bin"
    # _codecs.encode is allowed for latin-1 bytes only; any other codec is refused.
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00rot_13\x86R.")
    with pytest.raises(DataFormatError, match="only latin-1"):
        load_verification_bin(path)
    path.write_bytes(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.")
    with pytest.raises(DataFormatError, match=r"global builtins\.eval"):
        load_verification_bin(path)


@pytest.mark.parametrize("content, message", [
    ({"bins": [], "issame": []}, "expected a pickled \\(images, issame_list\\) pair, found a dict"),
    (([b"x"], [True], [0.5]), "found a 3-element tuple"),
    (([b"\xff\xd8\xff"] * 3, [True, False]), "2 images per pair: 2 pairs but 3 images"),
    (([b"\xff\xd8\xff", "text"], [True]), "expected encoded image bytes, found str"),
    (([b"\xff\xd8\xff"] * 2, [0.5]), "issame_list to be a list or array of booleans"),
])
def test_other_objects_are_rejected(tmp_path, content, message):
    path = tmp_path / "other.bin"
    path.write_bytes(pickle.dumps(content, protocol=4))
    with pytest.raises(DataFormatError, match=message) as caught:
        load_verification_bin(path)
    assert caught.value.path == str(path)


def test_damaged_files(pairs, tmp_path):
    images, issame = pairs
    path = tmp_path / "lfw.bin"
    write_verification_bin(path, images, issame)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="not a readable pickle"):
        load_verification_bin(path)

    encoded = [encode_image(image) for image in images]
    encoded[5] = encoded[5][:200]
    write_verification_bin(path, encoded, issame)
    with pytest.raises(DataFormatError, match="not a decodable JPEG/PNG image") as caught:
        load_verification_bin(path)
    assert caught.value.record == "image 5"


def test_writer_checks_its_input(pairs, tmp_path):
    images, issame = pairs
    with pytest.raises(ValueError, match="2 images per pair: 3 pairs but 8 images"):
        write_verification_bin(tmp_path / "x.bin", images, issame[:3])
    with pytest.raises(ValueError, match="image 1 is bytes but not JPEG/PNG"):
        write_verification_bin(tmp_path / "x.bin", [encode_image(images[0]), b"GIF89a"], [True])
    assert os.listdir(tmp_path) == []
