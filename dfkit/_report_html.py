"""The report's page: its parts, its CSS and the one function that turns them into HTML.

The report model (:mod:`dfkit.report`) decides *what* the page says and hands it over as
plain text in the parts below; this module decides *how* it looks, and escapes every piece of
text it is given, so no caller can forget to. Nothing here knows about pandas or downloads.

>>> cells = render_table(Table(["Status", "Note"], [[Dot("Queued", "#E69F00"), "1 <b>"]]))
>>> "<td>1 &lt;b&gt;</td>" in cells and "<b>" not in cells
True
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "CSS",
    "Code",
    "Dot",
    "Figure",
    "Note",
    "Page",
    "Section",
    "Table",
    "render_page",
    "render_table",
]


@dataclass(frozen=True)
class Dot:
    """A table cell or label led by a coloured dot: a status in its chart colour."""

    text: str
    color: str


@dataclass(frozen=True)
class Code:
    """A piece of text shown as code (a file name, a function call)."""

    text: str


#: What a table cell or a sentence is made of: plain text, a dotted label, code.
Inline = str | Dot | Code


@dataclass(frozen=True)
class Note:
    """A short paragraph in small grey type; its parts are joined without spaces."""

    parts: Sequence[Inline]


@dataclass(frozen=True)
class Table:
    """A table of text cells; numbers are right-aligned except in ``text_columns``."""

    header: Sequence[Inline]
    rows: Sequence[Sequence[Inline]]
    total: Sequence[Inline] | None = None
    text_columns: Sequence[int] = ()
    #: "kv" for a two-column table of labels and values.
    css: str = ""
    #: Optional text under each row, across the whole table (a download's query).
    below: Sequence[str] = ()
    #: Columns a phone-width screen leaves out (what another column already says).
    phone_hidden: Sequence[int] = ()


@dataclass(frozen=True)
class Figure:
    """A chart: PNG bytes embedded as a ``data:`` URI, with its alt text (what it shows)."""

    png: bytes
    alt: str
    heading: str = ""


Part = Table | Figure | Note


@dataclass(frozen=True)
class Section:
    """A titled card of the page; ``id`` is its anchor (``#status``)."""

    id: str
    title: str
    parts: Sequence[Part]


@dataclass(frozen=True)
class Page:
    """The whole page: a title, one line about it, headline tiles, sections and a footer."""

    title: str
    meta: str
    #: Headline figures as (value, label) pairs.
    tiles: Sequence[tuple[str, str]]
    sections: Sequence[Section]
    #: Footer paragraphs; ``footer_items`` follow them as a bulleted list.
    footer: Sequence[Note] = field(default_factory=list)
    footer_items: Sequence[Note] = field(default_factory=list)
    generator: str = ""


CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1f2328;
  font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; -webkit-text-size-adjust: 100%; }
