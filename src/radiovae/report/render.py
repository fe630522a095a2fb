"""Render a :class:`~radiovae.report.document.Document` to Markdown and to self-contained HTML."""

from __future__ import annotations

import base64
import hashlib
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
        caption = f"{block.caption.rstrip()} {block.note}" if block.note else block.caption
        return [f"![{_md_escape(alt)}]({block.path})", "", f"*{_md_text(caption)}*"]
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
_ASSETS: dict[str, str] = {}


def assets() -> dict[str, str]:
    """uPlot (package asset, MIT) and the report's chart script and styles, read once; the CSP's
    script hashes are of exactly these texts, so no other script can run in the page."""
    if not _ASSETS:
        from importlib.resources import files

        root = files("radiovae.report") / "assets"
        for key, name in (("uplot_js", "uPlot.iife.min.js"), ("uplot_css", "uPlot.min.css"),
                          ("charts_js", "charts.js")):
            text = (root / name).read_text(encoding="utf-8")
            if re.search(r"</(script|style)", text, re.I):
                raise ValueError(f"asset {name} would end its inline element early")
            _ASSETS[key] = text
        _ASSETS["csp_scripts"] = " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(_ASSETS[k].encode()).digest()).decode()
            + "'" for k in ("uplot_js", "charts_js"))
    return _ASSETS


def to_html(doc: Document, read_image: Callable[[str], bytes | str | None],
            charts: str | None = None) -> str:
    """Self-contained HTML: CSS inline, every figure embedded as a base64 PNG data URI.

    ``read_image`` gives a figure's PNG bytes, or its data URI ready-made (``file_reader``'s
    cache, so that ``watch`` does not re-encode unchanged figures on every refresh).
    ``charts``: charts.pack's JSON text; a figure whose path's stem it names is drawn as an
    interactive chart (uPlot, inlined), its PNG kept for print and for browsers without scripts."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    from markupsafe import Markup

    keys: set[str] = set()
    if charts:
        if re.search(r"[<>&\u2028\u2029]", charts):
            raise ValueError("chart JSON is not escaped for <script> (use charts.pack)")
        import json

        keys = set(json.loads(charts).get("figures", {}))
    live = {k: Markup(v) for k, v in assets().items()} if keys else {}

    def data_uri(path: str) -> str | None:
        data = read_image(path)
        if data is None or isinstance(data, str):
            return data
        return "data:image/png;base64," + base64.b64encode(data).decode()

    return _ENV.get_template("report.html.j2").render(
        doc=doc, verdict_word=_VERDICT_WORDS.get(doc.verdict, doc.verdict.upper()),
        data_uri=data_uri, toc=[s for s in doc.sections if s.level == 2],
        chart_keys=keys, charts=Markup(charts) if keys else None, stem=lambda p: Path(p).stem,
        **live)


_URIS: dict[str, tuple[tuple[int, int, int, int], str]] = {}   # name -> (stat key, data URI)


def file_reader(root: Path) -> Callable[[str], str | None]:
    """Figures under ``root`` as PNG data URIs, re-encoded only when the file changed (its
    device, inode, size or mtime): ``watch`` rewrites the HTML far more often than it redraws,
    each time in a new folder that hard-links the unchanged figures."""
    def read(path: str) -> str | None:
        file = root / path
        try:
            st = file.stat()
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            hit = _URIS.get(path)
            if hit is not None and hit[0] == key:
                return hit[1]
            uri = "data:image/png;base64," + base64.b64encode(file.read_bytes()).decode()
        except OSError:
            return None
        _URIS[path] = (key, uri)
        return uri
    return read
