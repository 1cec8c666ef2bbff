"""Fixtures shared by the tests."""

import pytest

from skhypergrad._jit import always_compile


@pytest.fixture(autouse=True, scope="session")
def compiled_kernels():
    """The tests run the compiled kernels from their first call (the Python runs of
    small folds, :class:`~skhypergrad._jit.TieredKernel`, compute the same numbers:
    ``tests/test_jit.py`` checks it)."""
    always_compile()
    yield
    always_compile(False)


@pytest.fixture(params=["dense", "csr", "csc"])
def storage(request):
    """How X is stored."""
    return request.param
