"""Fixtures shared by the tests: the learner answers that self-checks must survive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def stub() -> Callable[..., Any]:
    """A learner's answer that is not written yet."""

    def not_yet(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    return not_yet


@pytest.fixture
def crashing() -> Callable[..., Any]:
    """A learner's answer that crashes inside their own code."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        return 1 / 0

    return broken
