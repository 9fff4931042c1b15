"""The one error every dataset-file reader raises for a file it cannot trust."""

from __future__ import annotations

import os


class DataFormatError(ValueError):
    """A dataset file is not what its format promises: names the file, the record or row, and the fault.

    `str(error)` reads "<path>, <record>: <problem>". The message alone also constructs one
    (`DataFormatError(message)`), which is how torch's DataLoader re-raises a worker's exception.
    """

    def __init__(self, problem: str, *, path: str | os.PathLike | None = None, record: str | None = None):
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        self.record = record
        where = ", ".join(part for part in (self.path, record) if part)
        super().__init__(f"{where}: {problem}" if where else problem)

    def __reduce__(self):
        # Keyword-only fields survive pickling (multiprocessing hands errors between processes).
        return _rebuild, (self.problem, self.path, self.record)


def _rebuild(problem: str, path: str | None, record: str | None) -> DataFormatError:
    return DataFormatError(problem, path=path, record=record)
