"""The report as data: sections of blocks, built once and rendered to Markdown and to HTML.

Inline text uses two marks only, ``**bold**`` and ```code```. Text from logs and configs goes in
as data: the HTML renderer escapes every run of text (Jinja2 autoescape), the Markdown renderer
backslash-escapes the characters that would turn it into markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_INLINE = re.compile(r"(\*\*.+?\*\*|`[^`\n]+`)")


def code(text: object) -> str:
    """Mark a value (metric name, path, config value) as code; backticks inside can't break out."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def runs(text: str) -> list[tuple[str, str]]:
    """Split inline text into ("text" | "b" | "code", content) runs."""
    out = []
    for part in _INLINE.split(text):
        if not part:
            continue
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            out.append(("b", part[2:-2]))
        elif part.startswith("`") and part.endswith("`") and len(part) > 2:
            out.append(("code", part[1:-1]))
        else:
            out.append(("text", part))
    return out


@dataclass
class Paragraph:
    text: str
    kind: str = "p"          # "p" | "verdict-healthy" | "verdict-attention" | "verdict-failing" | "note"


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool] | None = None   # right-align these columns


@dataclass
class Figure:
    path: str                # relative to the report directory
    caption: str
    note: str = ""           # the smoothing shown (figures.caption_smoothing); the HTML's slider
                             # rewrites it


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list = field(default_factory=list)
    level: int = 2

    def add(self, *blocks) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: str
    subtitle: str
    verdict: str             # "healthy" | "attention" | "failing" | "unknown"
    sections: list[Section]
    footer: str = ""
