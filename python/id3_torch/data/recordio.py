"""insightface/MXNet RecordIO: `.rec` records found through a `.idx` text index, read and written.

Format (dmlc-core recordio.h/.cc and mxnet/recordio.py; every integer little-endian):
  record  = magic u32 0xced7230a | lrecord u32 | part bytes | zero padding to a multiple of 4
  lrecord = cflag << 29 | length                   (length < 2**29)
  cflag   = 0 whole record; 1 first, 2 middle, 3 last part of a split record. The writer cuts the
            payload at every 4-byte-aligned occurrence of the magic and drops it; the reader puts the
            magic back between parts, so a scan for the magic never stops inside a payload.
  .idx    = text lines "key<TAB>byte offset of the record's first part"
  payload = IRHeader struct 'IfQQ' (flag, label, id, id2) | flag float32 labels when flag > 0 | body
            (with flag > 0 the label is that float32 vector and the struct's own label field is 0)

insightface layout (arcface_torch MXFaceDataset, the merge tools that make the .rec files): record 0
has flag > 0, an empty body and label (a, b); keys 1..a-1 are the images, keys a..b-1 one record per
identity whose label is that identity's image-key range [start, end); tools write record 0 last.
An image's label is its identity (a scalar, or the first element of a vector). A file whose record 0
has flag 0 (or that has no record 0) is a plain list of images: every key, in `.idx` order.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import os
import shutil
import struct
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .errors import DataFormatError
from .folders import decode_image, encode_image, encoded_format

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
CFLAG_SHIFT = 29
LENGTH_MASK = (1 << CFLAG_SHIFT) - 1
CFLAG_WHOLE, CFLAG_FIRST, CFLAG_MIDDLE, CFLAG_LAST = 0, 1, 2, 3
IR_FORMAT = "<IfQQ"  # flag, label, id, id2 (MXNet's native 'IfQQ' on a little-endian machine)
IR_SIZE = struct.calcsize(IR_FORMAT)  # 24
HEADER_KEY = 0  # insightface's dataset header record


@dataclasses.dataclass(frozen=True)
class RecordHeader:
    """MXNet's IRHeader: flag = number of float32 labels (0: one scalar label), id, id2 free integers."""

    flag: int
    label: float | tuple[float, ...]
    id: int
    id2: int


def pack_payload(label: float | Sequence[float], body: bytes, *, id: int = 0, id2: int = 0) -> bytes:
    """mxnet.recordio.pack: IRHeader (+ float32 label vector) + body."""
    if isinstance(label, numbers.Real):
        return struct.pack(IR_FORMAT, 0, label, id, id2) + body
    vector = np.asarray(label, dtype="<f4").ravel()
    if vector.size == 0:
        raise ValueError("a vector label needs at least one element (a scalar label is written with flag 0)")
    return struct.pack(IR_FORMAT, vector.size, 0.0, id, id2) + vector.tobytes() + body


def unpack_payload(payload: bytes, *, path: str | os.PathLike, record: str) -> tuple[RecordHeader, bytes]:
    """mxnet.recordio.unpack: payload -> (header, body); DataFormatError if the header does not fit."""
    if len(payload) < IR_SIZE:
        raise DataFormatError(f"payload of {len(payload)} bytes is shorter than the {IR_SIZE}-byte IRHeader",
                              path=path, record=record)
    flag, label, id_, id2 = struct.unpack_from(IR_FORMAT, payload)
    if flag == 0:
        return RecordHeader(0, label, id_, id2), payload[IR_SIZE:]
    body_start = IR_SIZE + 4 * flag
    if len(payload) < body_start:
        raise DataFormatError(f"IRHeader flag {flag} promises {flag} float32 labels, but only "
                              f"{len(payload) - IR_SIZE} bytes follow the header", path=path, record=record)
    vector = tuple(np.frombuffer(payload, dtype="<f4", count=flag, offset=IR_SIZE).tolist())
    return RecordHeader(flag, vector, id_, id2), payload[body_start:]


def identity_of(header: RecordHeader) -> int:
    """An image record's identity: its scalar label, or the first element of its label vector."""
    return int(header.label if header.flag == 0 else header.label[0])


