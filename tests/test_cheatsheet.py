"""Every code block of the PyTorch RNN cheat sheet (book/pytorch_rnn_cheatsheet.md) runs.

The page's blocks are read top to bottom by a reader, so each test runs the blocks before it
in the same namespace and then its own; a block fails alone if its own claim is false.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

PAGE = Path(__file__).resolve().parents[1] / "book" / "pytorch_rnn_cheatsheet.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.S | re.M)


def _heading_of(block: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    before = text[:text.index(block)]
    headings = re.findall(r"^## (.+)$", before, re.M)
    return headings[-1] if headings else "imports"


def test_the_page_has_its_blocks():
    assert len(BLOCKS) >= 12
    assert all("assert" in b for b in BLOCKS[1:] if "class " not in b), "a block asserts nothing"


@pytest.mark.parametrize("index", range(len(BLOCKS)),
                         ids=[f"{i}-{_heading_of(b)[:30]}" for i, b in enumerate(BLOCKS)])
def test_cheatsheet_block(index):
    torch.manual_seed(0)
    namespace: dict = {}
    for k, block in enumerate(BLOCKS[:index]):
        exec(compile(block, f"{PAGE.name} block {k}", "exec"), namespace)
    exec(compile(BLOCKS[index], f"{PAGE.name} block {index}", "exec"), namespace)
