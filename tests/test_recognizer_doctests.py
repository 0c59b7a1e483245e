"""The examples in the recognizer's docstrings run, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["ctc", "geometry", "imageio", "layout", "cardnumber", "numberforms", "linereads", "expiry", "settings",
           "errors", "detection", "sessions"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"worker.recognizer.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
