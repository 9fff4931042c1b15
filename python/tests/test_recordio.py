"""RecordIO reader/writer: byte-for-byte against MXNet 1.9.1's own implementation, the insightface
layout, and every kind of damaged file."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from id3_torch.data import recordio
from id3_torch.data.errors import DataFormatError
from id3_torch.data.folders import decode_image, encode_image
from id3_torch.data.parametric import render_images
from id3_torch.data.recordio import MAGIC_BYTES, RecordHeader, RecordIOReader, RecordIOWriter
from mxnet_reference import mxnet_read, run_mxnet

MAGIC_ID = 0xCED7230A  # an IRHeader id equal to the magic puts the magic at payload byte 8: a split record


@pytest.fixture(scope="module")
def faces() -> tuple[torch.Tensor, list[int]]:
    """Six 48 px parametric faces of identities 0, 0, 0, 1, 1, 2."""
    identities = [0, 0, 0, 1, 1, 2]
    images, _ = render_images(3, torch.tensor(identities), torch.tensor([0, 1, 2, 0, 1, 0]), 48)
    return images, identities


def insightface_spec(faces) -> list[dict]:
    """An insightface-layout file as records in write order: images 1..6, identities 7..9, header 0 last.

    Odd keys carry vector labels [identity, extra, extra]; key 3's id makes its payload hold the magic;
    key 6 is PNG, the rest JPEG."""
    images, identities = faces
    spec = []
    for n, (image, identity) in enumerate(zip(images, identities)):
        key = n + 1
        body = encode_image(image, format="png" if key == 6 else "jpeg", quality=90)
        label = [identity, 0.25 * key, -1.5] if key % 2 else float(identity)
        spec.append({"key": key, "label": label, "id": MAGIC_ID if key == 3 else key, "id2": 0, "body": body.hex()})
    for j, (start, end) in enumerate([(1, 4), (4, 6), (6, 7)]):
        spec.append({"key": 7 + j, "label": [start, end], "id": 7 + j, "id2": 0, "body": ""})
    spec.append({"key": 0, "label": [7, 10], "id": 0, "id2": 0, "body": ""})
    return spec


def header_of(record: dict) -> RecordHeader:
    label = record["label"]
    if isinstance(label, list):
        return RecordHeader(len(label), tuple(float(np.float32(x)) for x in label), record["id"], record["id2"])
    return RecordHeader(0, float(np.float32(label)), record["id"], record["id2"])


def write_spec(rec: Path, idx: Path, spec: list[dict]) -> None:
    with RecordIOWriter(rec, idx) as writer:
        for record in spec:
            if "payload" in record:
                writer.write_payload(record["key"], bytes.fromhex(record["payload"]))
            else:
                writer.write(record["key"], record["label"], bytes.fromhex(record["body"]), id=record["id"],
                             id2=record["id2"])


# Raw payloads around every framing case: padding 0-3, the magic aligned at the start, middle and end,
# twice in a row (an empty middle part), and unaligned (must not split).
RAW_PAYLOADS = [b"", b"a", b"ab", b"abc", b"abcd", b"abcde", MAGIC_BYTES, MAGIC_BYTES + b"xy", b"abcd" + MAGIC_BYTES,
                b"abcd" + MAGIC_BYTES + MAGIC_BYTES + b"z", b"a" + MAGIC_BYTES + b"bcd", b"\x00" * 4096 + MAGIC_BYTES * 3]


def test_split_record_framing_is_the_dmlc_layout():
    # magic | lrecord(cflag 1, 4) | "abcd" || magic | lrecord(cflag 3, 2) | "xy" + 2 pad bytes
    expected = (MAGIC_BYTES + struct.pack("<I", 1 << 29 | 4) + b"abcd"
                + MAGIC_BYTES + struct.pack("<I", 3 << 29 | 2) + b"xy\x00\x00")
    assert recordio.frame_record(b"abcd" + MAGIC_BYTES + b"xy") == expected
    assert recordio.frame_record(b"a" + MAGIC_BYTES) == MAGIC_BYTES + struct.pack("<I", 5) + b"a" + MAGIC_BYTES + b"\0" * 3


def test_raw_records_match_mxnet_both_ways(mxnet_python, tmp_path):
    spec = [{"key": 10 + n, "payload": payload.hex()} for n, payload in enumerate(RAW_PAYLOADS)]
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    run_mxnet(mxnet_python, "write", tmp_path / "mx.rec", tmp_path / "mx.idx", tmp_path / "spec.json")
    write_spec(tmp_path / "ours.rec", tmp_path / "ours.idx", spec)

    assert (tmp_path / "ours.rec").read_bytes() == (tmp_path / "mx.rec").read_bytes()
    assert (tmp_path / "ours.idx").read_bytes() == (tmp_path / "mx.idx").read_bytes()
    with RecordIOReader(tmp_path / "mx.rec", tmp_path / "mx.idx") as reader:
        assert [reader.read_payload(10 + n) for n in range(len(RAW_PAYLOADS))] == RAW_PAYLOADS
    seen = mxnet_read(mxnet_python, tmp_path / "ours.rec", tmp_path / "ours.idx", tmp_path / "decoded")
    assert seen["keys"] == [record["key"] for record in spec]
    assert [seen["records"][str(r["key"])]["payload"] for r in spec] == [r["payload"] for r in spec]
    assert seen["sequential"] == [payload.hex() for payload in RAW_PAYLOADS]


def test_reads_what_mxnet_writes(mxnet_python, faces, tmp_path):
    spec = insightface_spec(faces)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    rec, idx = tmp_path / "train.rec", tmp_path / "train.idx"
    run_mxnet(mxnet_python, "write", rec, idx, tmp_path / "spec.json")

    with RecordIOReader(rec, idx) as reader:
        assert reader.header() == RecordHeader(2, (7.0, 10.0), 0, 0)
        assert reader.image_keys.tolist() == [1, 2, 3, 4, 5, 6]
        assert reader.identity_ranges.tolist() == [[1, 4], [4, 6], [6, 7]]
        assert reader.labels.tolist() == faces[1]
        for record in spec:
            header, body = reader.read(record["key"])
            assert header == header_of(record)
            assert body.hex() == record["body"]
        assert recordio.frame_record(reader.read_payload(3)).count(MAGIC_BYTES) == 2  # key 3 was split once
        assert torch.equal(reader.image(6), faces[0][5])  # PNG: lossless

    # The same records written by us are the same bytes.
    write_spec(tmp_path / "ours.rec", tmp_path / "ours.idx", spec)
    assert (tmp_path / "ours.rec").read_bytes() == rec.read_bytes()
    assert (tmp_path / "ours.idx").read_bytes() == idx.read_bytes()


def write_insightface(rec: Path, faces, *, extra_labels: bool = True) -> None:
    images, identities = faces
    with RecordIOWriter(rec, image_format="jpeg", jpeg_quality=90) as writer:
        for n, (image, identity) in enumerate(zip(images, identities)):
            label = [identity, float(n), 2.5] if extra_labels and n % 2 else identity
            writer.add_image(label, encode_image(image, format="png") if n == 5 else image)


def test_mxnet_reads_what_we_write(mxnet_python, faces, tmp_path):
    rec = tmp_path / "train.rec"
    write_insightface(rec, faces)
    seen = mxnet_read(mxnet_python, rec, rec.with_suffix(".idx"), tmp_path / "decoded")

    assert seen["keys"] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]  # insightface's tools also write record 0 last
    assert len(seen["sequential"]) == 10
    with RecordIOReader(rec) as reader:
        for key in seen["keys"]:
            header, body = reader.read(key)
            record = seen["records"][str(key)]
            assert header_of(record) == header
            assert record["body"] == body.hex()
        assert seen["records"]["0"]["label"] == [7.0, 10.0]
        assert [seen["records"][str(k)]["label"] for k in (7, 8, 9)] == [[1.0, 4.0], [4.0, 6.0], [6.0, 7.0]]
        assert [seen["records"][str(k)]["label"] for k in (1, 2)] == [0.0, [0.0, 1.0, 2.5]]
        for key in range(1, 7):
            assert seen["records"][str(key)]["decoded"]
            theirs = torch.from_numpy(np.load(tmp_path / "decoded" / f"{key}.npy")).permute(2, 0, 1)
            ours = reader.image(key)
            # Both decode with libjpeg(-turbo); allow one level for a different IDCT build, PNG exact.
            assert (theirs.int() - ours.int()).abs().max() <= (0 if key == 6 else 1)
            assert (ours.float() - faces[0][key - 1].float()).abs().mean() < 12  # and it is the face written


def test_insightface_layout_round_trip(faces, tmp_path):
    rec = tmp_path / "train.rec"
    write_insightface(rec, faces)
    with RecordIOReader(rec) as reader:
        assert len(reader) == 6
        assert reader.header() == RecordHeader(2, (7.0, 10.0), 0, 0)
        assert reader.identity_ranges.tolist() == [[1, 4], [4, 6], [6, 7]]
        assert reader.labels.tolist() == [0, 0, 0, 1, 1, 2]
        assert reader.read(2)[0] == RecordHeader(3, (0.0, 1.0, 2.5), 2, 0)
        assert reader.read(1)[0] == RecordHeader(0, 0.0, 1, 0)
        assert torch.equal(reader.image(6), faces[0][5])
        assert [tuple(reader.image(k).shape) for k in range(1, 6)] == [(3, 48, 48)] * 5
    assert sorted(os.listdir(tmp_path)) == ["train.idx", "train.rec"]  # no temporary left behind


def test_plain_image_list_without_header(faces, tmp_path):
    rec = tmp_path / "shuffled.rec"
    with RecordIOWriter(rec) as writer:
        for key, n in zip([5, 3, 9], [0, 3, 5]):
            writer.write(key, float(faces[1][n]), encode_image(faces[0][n], format="png"))
    with RecordIOReader(rec) as reader:
        assert reader.header() is None and reader.identity_ranges is None
        assert reader.image_keys.tolist() == [5, 3, 9]  # .idx order, as MXFaceDataset takes imgrec.keys
        assert reader.labels.tolist() == [0, 1, 2]
        assert torch.equal(reader.image(3), faces[0][3])


def test_add_image_needs_identities_grouped_in_order(faces, tmp_path):
    writer = RecordIOWriter(tmp_path / "x.rec")
    writer.add_image(0, faces[0][0])
    with pytest.raises(ValueError, match="grouped by identity"):
        writer.add_image(2, faces[0][1])
    writer.add_image(1, faces[0][1])
    with pytest.raises(ValueError, match="got identity 0 after 1"):
        writer.add_image(0, faces[0][2])
    writer.abort()
    assert os.listdir(tmp_path) == []


def test_writer_replaces_atomically(faces, tmp_path):
    rec = tmp_path / "train.rec"
    write_insightface(rec, faces)
    before = rec.read_bytes(), rec.with_suffix(".idx").read_bytes()
    with pytest.raises(RuntimeError, match="stop"):
        with RecordIOWriter(rec) as writer:
            writer.add_image(0, faces[0][0])
            raise RuntimeError("stop")
    assert (rec.read_bytes(), rec.with_suffix(".idx").read_bytes()) == before
    assert sorted(os.listdir(tmp_path)) == ["train.idx", "train.rec"]


class _Images(torch.utils.data.Dataset):
    def __init__(self, reader: RecordIOReader):
        self.reader = reader

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, n: int) -> torch.Tensor:
        return self.reader.image(int(self.reader.image_keys[n]))


def test_reader_is_safe_in_worker_processes(faces, tmp_path):
    rec = tmp_path / "train.rec"
    write_insightface(rec, faces)
    reader = RecordIOReader(rec)
    expected = torch.stack([reader.image(k) for k in range(1, 7)])  # the parent's descriptor is open now
    loader = torch.utils.data.DataLoader(_Images(reader), batch_size=2, num_workers=2)
    assert torch.equal(torch.cat(list(loader)), expected)
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._fd is None and torch.equal(clone.image(4), expected[3])
    reader.close()


# -- damaged files --------------------------------------------------------------------------------


@pytest.fixture
def plain_rec(faces, tmp_path) -> Path:
    """Keys 0..4, scalar labels, JPEG bodies, no insightface header."""
    rec = tmp_path / "plain.rec"
    with RecordIOWriter(rec) as writer:
        for key in range(5):
            writer.write(key, float(faces[1][key]), encode_image(faces[0][key]))
    return rec


def offsets_of(rec: Path) -> dict[int, int]:
    lines = rec.with_suffix(".idx").read_text().split()
    return {int(key): int(offset) for key, offset in zip(lines[::2], lines[1::2])}


def test_truncated_rec_names_the_record(plain_rec):
    cut = (offsets_of(plain_rec)[4] + plain_rec.stat().st_size) // 2  # inside the last record's body
    os.truncate(plain_rec, cut)
    with RecordIOReader(plain_rec) as reader:
        assert reader.image(3).shape == (3, 48, 48)
        with pytest.raises(DataFormatError, match="truncated") as caught:
            reader.read(4)
    assert caught.value.path == str(plain_rec) and caught.value.record == "record key 4"
    assert f"file ends at byte {cut}" in str(caught.value)


def test_index_past_the_end_names_the_line(plain_rec):
    idx = plain_rec.with_suffix(".idx")
    size = plain_rec.stat().st_size
    lines = idx.read_text().splitlines()
    lines[2] = f"2\t{size + 100}"
    idx.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as caught:
        RecordIOReader(plain_rec)
    assert caught.value.path == str(idx) and caught.value.record == "line 3"
    assert f"byte offset {size + 100} of key 2 is past the end" in str(caught.value)


@pytest.mark.parametrize("insert, record, message", [
    ("not a line", "line 3", "expected 'key<TAB>byte offset', found b'not a line'"),
    ("7\t0\t9", "line 3", "expected 'key<TAB>byte offset', found b'7<TAB>0<TAB>9'"),
    ("3\t0", "line 3", "key 3 is listed more than once"),
])
def test_malformed_index_line(plain_rec, insert, record, message):
    idx = plain_rec.with_suffix(".idx")
    idx.write_text(idx.read_text().replace("\n", f"\n\n{insert}\n", 1))  # a blank line 2 is allowed
    with pytest.raises(DataFormatError, match=message) as caught:
        RecordIOReader(plain_rec)
    assert caught.value.path == str(idx) and caught.value.record == record


def test_wrong_magic_names_the_record(plain_rec):
    data = bytearray(plain_rec.read_bytes())
    data[offsets_of(plain_rec)[2]] ^= 0xFF
    plain_rec.write_bytes(data)
    with RecordIOReader(plain_rec) as reader:
        with pytest.raises(DataFormatError, match="expected magic 0xced7230a at byte .*, found 0xced723f5") as caught:
            reader.read(2)
        assert caught.value.record == "record key 2"
        assert reader.read(1)[0].label == 0.0  # the other records still read


def test_offset_into_the_middle_of_a_split_record(tmp_path):
    rec = tmp_path / "split.rec"
    with RecordIOWriter(rec) as writer:
        writer.write_payload(5, b"abcd" + MAGIC_BYTES + b"efgh")
    (tmp_path / "split.idx").write_text("5\t0\n6\t12\n")  # key 6 -> the second part's frame
    with RecordIOReader(rec) as reader:
        assert reader.read_payload(5) == b"abcd" + MAGIC_BYTES + b"efgh"
        with pytest.raises(DataFormatError, match="has cflag 3, expected one of"):
            reader.read_payload(6)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_image_raises_or_is_skipped(plain_rec, faces, tmp_path, damage):
    body = encode_image(faces[0][0])
    bad = body[: len(body) // 2] if damage == "truncated" else b"\xff\xd8\xff" + bytes(range(256)) * 4
    rec = tmp_path / "bad.rec"
    with RecordIOWriter(rec) as writer:
        writer.write(0, 0.0, body)
        writer.write(1, 0.0, bad)
    with RecordIOReader(rec) as reader:
        with pytest.raises(DataFormatError, match="not a decodable JPEG/PNG image") as caught:
            reader.image(1)
        assert caught.value.path == str(rec) and caught.value.record == "record key 1"
    with RecordIOReader(rec, on_corrupt="skip") as reader:
        assert reader.image(1) is None
        assert torch.equal(reader.image(0), decode_image(body, path="x"))
        assert reader.corrupt_keys == [1]


def test_errors_survive_pickling():
    error = DataFormatError("bad", path="/x.rec", record="record key 3")
    clone = pickle.loads(pickle.dumps(error))
    assert (str(clone), clone.path, clone.record) == ("/x.rec, record key 3: bad", "/x.rec", "record key 3")
    assert isinstance(clone, ValueError)
