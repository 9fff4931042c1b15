"""Tensor handles for the TypeScript `Tensor` (src/bridge/tensor.ts).

Tensors live here, in a registry keyed by int id; TypeScript holds the id and the metadata that
every op returns: {"id", "shape", "dtype", "device"}. What an op may call is a whitelist table
(no getattr or eval on names from the wire), and bulk data crosses as raw little-endian float32
files, never as JSON lists.

Argument convention, written once (`_resolve`): an op receives positional `args` and keyword
`kwargs`; a value {"$tensor": id} in either stands for the registered tensor with that id.
Results come back through `_result`: a tensor becomes its metadata, torch's named tuples
(topk, max, min) a dict of them, anything else (item) goes back as it is.

Sparse CSR matrices are tensors here like any other (layout "sparse_csr" in their metadata):
built with their invariants checked, since an index out of range would otherwise crash the
process, and used through the few ops that take them (`sampled_matmul`, `values`, `matmul`).
`.npy` files are written whole or in row blocks (`npy_create` / `npy_write_rows` / `npy_commit`,
for arrays larger than memory), always under a temporary name renamed into place when complete.
"""
from __future__ import annotations

import itertools
import os
import warnings
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..files import atomic_path, temporary_name

# torch warns once per process that CSR support is "beta"; what we use of it is tested here.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32, "bool": torch.bool,
}

_tensors: dict[int, torch.Tensor] = {}
_ids = itertools.count(1)


def get(tensor_id: int) -> torch.Tensor:
    """The live tensor with this id (also for other bridge modules that receive tensor ids)."""
    try:
        return _tensors[tensor_id]
    except KeyError:
        raise ValueError(f"no tensor with id {tensor_id} (it was freed, or belongs to another session)") from None


def register(t: torch.Tensor) -> dict[str, Any]:
    """Keep `t` under a new id; its metadata is what TypeScript's `Tensor` is made from (also for
    other bridge modules that hand tensors to TypeScript)."""
    tensor_id = next(_ids)
    _tensors[tensor_id] = t
    return {"id": tensor_id, "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."),
            "device": str(t.device), "layout": str(t.layout).removeprefix("torch.")}


def _dtype(name: str | None) -> torch.dtype | None:
    if name is None:
        return None
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; known: {', '.join(DTYPES)}")
    return DTYPES[name]


def parse_device(name: str | None) -> torch.device:
    """'cpu' (also for None), 'cuda' or 'cuda:N', checked against the devices torch sees."""
    if name is None:
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'cuda:N'")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} is not available ({torch.cuda.device_count()} CUDA devices)")
    return device


def _resolve(value: Any) -> Any:
    if isinstance(value, dict) and "$tensor" in value:
        return get(value["$tensor"])
    if isinstance(value, list):  # a list of tensors (cat), or of numbers (a shape)
        return [_resolve(v) for v in value]
    return value


