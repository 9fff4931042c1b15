"""Job arguments checked against the JSON Schemas exported from the TypeScript contracts (src/jobs/)."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jsonschema

CONTRACTS = Path(__file__).with_name("contracts.json")


class ContractError(ValueError):
    """A job's arguments are not what its contract declares; the message names each field."""


@functools.cache
def _schemas() -> dict[str, dict]:
    return json.loads(CONTRACTS.read_text(encoding="utf-8"))["jobs"]


@functools.cache
def _validators() -> dict[str, jsonschema.Draft202012Validator]:
    import jsonschema  # on the first job, not with the bridge: it starts 50 ms sooner

    return {kind: jsonschema.Draft202012Validator(schema) for kind, schema in _schemas().items()}


def contract_kinds() -> list[str]:
    return sorted(_validators())


def check_args(kind: str, args: object) -> None:
    """Raise ContractError listing every field of `args` that job `kind`'s contract refuses."""
    validator = _validators().get(kind)
    if validator is None:
        raise ContractError(f"job {kind}: no contract in {CONTRACTS.name} (npm run contracts)")
    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"job {kind}, argument {_field(e)}: {e.message}" for e in errors[:10]]
        more = f"\n… and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ContractError("\n".join(lines) + more)


def _field(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(the arguments)"


def with_defaults(kind: str, args: dict) -> dict:
    """`args` with every field it leaves out that job `kind`'s contract gives a default (the config's
    defaults, exported with the schema) filled in, checked: a job called from Python as TypeScript calls it."""
    filled = _fill(_schemas()[kind], args)
    check_args(kind, filled)
    return filled


def _fill(schema: dict, value: object) -> object:
    if not isinstance(value, dict) or "properties" not in schema:
        return value
    out = dict(value)
    for name, prop in schema["properties"].items():
        if name in out:
            out[name] = _fill(prop, out[name])
        elif "default" in prop:
            out[name] = _fill(prop, json.loads(json.dumps(prop["default"])))
        elif _all_defaulted(prop):  # a section whose every field has a default, as the config's prefaulted ones
            out[name] = _fill(prop, {})
    return out


def _all_defaulted(schema: dict) -> bool:
    properties = schema.get("properties")
    return properties is not None and all("default" in properties[r] or _all_defaulted(properties[r])
                                          for r in schema.get("required", []))