def frame_record(payload: bytes) -> bytes:
    """dmlc RecordIOWriter::WriteRecord: cut at aligned magics, frame each part, pad the record to 4 bytes."""
    if len(payload) > LENGTH_MASK:
        raise ValueError(f"a RecordIO record holds fewer than 2**29 bytes, got {len(payload)}")
    chunks = []
    part_start = 0
    found = payload.find(MAGIC_BYTES)
    while found != -1:
        if found % 4 == 0:
            cflag = CFLAG_MIDDLE if chunks else CFLAG_FIRST
            chunks += [struct.pack("<II", MAGIC, cflag << CFLAG_SHIFT | (found - part_start)), payload[part_start:found]]
            part_start = found + 4
            found = payload.find(MAGIC_BYTES, part_start)
        else:
            found = payload.find(MAGIC_BYTES, found + 1)
    cflag = CFLAG_LAST if chunks else CFLAG_WHOLE
    chunks += [struct.pack("<II", MAGIC, cflag << CFLAG_SHIFT | (len(payload) - part_start)), payload[part_start:]]
    chunks.append(bytes(-len(payload) % 4))  # parts before the last are multiples of 4 long
    return b"".join(chunks)


def _index_lines(idx_path: Path):
    """(line number, fields) of every non-blank `.idx` line: the slow path that finds a line for an error."""
    with open(idx_path, "rb") as stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line.strip().split(b"\t")


def _index_error(idx_path: Path, problem: str, *, key: int | None = None) -> DataFormatError:
    """A DataFormatError at the line holding `key`, or at the first line that is not 'key<TAB>offset'."""
    for number, fields in _index_lines(idx_path):
        try:
            line_key, _ = (int(field) for field in fields)
        except ValueError:
            if key is None:
                return DataFormatError(f"expected 'key<TAB>byte offset', found {b'<TAB>'.join(fields)[:80]!r}",
                                       path=idx_path, record=f"line {number}")
            continue
        if line_key == key:
            return DataFormatError(problem, path=idx_path, record=f"line {number}")
    return DataFormatError(problem, path=idx_path)