def _result(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return register(value)
    if hasattr(type(value), "__match_args__"):  # torch.return_types.topk / max / min
        return {name: _result(getattr(value, name)) for name in type(value).__match_args__}
    return value


def _slice(x: torch.Tensor, dim: int, start: int | None = None, end: int | None = None) -> torch.Tensor:
    """x[..., start:end, ...] along `dim`, with Python's slice rules (negative and open ends)."""
    begin, stop, _ = slice(start, end).indices(x.size(dim))
    return x.narrow(dim, begin, max(stop - begin, 0))


def _sparse_csr(crow_indices: torch.Tensor, col_indices: torch.Tensor, values: torch.Tensor,
                size: list[int]) -> torch.Tensor:
    return torch.sparse_csr_tensor(crow_indices, col_indices, values, tuple(size), check_invariants=True)


def _sampled_matmul(pattern: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(a @ b) at the stored entries of the sparse CSR `pattern` only (its values are ignored)."""
    if pattern.layout != torch.sparse_csr:
        raise TypeError(f"sampled_matmul: the pattern must be a sparse CSR tensor, got layout {pattern.layout}")
    return torch.sparse.sampled_addmm(pattern, a, b, beta=0.0)


# Every op TypeScript may run, called as fn(*args, **kwargs) after `_resolve`. No op mutates a
# tensor in place, so views (t, transpose, reshape, slice) never let one handle change another.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    # shape and selection
    "matmul": torch.matmul,
    "t": torch.t,
    "transpose": torch.transpose,
    "reshape": torch.reshape,
    "slice": _slice,
    "index_select": torch.index_select,
    "gather": torch.gather,
    "where": torch.where,
    "unsqueeze": torch.unsqueeze,
    "squeeze": torch.squeeze,
    "cat": torch.cat,
    "index_add": torch.index_add,  # the functional form: a new tensor, the input untouched
    "argsort": lambda x, dim=-1: torch.argsort(x, dim=dim, stable=True),
    "sort": lambda x, dim=-1: torch.sort(x, dim=dim, stable=True),
    # sparse CSR
    "sparse_csr": _sparse_csr,
    "sampled_matmul": _sampled_matmul,
    "values": lambda x: x.values(),
    # out[b] = sum of weights[e] * x[indices[e]] over the entries e of bag b (offsets[b] onwards)
    "embedding_bag": lambda x, indices, offsets, weights: F.embedding_bag(indices, x, offsets, mode="sum",
                                                                         per_sample_weights=weights),
    # elementwise (a scalar is welcome where torch takes one)
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
    "neg": torch.neg, "abs": torch.abs, "sqrt": torch.sqrt, "exp": torch.exp, "log": torch.log,
    "acos": torch.acos, "clamp": torch.clamp, "cumsum": torch.cumsum,
    "gt": torch.gt, "lt": torch.lt, "eq": torch.eq,
    # reductions
    "sum": torch.sum, "mean": torch.mean, "amax": torch.amax, "amin": torch.amin,
    "max": torch.max, "min": torch.min, "topk": torch.topk,
    "softmax": torch.softmax, "logsumexp": torch.logsumexp, "bincount": torch.bincount,
    "norm": lambda x, dim=None, keepdim=False: torch.linalg.vector_norm(x, 2, dim, keepdim),
    "normalize": lambda x, dim=-1: F.normalize(x, p=2.0, dim=dim),
    # conversion
    "to": lambda x, device: x.to(parse_device(device)),
    "cast": lambda x, dtype: x.to(_dtype(dtype)),
    "item": lambda x: x.item(),
}

# Creation: fn(*args, dtype=, device=), and generator= for the random ones.
FACTORIES: dict[str, Callable[..., torch.Tensor]] = {
    "zeros": torch.zeros, "ones": torch.ones, "full": torch.full, "arange": torch.arange, "eye": torch.eye,
}
RANDOM: dict[str, Callable[..., torch.Tensor]] = {"rand": torch.rand, "randn": torch.randn, "randint": torch.randint}


def create(kind: str, args: list, dtype: str | None = None, device: str | None = None,
           seed: int | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"dtype": _dtype(dtype), "device": parse_device(device)}
    if kind in RANDOM:
        if seed is not None:
            options["generator"] = torch.Generator(options["device"]).manual_seed(seed)
        return register(RANDOM[kind](*args, **options))
    if kind in FACTORIES:
        return register(FACTORIES[kind](*args, **options))
    raise ValueError(f"unknown tensor factory {kind!r}; known: {', '.join([*FACTORIES, *RANDOM])}")


def apply(op: str, args: list, kwargs: dict | None = None) -> Any:
    fn = FUNCTIONS.get(op)
    if fn is None:
        raise ValueError(f"unknown tensor op {op!r}")
    resolved = {k: _resolve(v) for k, v in (kwargs or {}).items()}
    return _result(fn(*map(_resolve, args), **resolved))


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def from_file(path: str, shape: list[int], device: str | None = None) -> dict[str, Any]:
    """A tensor from raw little-endian float32 in `path`; the file is deleted, also on error."""
    try:
        data = np.fromfile(path, dtype="<f4")
    finally:
        _remove_quietly(path)
    return register(torch.from_numpy(data).reshape(shape).to(parse_device(device)))


def to_file(id: int, path: str) -> None:
    """Write the tensor as raw little-endian float32 to `path` (the reader deletes it).

    Written under a temporary name and renamed, so `path` never holds a partial file.
    """
    t = get(id)
    if not t.is_floating_point():
        raise TypeError(f"tensor {id} is {str(t.dtype).removeprefix('torch.')}: cast it to float32 first")
    partial = path + ".part"
    try:
        t.detach().to("cpu", torch.float32).numpy().astype("<f4", copy=False).tofile(partial)
        os.replace(partial, path)
    except BaseException:
        _remove_quietly(partial)
        raise


def _npy_array(t: torch.Tensor) -> np.ndarray:
    if t.layout != torch.strided:
        raise TypeError(f"only dense tensors go to .npy files, not {str(t.layout).removeprefix('torch.')}")
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.detach().cpu().numpy()


def save_npy(id: int, path: str) -> None:
    """The tensor as a `.npy` file (its own dtype; float16/bfloat16 as float32), whole or absent."""
    array = _npy_array(get(id))
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as f:
            np.save(f, array, allow_pickle=False)


def load_npy(path: str, device: str | None = None) -> dict[str, Any]:
    """A tensor from a `.npy` file of numbers (never pickled objects)."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except ValueError as error:
        raise ValueError(f"{path}: not a .npy array of numbers ({error})") from None
    if array.dtype.kind not in "fiub":
        raise ValueError(f"{path}: holds {array.dtype}, expected numbers")
    return register(torch.from_numpy(np.ascontiguousarray(array)).to(parse_device(device)))


def npy_create(path: str, shape: list[int], dtype: str = "float32") -> str:
    """Start a `.npy` file of `shape` written in row blocks; returns its temporary name, which
    `npy_write_rows` fills and `npy_commit` renames to `path` (or `npy_abort` removes)."""
    if dtype not in ("float32", "float64", "int64"):
        raise ValueError(f"npy_create: dtype {dtype!r}; expected float32, float64 or int64")
    temporary = temporary_name(path)
    np.lib.format.open_memmap(temporary, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape)).flush()
    return str(temporary)


def _npy_temporary(temporary: str, path: str | None = None) -> None:
    """Only names `npy_create` gives (beside `path`, when given) are written, renamed or removed."""
    name = os.path.basename(temporary)
    ours = name.startswith(".") and name.endswith(".tmp")
    if path is not None:
        ours = ours and name.startswith(f".{os.path.basename(path)}.") and os.path.dirname(temporary) == os.path.dirname(path)
    if not ours:
        raise ValueError(f"{temporary} is not a temporary .npy file begun by npy_create" + (f" for {path}" if path else ""))


def npy_write_rows(temporary: str, start: int, id: int) -> None:
    """Rows [start, start + len(tensor)) of the file begun by `npy_create`."""
    _npy_temporary(temporary)
    rows = _npy_array(get(id))
    array = np.load(temporary, mmap_mode="r+", allow_pickle=False)
    if rows.shape[1:] != array.shape[1:] or not 0 <= start <= len(array) - len(rows):
        raise ValueError(f"rows {tuple(rows.shape)} at {start} do not fit the array {tuple(array.shape)}")
    array[start:start + len(rows)] = rows
    array.flush()


def npy_commit(temporary: str, path: str) -> None:
    _npy_temporary(temporary, path)
    os.replace(temporary, path)


def npy_abort(temporary: str) -> None:
    _npy_temporary(temporary)
    _remove_quietly(temporary)


def free(ids: list[int]) -> None:
    for tensor_id in ids:
        _tensors.pop(tensor_id, None)


OPS = {
    "tensor.create": create,
    "tensor.op": apply,
    "tensor.from_file": from_file,
    "tensor.to_file": to_file,
    "tensor.save_npy": save_npy,
    "tensor.load_npy": load_npy,
    "tensor.npy_create": npy_create,
    "tensor.npy_write_rows": npy_write_rows,
    "tensor.npy_commit": npy_commit,
    "tensor.npy_abort": npy_abort,
    "tensor.free": free,
    "tensor.live": lambda: len(_tensors),
}
