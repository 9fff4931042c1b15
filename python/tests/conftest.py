"""Fixtures shared by several test modules."""
import pytest

from mxnet_reference import find_mxnet_python


@pytest.fixture(scope="session")
def mxnet_python() -> str:
    """The MXNet environment's python (skips the test when it cannot be made)."""
    python, why_not = find_mxnet_python()
    if python is None:
        pytest.skip(why_not)
    return python