def _read_index(idx_path: Path, rec_path: Path, rec_size: int) -> tuple[np.ndarray, np.ndarray]:
    """`.idx` -> (keys in file order, their byte offsets), every offset inside the `.rec` (MS1M's 5.8M lines: ~1 s)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file warns; it is refused below
            table = np.loadtxt(idx_path, dtype=np.int64, delimiter="\t", comments=None, ndmin=2)
    except OSError as error:
        raise DataFormatError(f"cannot open the RecordIO index ({error.strerror})", path=idx_path) from error
    except ValueError:
        raise _index_error(idx_path, "malformed line") from None
    if table.size == 0:
        raise DataFormatError("the index lists no record", path=idx_path)
    keys, offsets = table[:, 0].copy(), table[:, 1].copy()
    outside = np.flatnonzero((offsets < 0) | (offsets + 8 > rec_size))
    if outside.size:
        key, offset = keys[outside[0]], offsets[outside[0]]
        raise _index_error(idx_path, f"byte offset {offset} of key {key} is past the end of {rec_path} "
                                     f"({rec_size} bytes): the .rec is truncated, or this index is another "
                                     f"file's", key=key)
    return keys, offsets


class RecordIOReader:
    """Random access to a `.rec` through its `.idx`; holds only the index in memory.

    The file is opened lazily, once per process, and read with pread (no shared file position), so a
    reader built before DataLoader workers fork (or pickled to spawned ones) is safe in every worker.
    Images are addressed by record key; `image_keys` lists them in dataset order. on_corrupt="skip"
    covers image bodies that do not decode; a broken container (magic, framing, truncation) always raises.
    """

    def __init__(self, rec_path: str | os.PathLike, idx_path: str | os.PathLike | None = None, *,
                 on_corrupt: Literal["raise", "skip"] = "raise"):
        if on_corrupt not in ("raise", "skip"):
            raise ValueError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")
        self.rec_path = Path(rec_path)
        self.idx_path = Path(idx_path) if idx_path is not None else self.rec_path.with_suffix(".idx")
        self.on_corrupt = on_corrupt
        self.corrupt_keys: list[int] = []  # keys whose image did not decode (on_corrupt="skip"), this process only
        try:
            self._rec_size = os.path.getsize(self.rec_path)
        except OSError as error:
            raise DataFormatError(f"cannot open the RecordIO file ({error.strerror})", path=self.rec_path) from error
        file_keys, offsets = _read_index(self.idx_path, self.rec_path, self._rec_size)
        order = np.argsort(file_keys, kind="stable")
        self._sorted_keys, self._sorted_offsets = file_keys[order], offsets[order]
        repeated = np.flatnonzero(self._sorted_keys[1:] == self._sorted_keys[:-1])
        if repeated.size:
            key = self._sorted_keys[repeated[0]]
            raise _index_error(self.idx_path, f"key {key} is listed more than once (first here)", key=key)
        self._fd: int | None = None
        self._fd_pid: int | None = None
        header = self.header()
        if header is not None and header.flag > 0:
            self._check_insightface_header(header)
            self.image_keys = torch.arange(1, int(header.label[0]), dtype=torch.int64)
            self._check_listed(self.image_keys.numpy())
        else:
            self.image_keys = torch.from_numpy(file_keys.copy())

    # -- file access ---------------------------------------------------------------------------

    def _file(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd, self._fd_pid = os.open(self.rec_path, os.O_RDONLY), os.getpid()
        return self._fd

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = self._fd_pid = None

    def __enter__(self) -> RecordIOReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __getstate__(self) -> dict:
        # A descriptor means nothing in another process: each one opens its own.
        return {**self.__dict__, "_fd": None, "_fd_pid": None}

    def _offset(self, key: int) -> int:
        n = int(np.searchsorted(self._sorted_keys, key))
        if n == len(self._sorted_keys) or self._sorted_keys[n] != key:
            raise KeyError(f"{self.rec_path}: no record with key {key} in {self.idx_path}")
        return int(self._sorted_offsets[n])

    def _part(self, position: int, size: int, *, key: int, first: bool) -> tuple[int, bytes, int]:
        """One framed part at `position` -> (cflag, at most `size` of its bytes, its total length)."""
        fd = self._file()
        record = f"record key {key}"
        head = os.pread(fd, 8, position)
        if len(head) < 8:
            raise DataFormatError(f"truncated: the record part at byte {position} needs an 8-byte frame header, "
                                  f"the file ends at byte {self._rec_size}", path=self.rec_path, record=record)
        magic, lrecord = struct.unpack("<II", head)
        if magic != MAGIC:
            raise DataFormatError(f"expected magic 0x{MAGIC:08x} at byte {position}, found 0x{magic:08x}",
                                  path=self.rec_path, record=record)
        cflag, length = lrecord >> CFLAG_SHIFT, lrecord & LENGTH_MASK
        allowed = (CFLAG_WHOLE, CFLAG_FIRST) if first else (CFLAG_MIDDLE, CFLAG_LAST)
        if cflag not in allowed:
            raise DataFormatError(f"record part at byte {position} has cflag {cflag}, expected one of {allowed}",
                                  path=self.rec_path, record=record)
        padded_end = position + 8 + length + (-length % 4)
        if padded_end > self._rec_size:
            raise DataFormatError(f"truncated: the record part at byte {position} needs {length} bytes "
                                  f"(padded to byte {padded_end}), the file ends at byte {self._rec_size}",
                                  path=self.rec_path, record=record)
        return cflag, os.pread(fd, min(size, length), position + 8), length

    def _payload(self, key: int, *, prefix: int | None = None) -> bytes:
        """The record's payload (parts joined with the magic), or only its first `prefix` bytes."""
        limit = LENGTH_MASK if prefix is None else prefix
        position = self._offset(key)
        cflag, data, length = self._part(position, limit, key=key, first=True)
        if cflag == CFLAG_WHOLE or length >= limit:
            return data
        parts = [data]  # the whole first part: it is shorter than the limit
        while cflag != CFLAG_LAST:
            position += 8 + length + (-length % 4)
            cflag, data, length = self._part(position, LENGTH_MASK, key=key, first=False)
            parts.append(data)
        return MAGIC_BYTES.join(parts)

    # -- records -------------------------------------------------------------------------------

    def read_payload(self, key: int) -> bytes:
        """Record `key`'s payload as stored (MXIndexedRecordIO.read_idx): IRHeader + labels + body."""
        return self._payload(key)

    def read(self, key: int) -> tuple[RecordHeader, bytes]:
        """Record `key` -> (its IRHeader, its body: the encoded image, empty for header records)."""
        return unpack_payload(self._payload(key), path=self.rec_path, record=f"record key {key}")

    def header(self) -> RecordHeader | None:
        """Record 0's IRHeader (insightface: flag > 0, label = (first identity key, end key)); None without key 0."""
        if not np.isin(HEADER_KEY, self._sorted_keys):
            return None
        return self.read(HEADER_KEY)[0]

    def _check_insightface_header(self, header: RecordHeader) -> None:
        if header.flag < 2 or not 1 <= header.label[0] <= header.label[1]:
            raise DataFormatError(f"insightface header record needs label (first identity key, end key) with "
                                  f"1 <= first <= end, found {header.label}", path=self.rec_path,
                                  record=f"record key {HEADER_KEY}")

    def _check_listed(self, keys: np.ndarray) -> None:
        listed = self._sorted_keys[np.minimum(np.searchsorted(self._sorted_keys, keys), len(self._sorted_keys) - 1)]
        missing = keys[listed != keys]
        if missing.size:
            raise DataFormatError(f"the header record says keys 1..{keys[-1]} are images, but key {missing[0]} "
                                  f"is not in the index", path=self.idx_path)

    def image(self, key: int) -> torch.Tensor | None:
        """Decode record `key` -> (3, H, W) uint8 RGB; a corrupt image raises, or with on_corrupt="skip"
        returns None and is listed in `corrupt_keys`."""
        _, body = self.read(key)
        try:
            return decode_image(body, path=self.rec_path, record=f"record key {key}")
        except DataFormatError:
            if self.on_corrupt == "raise":
                raise
            self.corrupt_keys.append(key)
            return None

    def __len__(self) -> int:
        return len(self.image_keys)

    @functools.cached_property
    def labels(self) -> torch.Tensor:
        """(len(self),) int64 identity of every image, from each record's own IRHeader (reads headers only)."""
        return torch.tensor([self._image_identity(key) for key in self.image_keys.tolist()], dtype=torch.int64)

    def _image_identity(self, key: int) -> int:
        # The IRHeader plus the first label float is all an identity needs; the image stays on disk.
        prefix = self._payload(key, prefix=IR_SIZE + 4)
        if len(prefix) < IR_SIZE + 4:  # a tiny record: the full read checks it
            return identity_of(self.read(key)[0])
        flag, label, _, _ = struct.unpack_from(IR_FORMAT, prefix)
        return int(label if flag == 0 else struct.unpack_from("<f", prefix, IR_SIZE)[0])

    @functools.cached_property
    def identity_ranges(self) -> torch.Tensor | None:
        """(K, 2) int64 [start, end) image-key range of each identity, from the insightface identity
        records; None for a plain image list."""
        header = self.header()
        if header is None or header.flag == 0:
            return None
        first, end = int(header.label[0]), int(header.label[1])
        ranges = []
        for key in range(first, end):
            record, _ = self.read(key)
            if record.flag < 2 or not 1 <= record.label[0] <= record.label[1] <= first:
                raise DataFormatError(f"identity record needs label (start, end) with 1 <= start <= end <= {first}, "
                                      f"found {record.label}", path=self.rec_path, record=f"record key {key}")
            ranges.append((int(record.label[0]), int(record.label[1])))
        return torch.tensor(ranges, dtype=torch.int64).reshape(-1, 2)


