"""Limits a YAML file must keep before it is composed: size, nesting, alias expansion, characters.

A pull request writes ``model.yaml``, and YAML can ask for more than it shows: twelve
lines of aliases that refer to aliases expand to billions of values (the "billion laughs"),
and deep nesting overflows the composer's recursion. :func:`check` reads the file's
*events* (a flat stream, parsed without recursion), so it costs time in proportion to
the file's bytes, and refuses such a file with its line before anything is built from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlship.errors import Location, Problem, SpecError

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
#: Values (scalars and collections) the document holds once every alias is expanded.
MAX_VALUES = 100_000
#: What YAML 1.1 accepts as a character (tab, line endings and printable Unicode);
#: anything else (NUL, other control characters) would stop the reader.
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check(text: str, file: Path) -> None:
    """Raise :class:`SpecError` naming the line when ``text`` breaks a limit."""
    if len(text) > MAX_BYTES:
        raise SpecError([Problem(Location(file), f"the file has {len(text):,} characters, over the "
                                                 f"{MAX_BYTES:,} a spec may have")])
    bad = _NOT_YAML.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise SpecError([Problem(Location(file, line), f"the character U+{ord(bad.group()):04X} is not allowed in "
                                                       "YAML: remove it")])
    _check_events(text, file)


def _check_events(text: str, file: Path) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    sizes: dict[str, int] = {}  # anchor -> values it expands to
    open_: list[tuple[str | None, int]] = []  # each open collection: its anchor, values so far
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                open_.append((event.anchor, 1))
                if len(open_) > MAX_DEPTH:
                    _refuse(file, event, f"the YAML nests more than {MAX_DEPTH} levels deep")
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, count = open_.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, count = event.anchor, 1
            elif isinstance(event, yaml.AliasEvent):
                anchor, count = None, sizes.get(event.anchor, 1)
            else:
                continue
            if anchor is not None:
                sizes[anchor] = count
            if open_:
                parent_anchor, so_far = open_.pop()
                open_.append((parent_anchor, so_far + count))
            if count > MAX_VALUES or (open_ and open_[-1][1] > MAX_VALUES):
                _refuse(file, event, f"the YAML's aliases expand to more than {MAX_VALUES:,} values")
    except yaml.MarkedYAMLError:
        return  # composing reports it, with its line
    finally:
        loader.dispose()


def _refuse(file: Path, event: yaml.Event, why: str) -> None:
    line = event.start_mark.line + 1 if event.start_mark else None
    raise SpecError([Problem(Location(file, line), f"{why}: write the values out plainly")])
