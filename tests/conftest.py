"""Fixtures shared by the tests."""

import pytest


@pytest.fixture(params=["dense", "csr", "csc"])
def storage(request):
    """How X is stored."""
    return request.param
