"""The one escaping layer between untrusted text and the Markdown mlship writes.

A pull request controls slice values, column names, param keys and values, folder
names, descriptions and the text of errors. Every Markdown file mlship writes (the PR
comment, which is also the step summary and the check run's output, the drift report
and issue, the model card) reaches it only through :func:`escape`, which makes a string
inert wherever a template puts it inline: no HTML, no links or images, no mentions, no
table cell or line it can break, no code span or fence it can close, no marker it can
forge. :class:`Markdown` marks text that mlship's own code built and trusts as written;
the Jinja environment (:mod:`mlship.templating`) escapes everything else, so a template
cannot forget to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: CommonMark's line endings, the Unicode line and paragraph separators, and the other
#: control characters: each becomes one space, so a value stays on its line (and in its cell).
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
#: Characters that open Markdown or GFM inline syntax: emphasis, strikethrough, code,
#: links, images and footnotes (all need a ``[``, so ``]`` is left alone), table cells,
#: math. Each is backslash-escaped (``_`` only where it could start or end emphasis, so
#: ``roc_auc`` stays readable).
_PUNCTUATION = re.compile(r"[\\`*~\[|$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
#: What makes a line a heading, list item, setext underline or ordered list when it starts one.
_LINE_START = re.compile(r"^(\s*)([#+=-]|\d{1,9}(?=[.)](\s|$)))")
#: A mention (`@user`, `@org/team`) links and notifies; a zero-width space after the `@`
#: stops GitHub from seeing one, as Dependabot does in the release notes it quotes.
_MENTION = re.compile(r"@(?=[0-9A-Za-z])")
#: Where GitHub sees a mention in text: an @ that no word character precedes (``model@fingerprint`` is none).
_MENTION_IN_TEXT = re.compile(r"(?<!\w)@(?=[0-9A-Za-z])")
#: What could start raw HTML, an autolink or a character reference (a ``<`` or ``&`` before a
#: space or a digit cannot), and ``>``, which starts a quote.
_HTML = re.compile(r"<(?=[A-Za-z/!?])|&(?=[#A-Za-z0-9])|>")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


class Markdown(str):
    """Markdown that mlship's own code wrote and trusts as written.

    Build it from a literal with :meth:`format` or :meth:`join`, which escape what they
    are given; ``+`` escapes the other side. Anything else a template prints is escaped.
    """

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> Markdown:
        return Markdown(super().format(*map(_inline, args), **{k: _inline(v) for k, v in kwargs.items()}))

    def join(self, parts: Iterable[Any]) -> Markdown:  # type: ignore[override]
        return Markdown(super().join(escape(part) for part in parts))

    def __add__(self, other: Any) -> Markdown:  # type: ignore[override]
        return Markdown(str.__add__(self, escape(other)))

    def __radd__(self, other: Any) -> Markdown:
        return Markdown(str.__add__(escape(other), self))


def escape(value: Any) -> Markdown:
    """``value`` as inline Markdown text that renders as exactly its characters, on one line.

    Trusted :class:`Markdown` is returned as it is.
    """
    if isinstance(value, Markdown):
        return value
    text = _BREAKS.sub(" ", str(value))
    text = _PUNCTUATION.sub(lambda m: "\\" + m.group(), text)
    text = _HTML.sub(lambda m: _ENTITIES[m.group()[0]], text)
    text = _LINE_START.sub(lambda m: m[1] + (m[2] + "\\" if m[2].isdigit() else "\\" + m[2]), text)
    return Markdown(_MENTION.sub("@&#8203;", text))


def inert_mentions(text: str) -> str:
    """Markdown mlship did not write (a fork's hand-off) with every @mention made inert by a
    zero-width space after the ``@``, in code too (where the space is invisible): posted by
    mlship's bot, a mention would have it notify whomever the fork's author chose."""
    return _MENTION_IN_TEXT.sub("@\u200b", text)


def code(value: Any) -> Markdown:
    """``value`` in code type, on one line.

    A backtick code span shows its content literally, so nothing in it can be escaped: it is
    used when the content needs none (its fence longer than any run of backticks inside).
    Text with ``|`` (which ends a GFM table cell even inside a code span), ``<`` or ``&``
    goes in an HTML ``<code>`` element around escaped text instead.
    """
    text = _BREAKS.sub(" ", str(value)).strip()
    if not text or re.search(r"[|<&]", text):
        return Markdown(f"<code>{escape(text)}</code>")
    fence = "`" * (1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}")


def code_block(lines: Iterable[Any], language: str = "text") -> Markdown:
    """``lines`` as a fenced code block, whose fence is longer than any run of backticks in them."""
    text = "\n".join(_BREAKS.sub(lambda m: "\n" if m.group() == "\n" else " ", str(line)) for line in lines)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return Markdown(f"{fence}{_BREAKS.sub('', language)}\n{text}\n{fence}")


def paragraphs(value: Any) -> Markdown:
    """Text written in paragraphs (a description): each escaped, blank lines kept between them."""
    return Markdown("\n\n").join(p for p in re.split(r"\n\s*\n", str(value)) if p.strip())


def _inline(value: Any) -> Any:
    """A :meth:`Markdown.format` argument: numbers stay numbers (for format specs); text is escaped."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return escape(value)