class RecordIOWriter:
    """Write a `.rec` + `.idx` pair; both appear (renamed from temporary names) only on close().

    Two levels: `write(key, label, body)` / `write_payload(key, payload)` put any record at any key,
    as MXIndexedRecordIO.write_idx does; `add_image(label, image)` builds the insightface layout
    (images at keys 1, 2, ... grouped by identity 0, 1, 2, ...) and close() then appends the identity
    records and the header record 0, as insightface's tools do.
    """

    def __init__(self, rec_path: str | os.PathLike, idx_path: str | os.PathLike | None = None, *,
                 image_format: Literal["jpeg", "png"] = "jpeg", jpeg_quality: int = 95):
        self.rec_path = Path(rec_path)
        self.idx_path = Path(idx_path) if idx_path is not None else self.rec_path.with_suffix(".idx")
        self.image_format, self.jpeg_quality = image_format, jpeg_quality
        self._temporary: list[Path] = []
        self._rec = self._open_temporary(self.rec_path)
        self._idx = self._open_temporary(self.idx_path)
        self._position = 0
        self._keys: set[int] = set()
        self._identity_ranges: list[list[int]] = []  # [start, end) image keys of identity 0, 1, ...
        self._next_image_key = 1

    def _open_temporary(self, final: Path):
        # The hidden temporary name of files.atomic_path; created with the umask's permissions, as the final file.
        name = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self._temporary.append(name)
        return os.fdopen(handle, "wb")

    def write_payload(self, key: int, payload: bytes) -> None:
        """Append one record holding `payload` as is, and its `.idx` line."""
        if key in self._keys:
            raise ValueError(f"{self.rec_path}: key {key} is already written")
        framed = frame_record(payload)
        self._rec.write(framed)
        self._idx.write(b"%d\t%d\n" % (key, self._position))
        self._keys.add(key)
        self._position += len(framed)

    def write(self, key: int, label: float | Sequence[float], body: bytes, *, id: int | None = None,
              id2: int = 0) -> None:
        """Append record `key`: IRHeader(label; id defaults to the key, as insightface's tools set it) + body."""
        self.write_payload(key, pack_payload(label, body, id=key if id is None else id, id2=id2))

    def add_image(self, label: float | Sequence[float], image: torch.Tensor | bytes) -> int:
        """Append the next image in insightface layout; returns its key.

        `label` is the identity (scalar, or a vector whose first element is the identity); images come
        grouped by identity, identities numbered 0, 1, 2, ... in order. `image` is a (3, H, W) uint8
        tensor, encoded with the writer's image_format, or JPEG/PNG bytes written unchanged.
        """
        identity = int(label) if isinstance(label, numbers.Real) else int(label[0])
        ranges = self._identity_ranges
        if identity == len(ranges):
            ranges.append([self._next_image_key, self._next_image_key])
        elif identity != len(ranges) - 1:
            raise ValueError(f"{self.rec_path}: insightface layout needs images grouped by identity and identities "
                             f"numbered 0, 1, 2, ... in order; got identity {identity} after {len(ranges) - 1}")
        if isinstance(image, (bytes, bytearray)):
            if encoded_format(image) is None:
                raise ValueError(f"{self.rec_path}: image bytes for key {self._next_image_key} are not JPEG/PNG")
            body = bytes(image)
        else:
            body = encode_image(image, format=self.image_format, quality=self.jpeg_quality)
        key = self._next_image_key
        self.write(key, label, body)
        self._next_image_key = key + 1
        ranges[-1][1] = key + 1
        return key

    def append_file(self, rec_path: str | os.PathLike, idx_path: str | os.PathLike | None = None) -> None:
        """Append every record of another `.rec` as stored (framed bytes copied, not re-read) and its `.idx`
        lines, offsets shifted; its keys must not be written already (how shards become one file)."""
        rec_path = Path(rec_path)
        idx_path = Path(idx_path) if idx_path is not None else rec_path.with_suffix(".idx")
        size = os.path.getsize(rec_path)
        if size % 4:
            raise DataFormatError(f"{size} bytes is not a whole number of 4-byte-padded records", path=rec_path)
        keys, offsets = _read_index(idx_path, rec_path, size)
        repeated = sorted(self._keys.intersection(keys.tolist()))
        if repeated:
            raise ValueError(f"{self.rec_path}: key {repeated[0]} of {idx_path} is already written")
        with open(rec_path, "rb") as source:
            shutil.copyfileobj(source, self._rec, 1 << 22)
        self._idx.write(b"".join(b"%d\t%d\n" % (key, self._position + offset)
                                 for key, offset in zip(keys.tolist(), offsets.tolist())))
        self._keys.update(keys.tolist())
        self._position += size

    def add_identity_ranges(self, ranges: Sequence[tuple[int, int]]) -> None:
        """Declare that the next identities' images are already written at image keys [start, end), each
        range starting where the last one ended (at key 1 first); close() then writes their identity
        records and the header, as it does for images added with add_image."""
        for start, end in ranges:
            if start != self._next_image_key or end <= start:
                raise ValueError(f"{self.rec_path}: identity range [{start}, {end}) must start at key "
                                 f"{self._next_image_key} and hold at least one image")
            self._identity_ranges.append([start, end])
            self._next_image_key = end

    def close(self) -> None:
        """Finish the insightface layout if add_image was used, then move both files into place."""
        if self._identity_ranges:
            first_identity_key = self._next_image_key
            for j, image_range in enumerate(self._identity_ranges):
                self.write(first_identity_key + j, image_range, b"")
            self.write(HEADER_KEY, (first_identity_key, first_identity_key + len(self._identity_ranges)), b"")
        for stream in (self._rec, self._idx):
            stream.flush()
            os.fsync(stream.fileno())
            stream.close()
        # The old .idx goes first and the new one lands last: a kill in between leaves a .rec
        # with no index (visibly incomplete), never an index that points into another .rec.
        if os.path.exists(self.idx_path):
            os.unlink(self.idx_path)
        os.replace(self._temporary[0], self.rec_path)
        os.replace(self._temporary[1], self.idx_path)

    def abort(self) -> None:
        """Drop everything written; the destination files are left as they were."""
        for stream, name in zip((self._rec, self._idx), self._temporary):
            stream.close()
            name.unlink(missing_ok=True)

    def __enter__(self) -> RecordIOWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
