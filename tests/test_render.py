"""Markdown -> safe HTML for 1C's HTML field: rendering and injection resistance."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from gigachat.local import render
from gigachat.local.render import markdown_to_html

ALLOWED_SCHEMES = {"http", "https", "mailto"}
ACTIVE_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
    "img", "image", "video", "audio", "source", "link", "base", "form", "input", "button",
    "textarea", "select", "noscript", "template", "xml", "portal",
}  # fmt: skip
URL_ATTRS = {"href", "src", "action", "formaction", "data", "xlink:href", "background", "poster"}
ALLOWED_METAS = [
    {"charset": "utf-8"},
    {"http-equiv": "X-UA-Compatible", "content": "IE=edge"},
    {"http-equiv": "Content-Security-Policy", "content": render.CSP},
]


class Elements(HTMLParser):
    """Collect every start tag with its (entity-decoded) attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(document: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(document)
    parser.close()
    return parser.found


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see: control chars and whitespace removed, case-folded."""
    cleaned = re.sub(r"[\x00-\x20\x7f-\x9f]", "", value).casefold()
    match = re.match(r"([^/?#]*?):", cleaned)
    return match.group(1) if match else None


def assert_inert(document: str) -> None:
    """No element, attribute or URL that can run code or navigate by itself."""
    found = elements(document)
    metas = [attrs for tag, attrs in found if tag == "meta"]
    assert metas == ALLOWED_METAS
    assert [tag for tag, _ in found].count("style") == 1  # only the page's own stylesheet
    for tag, attrs in found:
        assert tag not in ACTIVE_TAGS, (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert name != "style", (tag, name, value)
            if name in URL_ATTRS:
                scheme = url_scheme(value or "")
                assert scheme in ALLOWED_SCHEMES, (tag, name, value)


def content_of(document: str) -> str:
    """The rendered fragment inside the content div."""
    match = re.search(r'<div class="content">\n(.*)</div>\n</body>', document, re.S)
    assert match, document
    return match.group(1)


# ---------------------------------------------------------------- rendering


def test_document_shell_is_complete_and_forbids_scripts():
    doc = markdown_to_html("Привет")
    assert doc.startswith("<!DOCTYPE html>\n")
    assert '<meta charset="utf-8">' in doc
    assert '<meta http-equiv="X-UA-Compatible" content="IE=edge">' in doc
    # X-UA-Compatible only works near the top of <head>, before any script or style.
    assert doc.index("X-UA-Compatible") < doc.index("<title>") < doc.index("<style>")
    (csp,) = [
        attrs["content"]
        for tag, attrs in elements(doc)
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "<title>Ответ ГигаЧат</title>" in doc
    assert "line-height: 1.5" in doc and "Arial" in doc and "border" in doc
    assert content_of(doc) == "<p>Привет</p>\n"


def test_inline_markup():
    html = content_of(markdown_to_html("**жирный** *курсив* __тоже__ и `код <b>`"))
    assert html == (
        "<p><strong>жирный</strong> <em>курсив</em> <strong>тоже</strong> "
        "и <code>код &lt;b&gt;</code></p>\n"
    )


def test_headings_and_lists():
    md = "# Итог\n## Детали\n### Мелочи\n\n- первый\n- второй\n\n1. раз\n2. два\n"
    html = content_of(markdown_to_html(md))
    assert "<h1>Итог</h1>" in html and "<h2>Детали</h2>" in html and "<h3>Мелочи</h3>" in html
    assert "<ul>\n<li>первый</li>\n<li>второй</li>\n</ul>" in html
    assert "<ol>\n<li>раз</li>\n<li>два</li>\n</ol>" in html


def test_numbered_list_keeps_its_start():
    assert '<ol start="3">' in markdown_to_html("3. три\n4. четыре")


def test_table_with_alignment_and_no_style_attributes():
    md = "| Товар | Сумма |\n|:------|------:|\n| Стул | 1 500,00 |\n| Стол | 9 900,00 |"
    html = content_of(markdown_to_html(md))
    assert "<table>" in html and "<thead>" in html and "<tbody>" in html
    assert '<th align="left">Товар</th>' in html
    assert '<th align="right">Сумма</th>' in html
    assert '<td align="right">9 900,00</td>' in html
    assert "style=" not in html


def test_fenced_code_block_is_escaped_and_unclassed():
    md = "```bsl\nЕсли А < Б Тогда\n  Сообщить(\"<b>\");\nКонецЕсли;\n```"
    html = content_of(markdown_to_html(md))
    assert html == (
        '<pre><code>Если А &lt; Б Тогда\n  Сообщить("&lt;b&gt;");\n'
        "КонецЕсли;\n</code></pre>\n"
    )


def test_single_newlines_become_line_breaks_and_crlf_equals_lf():
    lf = markdown_to_html("строка 1\nстрока 2\n\n- а\n- б\n\n| a |\n|---|\n| 1 |\n")
    crlf = markdown_to_html("строка 1\r\nстрока 2\r\n\r\n- а\r\n- б\r\n\r\n| a |\r\n|---|\r\n| 1 |\r\n")
    assert crlf == lf
    assert "<p>строка 1<br>\nстрока 2</p>" in lf
    assert "\r" not in crlf


def test_links_keep_safe_urls_only():
    html = content_of(
        markdown_to_html("[сайт](https://giga.chat/) [почта](mailto:a@b.ru) [отн](docs/x) <http://a.ru>")
    )
    assert '<a href="https://giga.chat/" rel="noopener noreferrer">сайт</a>' in html
    assert '<a href="mailto:a@b.ru" rel="noopener noreferrer">почта</a>' in html
    assert '<a rel="noopener noreferrer">отн</a>' in html  # relative URL dropped
    assert '<a href="http://a.ru" rel="noopener noreferrer">http://a.ru</a>' in html


@pytest.mark.parametrize(
    "latex",
    [
        r"\(\frac{a*b}{c*d}\)",
        r"\[ x_1*y_1 + x_2*y_2 \]",
        r"$a*b*c$",
        r"$$\sum_{i=1}^{n} i*i = \frac{n(n+1)(2n+1)}{6}$$",
        "$$\n\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}\n$$",
    ],
)
def test_latex_is_left_as_text(latex):
    html = content_of(markdown_to_html(f"Формула: {latex} — готово"))
    assert latex.replace("&", "&amp;") in html  # verbatim: no escapes eaten, no <br>
    assert "<em>" not in html


def test_dollar_amounts_are_not_mistaken_for_latex():
    html = content_of(markdown_to_html("Цена $5 и $10, а это *курсив*"))
    assert html == "<p>Цена $5 и $10, а это <em>курсив</em></p>\n"


def test_empty_input_gives_an_empty_body_section():
    for empty in ("", "\n\r\n  \n"):
        doc = markdown_to_html(empty)
        assert content_of(doc) == ""
        assert_inert(doc)


def test_note_banner_and_title_are_escaped():
    doc = markdown_to_html(
        "Ответ", title="</title><script>alert(1)</script>", note="Демо-режим: <b>эмулятор</b>"
    )
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in doc
    assert '<p class="note">Демо-режим: &lt;b&gt;эмулятор&lt;/b&gt;</p>' in doc
    assert doc.index('class="note"') < doc.index('class="content"')
    assert "<b>" not in doc
    assert_inert(doc)
    assert 'class="note"' not in markdown_to_html("Ответ")


def test_gigachat_image_reference_is_shown_as_text():
    doc = markdown_to_html('Вот рисунок: <img src="6a3b1c2e-0000-4000-8000-000000000001" fuse="true"/>')
    assert '&lt;img src="6a3b1c2e-0000-4000-8000-000000000001" fuse="true"/&gt;' in doc
    assert_inert(doc)


def test_markdown_image_becomes_its_alt_text():
    html = content_of(markdown_to_html("![схема <склада>](https://example.com/x.png)"))
    assert html == "<p>схема &lt;склада&gt;</p>\n"


def test_one_megabyte_renders_in_reasonable_time():
    chunk = (
        "## Раздел\n\nТекст с **жирным**, *курсивом*, `кодом` и [ссылкой](https://giga.chat).\n\n"
        "- пункт\n- пункт\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nкод\n```\n\n"
    )
    big = chunk * (1_000_000 // len(chunk) + 1)
    started = time.monotonic()
    doc = markdown_to_html(big)
    assert time.monotonic() - started < 30
    assert doc.count("<table>") == big.count("| a | b |")
    # Many unmatched "$" must not make the LaTeX rule quadratic.
    started = time.monotonic()
    markdown_to_html("$a " * 300_000)
    assert time.monotonic() - started < 30


# ---------------------------------------------------------------- injection

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "[link](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](java\x00script:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](  javascript:alert(1))",
    "<javascript:alert(1)>",
    "[x]: javascript:alert(1)\n\n[x]",
    "![x](javascript:alert(1))",
    '![x](https://evil.example/p.png "t" onerror=alert(1))',
    '[x](https://ok.example" onmouseover="alert(1))',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<base href="javascript:alert(1)//">',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<body onload=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<!--<script>alert(1)</script>-->",
    "| a |\n|---|\n| <script>alert(1)</script> [x](javascript:alert(1)) |",
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "> <iframe src=//evil.example>",
    "$<script>alert(1)</script>$ \\(<img src=x onerror=alert(1)>\\)",
    '<img src="6a3b1c2e" fuse="true"/>',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_model_output_cannot_inject_active_content(attack):
    assert_inert(markdown_to_html(attack))
    assert_inert(markdown_to_html(f"Текст\n\n{attack}\n\n**после**", note=attack, title=attack))


def test_script_payload_stays_visible_as_text():
    html = content_of(markdown_to_html("<script>alert(1)</script>"))
    assert html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


@pytest.mark.parametrize("attack", ATTACKS)
def test_sanitizer_alone_stops_raw_html(monkeypatch, attack):
    """Defence in depth: even if raw HTML got through Markdown, nh3 removes active parts."""
    monkeypatch.setattr(render, "_MD", MarkdownIt("commonmark", {"html": True}).enable("table"))
    assert_inert(markdown_to_html(attack))


def test_checker_detects_active_content():
    """The checker itself must fail on the things it looks for."""
    shell = markdown_to_html("x")
    for bad in (
        "<script>1</script>",
        '<a href=" JaVa\tScRiPt:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        "<p onclick=x>x</p>",
        '<meta http-equiv="refresh" content="0">',
        "<img src=https://a/b.png>",
    ):
        with pytest.raises(AssertionError):
            assert_inert(shell.replace("<p>x</p>", bad))
