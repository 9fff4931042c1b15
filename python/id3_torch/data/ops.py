"""Bridge ops for datasets (registered in api.py); `data.convert` is a job (jobs.job_kinds)."""
from __future__ import annotations

from .inspection import inspect_dataset

OPS = {"data.inspect": inspect_dataset}
