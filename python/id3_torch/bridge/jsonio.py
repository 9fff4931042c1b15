"""JSON text for the bridge.

JSON has no NaN or Infinity, and a bare `NaN` in text crashes the Node side of pythonia, so
non-finite floats travel as {"$float": "NaN" | "Infinity" | "-Infinity"}; the TypeScript
reviver turns them back into numbers.
"""
import json
import math
from typing import Any

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _encode_floats(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": "NaN" if math.isnan(value) else _NON_FINITE[value]}
    if isinstance(value, dict):
        return {str(k): _encode_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_floats(v) for v in value]
    if hasattr(value, "tolist"):  # numpy / torch scalars and small arrays
        return _encode_floats(value.tolist())
    return value


def dumps(value: Any) -> str:
    return json.dumps(_encode_floats(value), allow_nan=False, separators=(",", ":"))


_TAGS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _decode_float(obj: dict) -> Any:
    tag = obj.get("$float")
    if len(obj) == 1 and isinstance(tag, str) and tag in _TAGS:
        return _TAGS[tag]
    return obj


def loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode_float)
