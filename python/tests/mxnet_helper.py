"""Reference side of the RecordIO tests: runs under the MXNet environment's python (scripts/mxnet-env.sh),
never inside the project's own, and uses only MXNet's own RecordIO code.

    python mxnet_helper.py write REC IDX SPEC.json
        SPEC: [{"key": k, "payload": hex}                                  raw record, as given
               | {"key": k, "label": x or [x, ...], "id": i, "id2": j, "body": hex}]   packed with IRHeader
        written in list order with MXIndexedRecordIO.write_idx (+ mx.recordio.pack).
    python mxnet_helper.py read REC IDX OUT_DIR
        prints JSON {"keys": [...] (.idx order), "records": {key: {payload, and unless the payload is too
        short for an IRHeader: flag, label, id, id2, body, decoded}}, "sequential": [payload hex, ...]} and saves
        each body that mx.image.imdecode decodes
        as OUT_DIR/<key>.npy, (H, W, 3) uint8 RGB.
    python mxnet_helper.py insightface REC IDX OUT_DIR
        reads the file as insightface's arcface_torch MXFaceDataset does (header record 0 -> image keys
        1..label[0]-1; an image's label is its header label, or the label vector's first element), saves each
        decoded image as OUT_DIR/<key>.npy and prints JSON {"header": [a, b], "labels": [...], "ranges":
        [[start, end], ...] (the identity records), "sequential": records read in file order by MXRecordIO}.
"""

import json
import numbers
import os
import struct
import sys

import mxnet as mx
import numpy as np


def write(rec_path: str, idx_path: str, spec_path: str) -> None:
    with open(spec_path) as stream:
        spec = json.load(stream)
    writer = mx.recordio.MXIndexedRecordIO(idx_path, rec_path, "w")
    for record in spec:
        if "payload" in record:
            payload = bytes.fromhex(record["payload"])
        else:
            header = mx.recordio.IRHeader(0, record["label"], record["id"], record["id2"])
            payload = mx.recordio.pack(header, bytes.fromhex(record["body"]))
        writer.write_idx(record["key"], payload)
    writer.close()


def _label(header) -> object:
    return header.label.tolist() if header.flag > 0 else float(header.label)


def read(rec_path: str, idx_path: str, out_dir: str) -> None:
    reader = mx.recordio.MXIndexedRecordIO(idx_path, rec_path, "r")
    records = {}
    for key in reader.keys:
        payload = reader.read_idx(key)
        records[str(key)] = {"payload": payload.hex()}
        if len(payload) < struct.calcsize("IfQQ"):  # a raw record, too short for an IRHeader
            continue
        header, body = mx.recordio.unpack(payload)
        decoded = False
        if body:
            try:
                image = mx.image.imdecode(body).asnumpy()  # (H, W, 3) RGB
                np.save(os.path.join(out_dir, f"{key}.npy"), image)
                decoded = True
            except mx.base.MXNetError:
                pass
        records[str(key)].update(flag=int(header.flag), label=_label(header), id=int(header.id), id2=int(header.id2),
                                 body=body.hex(), decoded=decoded)
    reader.close()
    sequential = []
    scan = mx.recordio.MXRecordIO(rec_path, "r")  # every record in file order: checks the framing end to end
    while (payload := scan.read()) is not None:
        sequential.append(payload.hex())
    scan.close()
    json.dump({"keys": list(reader.keys), "records": records, "sequential": sequential}, sys.stdout)


def insightface(rec_path: str, idx_path: str, out_dir: str) -> None:
    reader = mx.recordio.MXIndexedRecordIO(idx_path, rec_path, "r")
    header, _ = mx.recordio.unpack(reader.read_idx(0))
    assert header.flag > 0, "not an insightface file: record 0 has no label vector"
    first, end = int(header.label[0]), int(header.label[1])
    labels = []
    for key in range(1, first):
        record, image = mx.recordio.unpack(reader.read_idx(key))
        labels.append(int(record.label if isinstance(record.label, numbers.Number) else record.label[0]))
        np.save(os.path.join(out_dir, f"{key}.npy"), mx.image.imdecode(image).asnumpy())
    ranges = [[int(x) for x in mx.recordio.unpack(reader.read_idx(key))[0].label] for key in range(first, end)]
    reader.close()
    scan, sequential = mx.recordio.MXRecordIO(rec_path, "r"), 0
    while scan.read() is not None:
        sequential += 1
    scan.close()
    json.dump({"header": [first, end], "labels": labels, "ranges": ranges, "sequential": sequential}, sys.stdout)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"write": write, "read": read, "insightface": insightface}[command](*arguments)
