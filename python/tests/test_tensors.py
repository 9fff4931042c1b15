"""The tensor ops of the bridge, called directly (the TypeScript side is tested in test/bridge)."""
import os

import numpy as np
import pytest
import torch

from id3_torch.bridge import tensors

OPS = tensors.OPS


def ref(meta: dict) -> dict:
    return {"$tensor": meta["id"]}


def test_create_registers_and_describes():
    meta = OPS["tensor.create"]("zeros", [[2, 3]], dtype="float64")
    assert meta["shape"] == [2, 3] and meta["dtype"] == "float64" and meta["device"] == "cpu"
    assert torch.equal(tensors.get(meta["id"]), torch.zeros(2, 3, dtype=torch.float64))
    before = OPS["tensor.live"]()
    OPS["tensor.free"]([meta["id"], 10**9])  # unknown ids are ignored
    assert OPS["tensor.live"]() == before - 1
    with pytest.raises(ValueError, match="no tensor with id"):
        tensors.get(meta["id"])


def test_seeded_random_is_reproducible():
    a, b, c = (OPS["tensor.create"]("randn", [[4, 5]], seed=s) for s in (7, 7, 8))
    assert torch.equal(tensors.get(a["id"]), tensors.get(b["id"]))
    assert not torch.equal(tensors.get(a["id"]), tensors.get(c["id"]))
    ints = OPS["tensor.create"]("randint", [0, 10, [100]], seed=1)
    assert ints["dtype"] == "int64" and int(tensors.get(ints["id"]).max()) < 10


def test_ops_resolve_tensors_and_return_metadata():
    x = OPS["tensor.create"]("arange", [6], dtype="float32")
    m = OPS["tensor.op"]("reshape", [ref(x), [2, 3]])
    g = OPS["tensor.op"]("matmul", [ref(m), ref(OPS["tensor.op"]("t", [ref(m)]))])
    assert g["shape"] == [2, 2]
    assert tensors.get(g["id"]).tolist() == [[5.0, 14.0], [14.0, 50.0]]
    top = OPS["tensor.op"]("topk", [ref(m), 2], {"dim": 1})
    assert set(top) == {"values", "indices"} and top["indices"]["dtype"] == "int64"
    assert tensors.get(top["values"]["id"]).tolist() == [[2.0, 1.0], [5.0, 4.0]]
    assert OPS["tensor.op"]("item", [ref(OPS["tensor.op"]("sum", [ref(m)]))]) == 15.0
    s = OPS["tensor.op"]("slice", [ref(m), 1, -2, None])
    assert tensors.get(s["id"]).tolist() == [[1.0, 2.0], [4.0, 5.0]]


def test_whitelist_and_names_are_checked():
    x = OPS["tensor.create"]("ones", [[2]])
    with pytest.raises(ValueError, match="unknown tensor op"):
        OPS["tensor.op"]("__class__", [ref(x)])
    with pytest.raises(ValueError, match="unknown tensor factory"):
        OPS["tensor.create"]("empty", [[2]])
    with pytest.raises(ValueError, match="unknown dtype"):
        OPS["tensor.op"]("cast", [ref(x), "complex64"])
    with pytest.raises(ValueError, match="unknown device"):
        OPS["tensor.op"]("to", [ref(x), "meta"])
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        OPS["tensor.op"]("matmul", [ref(OPS["tensor.create"]("ones", [[2, 3]])), ref(OPS["tensor.create"]("ones", [[2, 3]]))])


def test_file_round_trip_deletes_files(tmp_path):
    data = np.array([1.5, -0.0, np.inf, np.nan, 3e-42, 7.0], dtype="<f4")
    path = str(tmp_path / "in.f32")
    data.tofile(path)
    meta = OPS["tensor.from_file"](path, [2, 3])
    assert not os.path.exists(path) and meta["shape"] == [2, 3]
    out = str(tmp_path / "out.f32")
    OPS["tensor.to_file"](OPS["tensor.op"]("t", [ref(meta)])["id"], out)  # a non-contiguous view
    assert np.fromfile(out, dtype="<f4").tobytes() == data.reshape(2, 3).T.tobytes()
    assert sorted(os.listdir(tmp_path)) == ["out.f32"]  # no .part file left


def test_file_errors_leave_no_files(tmp_path):
    path = str(tmp_path / "in.f32")
    np.zeros(5, dtype="<f4").tofile(path)
    with pytest.raises(RuntimeError, match="invalid for input of size 5"):
        OPS["tensor.from_file"](path, [2, 3])
    ints = OPS["tensor.create"]("arange", [3])
    with pytest.raises(TypeError, match="cast it to float32"):
        OPS["tensor.to_file"](ints["id"], str(tmp_path / "out.f32"))
    assert os.listdir(tmp_path) == []
