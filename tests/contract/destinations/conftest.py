"""Fixtures of the destination contract suite: one parametrised `case` per destination, its sandbox, a warehouse."""
from __future__ import annotations

import pytest

from segsync import store
from tests.contract.destinations.harness import discover_cases

CASES = discover_cases()


@pytest.fixture(params=sorted(CASES), ids=sorted(CASES))
def case(request):
    return CASES[request.param]


@pytest.fixture
def sandbox(case, request):
    return request.getfixturevalue(case.sandbox)


@pytest.fixture
def con(warehouse):
    connection = store.connect(warehouse)
    yield connection
    connection.close()