main { max-width: 920px; margin: 0 auto; padding: 28px 24px 40px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; line-height: 1.2; }
.meta { margin: 0; color: #59636e; font-size: 13px; }
section { background: #fff; border: 1px solid #d8dee4; border-radius: 8px;
  padding: 18px 22px; margin-top: 20px; }
h2 { margin: 0 0 10px; font-size: 19px; font-weight: 600; }
h3 { margin: 18px 0 6px; font-size: 15px; font-weight: 600; color: #424a53; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; margin-top: 20px; }
.tile { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 12px 16px; }
.tile .value { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums;
  line-height: 1.25; }
.tile .label { color: #59636e; font-size: 13px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eaeef2; text-align: right;
  white-space: nowrap; }
th { font-weight: 600; color: #424a53; background: #f6f8fa; }
th:first-child, td:first-child { text-align: left; }
th.text { text-align: left; }
td.text { text-align: left; white-space: normal; overflow-wrap: anywhere; min-width: 8em; }
tr.above td { border-bottom: none; padding-bottom: 0; }
tr.below td { color: #59636e; font-size: 13px; padding-top: 0; }
tr.total td { font-weight: 600; border-top: 2px solid #d0d7de; }
.kv td:first-child { color: #424a53; white-space: normal; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 7px; }
figure { margin: 6px 0 14px; }
img { display: block; width: 100%; max-width: 760px; height: auto; margin: 0 auto; }
.note { color: #59636e; font-size: 13px; margin: 8px 0 0; }
footer { color: #59636e; font-size: 13px; margin-top: 20px; }
footer ul { margin: 6px 0; padding-left: 20px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
@media (max-width: 600px) {
  main { padding: 16px 10px 28px; }
  header h1 { font-size: 22px; }
  section { padding: 14px 12px; }
  .tiles { grid-template-columns: repeat(2, 1fr); gap: 8px; }
  .tile { padding: 10px 12px; }
  .tile .value { font-size: 19px; }
  th, td { padding: 4px 5px; font-size: 13px; }
  .narrow-hide { display: none; }
}
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { background: #fff; font-size: 12px; }
  main { max-width: none; padding: 0; }
  section { border: none; padding: 0; margin-top: 16px; }
  section, .tile { break-inside: auto; }
  figure, tr, .tiles, h2, h3 { break-inside: avoid; }
  tr.above { break-after: avoid; }
  h2, h3 { break-after: avoid; }
  .tiles { grid-template-columns: repeat(3, 1fr); }
  img { max-width: 85%; }
  .scroll { overflow: visible; }
}
"""

_e = html.escape


def _inline(part: Inline) -> str:
    if isinstance(part, Dot):
        return f'<span class="dot" style="background:{_e(part.color)}"></span>{_e(part.text)}'
    if isinstance(part, Code):
        return f"<code>{_e(part.text)}</code>"
    return _e(str(part))


def render_table(table: Table) -> str:
    """Return ``table`` as HTML (in a div that scrolls sideways on a narrow screen), escaped."""

    def classes(i: int) -> str:
        names = (["text"] if i in table.text_columns else []) + (
            ["narrow-hide"] if i in table.phone_hidden else []
        )
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{classes(i)}>{_inline(h)}</th>" for i, h in enumerate(table.header))
    body = []
    for n, row in enumerate(table.rows):
        cells = "".join(f"<td{classes(i)}>{_inline(c)}</td>" for i, c in enumerate(row))
        below = table.below[n] if n < len(table.below) else ""
        if below:
            body.append(f'<tr class="above">{cells}</tr>')
            body.append(
                f'<tr class="below"><td class="text" colspan="{len(row)}">{_e(below)}</td></tr>'
            )
        else:
            body.append(f"<tr>{cells}</tr>")
    if table.total is not None:
        cells = "".join(f"<td>{_inline(c)}</td>" for c in table.total)
        body.append(f'<tr class="total">{cells}</tr>')  # totals are numbers: never hidden
    klass = f' class="{_e(table.css)}"' if table.css else ""
    thead = f"<thead><tr>{head}</tr></thead>" if any(table.header) else ""
    return f'<div class="scroll"><table{klass}>{thead}<tbody>{"".join(body)}</tbody></table></div>'


def _figure(figure: Figure) -> str:
    encoded = base64.b64encode(figure.png).decode("ascii")
    heading = f"<h3>{_e(figure.heading)}</h3>" if figure.heading else ""
    return (
        f'<figure>{heading}<img alt="{_e(figure.alt)}" src="data:image/png;base64,{encoded}">'
        "</figure>"
    )


def _parts(note: Note) -> str:
    return "".join(_inline(p) for p in note.parts)


def _note(note: Note) -> str:
    return f'<p class="note">{_parts(note)}</p>'


def _part(part: Part) -> str:
    if isinstance(part, Table):
        return render_table(part)
    if isinstance(part, Figure):
        return _figure(part)
    return _note(part)


def render_page(page: Page) -> str:
    """Return the self-contained HTML page (CSS inline, images as ``data:`` URIs), escaped."""
    tiles = "".join(
        f'<div class="tile"><div class="value">{_e(value)}</div>'
        f'<div class="label">{_e(label)}</div></div>'
        for value, label in page.tiles
    )
    sections = "\n".join(
        f'<section id="{_e(s.id)}">\n<h2>{_e(s.title)}</h2>\n'
        + "\n".join(_part(p) for p in s.parts)
        + "\n</section>"
        for s in page.sections
    )
    footer = "\n".join(f"<p>{_parts(n)}</p>" for n in page.footer)
    if page.footer_items:
        items = "".join(f"<li>{_parts(n)}</li>" for n in page.footer_items)
        footer += f"\n<ul>{items}</ul>"
    generator = (
        f'<meta name="generator" content="{_e(page.generator)}">\n' if page.generator else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{generator}<title>{_e(page.title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<h1>{_e(page.title)}</h1>
<p class="meta">{_e(page.meta)}</p>
</header>
<div class="tiles">{tiles}</div>
{sections}
<footer>
{footer}
</footer>
</main>
</body>
</html>
"""
