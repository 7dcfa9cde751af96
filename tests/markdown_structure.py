"""Markdown read as GitHub reads it, to check that untrusted text stayed text.

markdown-it-py is a CommonMark parser; with its GFM table and strikethrough rules it
parses pipes, fences, raw HTML and code the way github.com does, so a test can ask for
the structure (which HTML tags, how many table rows, which headings) of what mlship wrote.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])
#: The raw HTML mlship's own templates write; anything else came from untrusted text.
TEMPLATE_TAGS = {"<details>", "</details>", "<summary>", "</summary>", "<code>", "</code>", "<br>", "<sub>",
                 "</sub>", "<!-- mlship:report -->"}
#: A mention GitHub would link: `@` then a letter or digit, not after a word character.
MENTION = re.compile(r"(?<![\w`])@[0-9A-Za-z]")


def flat(markdown: str) -> list[Token]:
    """Every token, inline ones included, in document order."""
    found = []
    for token in GFM.parse(markdown):
        found.append(token)
        found.extend(token.children or [])
    return found


def html_tags(markdown: str) -> list[str]:
    """The raw HTML tags and comments in ``markdown``, as a browser would get them."""
    tags = []
    for token in flat(markdown):
        if token.type in ("html_block", "html_inline"):
            tags.extend(re.findall(r"<!--.*?-->|<[^>]*>", token.content, re.DOTALL))
    return tags


def text_of(tokens: list[Token]) -> str:
    """The text a reader sees (without the zero-width spaces that keep a mention from linking)."""
    return "".join(t.content if t.type in ("text", "code_inline") else " " if t.type == "softbreak" else ""
                   for t in tokens).replace("\u200b", "")


def tables(markdown: str) -> list[list[list[str]]]:
    """Each table's body rows, each row its cells' rendered text (HTML tags left out)."""
    found: list[list[list[str]]] = []
    row: list[str] | None = None
    in_body = False
    for token in GFM.parse(markdown):
        if token.type == "table_open":
            found.append([])
        elif token.type in ("tbody_open", "tbody_close"):
            in_body = token.type == "tbody_open"
        elif token.type == "tr_open" and in_body:
            row = []
            found[-1].append(row)
        elif token.type == "inline" and in_body and row is not None:
            row.append(text_of(token.children or []).strip())
    return found


def inline_texts(markdown: str) -> list[str]:
    """The text of each paragraph, list item, cell and heading, as a reader sees it."""
    return [text_of(token.children or []) for token in GFM.parse(markdown) if token.type == "inline"]


def headings(markdown: str) -> list[tuple[str, str]]:
    """(level, text) of each heading, e.g. ("h3", "❌ churn: ...")."""
    tokens = GFM.parse(markdown)
    return [(token.tag, text_of(tokens[i + 1].children or [])) for i, token in enumerate(tokens)
            if token.type == "heading_open"]


def mentions(markdown: str) -> list[str]:
    """Text GitHub would turn into a mention (code is left alone by GitHub)."""
    return [t.content for t in flat(markdown) if t.type == "text" and MENTION.search(t.content)]


def links_and_images(markdown: str) -> list[str]:
    return [t.type for t in flat(markdown) if t.type in ("link_open", "image")]


def assert_untrusted_text_stayed_text(markdown: str, allowed_tags: set[str] = TEMPLATE_TAGS) -> None:
    """The checks every hostile rendering must pass: only the templates' HTML, balanced
    ``<details>``, no mention and no image."""
    tags = html_tags(markdown)
    assert set(tags) <= allowed_tags, sorted(set(tags) - allowed_tags)
    assert tags.count("<details>") == tags.count("</details>")
    assert mentions(markdown) == []
    assert "image" not in links_and_images(markdown)
