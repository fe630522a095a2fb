"""Render a :class:`~radiovae.report.document.Document` to Markdown and to self-contained HTML."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

from radiovae.report.document import Bullets, Document, Figure, Paragraph, Table, runs

_MD_SPECIAL = re.compile(r"([\\*<>\[\]|`#])")
_VERDICT_WORDS = {"healthy": "HEALTHY", "attention": "NEEDS ATTENTION", "failing": "FAILING",
                  "unknown": "UNKNOWN"}


# -- Markdown -----------------------------------------------------------------------------------
def _md_text(text: str) -> str:
    out = []
    for kind, part in runs(text):
        if kind == "code" and not re.search(r"[`<>|]", part):
            out.append(f"`{part}`")
        elif kind == "b":
            out.append(f"**{_md_escape(part)}**")
        else:
            out.append(_md_escape(part))
    return "".join(out)


def _md_escape(text: str) -> str:
    # `_` is left alone: inside words it is not emphasis, and escaping it makes ids unreadable
    return _MD_SPECIAL.sub(r"\\\1", text)


def to_markdown(doc: Document) -> str:
    lines = [f"# {_md_text(doc.title)}", "", f"*{_md_text(doc.subtitle)}*", ""]
    toc = [s for s in doc.sections if s.level == 2]
    lines += ["**Contents:** " + " · ".join(f"[{_md_escape(s.title)}](#{s.anchor})" for s in toc),
              ""]
    for section in doc.sections:
        lines += [f'<a id="{section.anchor}"></a>', "",
                  f"{'#' * section.level} {_md_text(section.title)}", ""]
        for block in section.blocks:
            lines += _md_block(block) + [""]
    if doc.footer:
        lines += ["---", "", f"*{_md_text(doc.footer)}*", ""]
    return "\n".join(lines)


def _md_block(block) -> list[str]:
    if isinstance(block, Paragraph):
        text = _md_text(block.text)
        if block.kind.startswith("verdict") or block.kind == "note":
            return [f"> {text}"]
        return [text]
    if isinstance(block, Bullets):
        return [f"- {_md_text(item)}" for item in block.items]
    if isinstance(block, Table):
        numeric = block.numeric or [False] * len(block.header)
        rule = ["---:" if n else "---" for n in numeric]
        rows = [block.header, *block.rows]
        out = ["| " + " | ".join(_md_text(c) for c in row) + " |" for row in rows[:1]]
        out.append("| " + " | ".join(rule) + " |")
        out += ["| " + " | ".join(_md_text(c) for c in row) + " |" for row in rows[1:]]
        return out
    if isinstance(block, Figure):
        alt = block.caption.split(".")[0]
        return [f"![{_md_escape(alt)}]({block.path})", "", f"*{_md_text(block.caption)}*"]
    raise TypeError(f"unknown block {block!r}")


# -- HTML ---------------------------------------------------------------------------------------
def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("radiovae.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["runs"] = runs
    env.tests["paragraph"] = lambda b: isinstance(b, Paragraph)
    env.tests["bullets"] = lambda b: isinstance(b, Bullets)
    env.tests["table"] = lambda b: isinstance(b, Table)
    env.tests["figure"] = lambda b: isinstance(b, Figure)
    return env


_ENV = None


def to_html(doc: Document, read_image: Callable[[str], bytes | str | None]) -> str:
    """Self-contained HTML: CSS inline, every figure embedded as a base64 PNG data URI.

    ``read_image`` gives a figure's PNG bytes, or its data URI ready-made (``file_reader``'s
    cache, so that ``watch`` does not re-encode unchanged figures on every refresh)."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()

    def data_uri(path: str) -> str | None:
        data = read_image(path)
        if data is None or isinstance(data, str):
            return data
        return "data:image/png;base64," + base64.b64encode(data).decode()

    return _ENV.get_template("report.html.j2").render(
        doc=doc, verdict_word=_VERDICT_WORDS.get(doc.verdict, doc.verdict.upper()),
        data_uri=data_uri, toc=[s for s in doc.sections if s.level == 2])


_URIS: dict[Path, tuple[tuple[int, int, int], str]] = {}   # path -> (stat key, data URI)


def file_reader(root: Path) -> Callable[[str], str | None]:
    """Figures under ``root`` as PNG data URIs, re-encoded only when the file changed (its
    inode, size or mtime): ``watch`` rewrites the HTML far more often than it redraws."""
    def read(path: str) -> str | None:
        file = (root / path).resolve()
        try:
            st = file.stat()
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            hit = _URIS.get(file)
            if hit is not None and hit[0] == key:
                return hit[1]
            uri = "data:image/png;base64," + base64.b64encode(file.read_bytes()).decode()
        except OSError:
            return None
        _URIS[file] = (key, uri)
        return uri
    return read
