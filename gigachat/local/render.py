"""Markdown from GigaChat -> a safe, self-contained HTML document for 1C's HTML field.

1C's HTML field runs JavaScript (IE engine on old platforms, WebKit on new), so the
model's text is rendered with raw HTML disabled and the result is sanitized by an
allow-list (nh3) before it is wrapped in a page whose CSP forbids scripts.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "ul", "ol", "li",
    "table", "thead", "tbody", "tr", "th", "td",
    "code", "pre", "blockquote", "hr", "a",
    "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip
_ALIGN = {"left", "right", "center"}

_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes={"a": {"href", "title"}, "ol": {"start"}},
    tag_attribute_values={"th": {"align": _ALIGN}, "td": {"align": _ALIGN}},
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="noopener noreferrer",
    strip_comments=True,
)

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
body { font-family: Arial, Helvetica, sans-serif; font-size: 14px; line-height: 1.5;
  color: #1f1f1f; background: #ffffff; margin: 8px 12px; word-wrap: break-word; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; margin: 16px 0 8px; }
h1 { font-size: 1.6em; } h2 { font-size: 1.4em; } h3 { font-size: 1.2em; }
p, ul, ol, table, pre, blockquote { margin: 0 0 10px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #b0b0b0; padding: 4px 8px; vertical-align: top; }
th { background: #f0f0f0; }
code { font-family: Consolas, "Courier New", monospace; background: #f3f3f3;
  padding: 1px 3px; }
pre { background: #f3f3f3; padding: 8px; overflow: auto; white-space: pre-wrap; }
pre code { padding: 0; }
blockquote { border-left: 4px solid #d0d0d0; padding-left: 10px; color: #555555; }
a { color: #0b5cad; }
.note { background: #fff4ce; border: 1px solid #e0c060; padding: 6px 10px; }
"""

# LaTeX delimiters, longest first; a span between them is kept verbatim as text.
_MATH_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def _find_closer(src: str, start: int, closer: str) -> int:
    """Index of the closing delimiter at or after start (non-empty span), or -1."""
    if closer != "$":
        end = src.find(closer, start)
        return end if end > start else -1
    if start >= len(src) or src[start].isspace():
        return -1  # "$ 5" is not math (pandoc's rule)
    end = src.find("$", start + 1)
    while end != -1:
        after = src[end + 1 : end + 2]
        if not src[end - 1].isspace() and not after.isdigit():
            return end
        end = src.find("$", end + 1)
    return -1


def _math_text(state: StateInline, silent: bool) -> bool:
    """Inline rule: keep $..$, $$..$$, \\(..\\), \\[..\\] as literal text (no emphasis)."""
    src, pos = state.src, state.pos
    if src[pos] not in "$\\":
        return False
    # Remember where a search failed: later openers of that kind cannot succeed
    # either, which keeps a text full of unmatched "$" linear.
    no_closer: dict = state.env.setdefault("_math_no_closer", {})
    for opener, closer in _MATH_DELIMS:
        if not src.startswith(opener, pos):
            continue
        start = pos + len(opener)
        if start >= no_closer.get((closer, src), len(src) + 1):
            continue
        end = _find_closer(src, start, closer)
        if end == -1:
            no_closer[(closer, src)] = start
            continue
        if not silent:
            state.push("text", "", 0).content = src[pos : end + len(closer)]
        state.pos = end + len(closer)
        return True
    return False


def _image_as_text(self, tokens, idx, options, env) -> str:
    """Render a Markdown image as its alt text: images are not shown."""
    return html.escape(self.renderInlineAsText(tokens[idx].children or [], options, env))


def _make_parser() -> MarkdownIt:
    """CommonMark + GFM tables; raw HTML off; single newlines become <br>."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")
    md.inline.ruler.before("escape", "math_text", _math_text)
    md.add_render_rule("image", _image_as_text)
    return md


_MD = _make_parser()


def _render_fragment(markdown: str) -> str:
    """Markdown -> sanitized HTML fragment."""
    env: dict = {}
    tokens = _MD.parse(markdown, env)
    for token in tokens:
        # Table alignment comes as style="text-align:x"; styles are not allowed, align is.
        style = token.attrs.pop("style", None) if token.attrs else None
        if style and token.type in ("th_open", "td_open"):
            token.attrs["align"] = str(style).removeprefix("text-align:")
    return _CLEANER.clean(_MD.renderer.render(tokens, _MD.options, env))


def markdown_to_html(markdown: str, *, title: str = "Ответ ГигаЧат", note: str | None = None) -> str:
    """Render GigaChat's Markdown into a complete, script-free UTF-8 HTML5 document."""
    body = _render_fragment(markdown or "")
    banner = f'<p class="note">{html.escape(note)}</p>\n' if note else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="ru">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta http-equiv="X-UA-Compatible" content="IE=edge">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{_STYLE}</style>\n"
        "</head>\n<body>\n"
        f"{banner}"
        f'<div class="content">\n{body}</div>\n'
        "</body>\n</html>\n"
    )
