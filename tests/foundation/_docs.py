"""Reading the code blocks and names out of README.md and docs/*.md (for the docs tests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)[^\n]*$")
_NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>.+?)\s*-->")


class Block(NamedTuple):
    """One fenced code block: its page, first line (1-based), language, text and not-run reason."""

    page: Path
    line: int
    lang: str
    text: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced code block of ``page``, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        previous = next((x for x in reversed(lines[:index]) if x.strip()), "")
        marker = _NOT_RUN.search(previous)
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index].removeprefix(indent))
            index += 1
        start = index - len(body)
        found.append(
            Block(
                page,
                start,
                opening["lang"].lower(),
                "\n".join(body) + "\n",
                marker["reason"] if marker else None,
            )
        )
        index += 1
    return found


def python_blocks() -> list[Block]:
    """The Python blocks of every page."""
    return [b for page in PAGES for b in blocks(page) if b.lang in ("python", "py", "pycon")]


def shell_blocks() -> list[Block]:
    """The shell blocks of every page."""
    return [
        b for page in PAGES for b in blocks(page) if b.lang in ("bash", "console", "sh", "shell")
    ]


def prose(page: Path) -> str:
    """The text of ``page`` outside its code blocks (inline code included)."""
    text = page.read_text(encoding="utf-8")
    return re.sub(r"^([ \t]*)(```+|~~~+).*?^\1\2[ \t]*$", "", text, flags=re.M | re.S)
