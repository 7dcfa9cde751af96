"""Run a composite GitHub Action (``action.yml``) on this machine, with GitHub's documented semantics.

No machine here runs GitHub Actions, so tests of ``actions/<name>/action.yml`` execute the
composite action's steps on the host, the way the runner would::

    from action_harness import run_action

    result = run_action(
        "./actions/train",                        # resolved against the workspace, like `uses: ./...`
        {"model": "iris"},                        # the `with:` of the calling step
        workspace=repo,                           # GITHUB_WORKSPACE: default cwd, root of `./` and hashFiles
        github={"event_name": "pull_request", "event": {...}, "token": "t", "repository": "o/r"},
        base_env={**os.environ, "GITHUB_REPOSITORY": "o/r"},    # the runner process' own environment
        stand_ins={"actions/setup-python": lambda with_, env: {"python-version": "3.11.7"}},
    )
    assert not result.failed, result.report()
    assert result.outputs["verdict"] == "better"

What it implements, and where GitHub documents it:

* ``action.yml`` -- https://docs.github.com/actions/reference/workflows-and-actions/metadata-syntax
  (``runs.using: composite``, ``runs.steps[*]``: ``id name if run shell env working-directory
  continue-on-error uses with``; ``inputs.<id>.default/required/deprecationMessage``;
  ``outputs.<id>.value``). Read with the YAML 1.2 *core* schema, as the runner does (so ``yes``
  stays a string and ``3.10`` is the number 3.1, as on GitHub).
* Expressions -- https://docs.github.com/actions/reference/workflows-and-actions/expressions
  (a tokenizer and a recursive-descent parser/evaluator below, following the runner's
  ``ExpressionUtility`` and ``actions/languageservices``: loose equality, case-insensitive
  string comparison, ``&&``/``||`` returning operands, object filters ``a.*.b``).
* Contexts -- https://docs.github.com/actions/reference/workflows-and-actions/contexts
  (``github inputs steps env runner job``; ``secrets`` does not exist in composite actions).
* Environment files -- https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands
  (a fresh ``GITHUB_OUTPUT``/``GITHUB_ENV``/``GITHUB_PATH``/``GITHUB_STEP_SUMMARY`` per step,
  ``name=value`` and ``name<<DELIMITER`` heredocs, parsed after the step as the runner's
  ``FileCommandManager`` does).
* Shells -- https://docs.github.com/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idstepsshell
  (``bash --noprofile --norc -eo pipefail {0}``; ``python {0}``).

It never guesses: anything else raises :class:`UnsupportedSyntax` (or :class:`HarnessError`)
naming the file, the step and the construct. Third-party ``uses: owner/repo@ref`` steps are the
one exception to "run it for real": they run *stand-ins* the caller passes (see
:data:`DEFAULT_STAND_INS`). Expression errors at run time (``fromJSON('nope')``) fail the step,
as on GitHub; syntax errors fail loudly when the action is loaded, as GitHub rejects the file.

Refused, loudly: ``runs.using`` other than ``composite``; shells other than ``bash``/``python``
(and custom shell templates); step keys GitHub does not allow in composite actions
(``timeout-minutes``, ``with`` on a run step, ...); ``docker://`` and ``$/`` references; a
third-party action without a stand-in; the ``secrets``/``vars``/``matrix``/``needs``/``strategy``
contexts; status functions outside ``if:``; an ``if:`` mixing ``${{ }}`` with other text; an
array or object interpolated into a string (GitHub prints the word ``Object``); the deprecated
``::set-output``/``::set-env``/``::add-path``/``::save-state`` stdout commands; ``GITHUB_STATE``
(pre/post steps); unknown functions; a step still running after ``step_timeout`` seconds.

Stricter than GitHub, on purpose (``strict_inputs=False`` restores GitHub's leniency): a required
input that is not supplied, or an input the action does not declare, raises instead of warning.

Steps run as subprocesses of the test, with the environment it gives as ``base_env`` (default:
``os.environ`` -- when the tests themselves run on GitHub Actions that includes the CI job's own
``GITHUB_*`` variables, so tests that care should pass ``base_env`` explicitly, e.g. built with
:func:`default_environment`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Union

import yaml

__all__ = [
    "DEFAULT_STAND_INS",
    "ActionResult",
    "ActionSpec",
    "ExpressionError",
    "HarnessError",
    "StandIn",
    "StandInFailure",
    "StepResult",
    "UnsupportedSyntax",
    "default_environment",
    "evaluate_expression",
    "load_action",
    "run_action",
]


# ======================================================================================
# Errors
# ======================================================================================


class HarnessError(Exception):
    """The harness refuses: a misuse, or something GitHub itself rejects before running."""


class UnsupportedSyntax(HarnessError):
    """A construct this harness does not implement. It fails loudly instead of guessing."""


class ExpressionError(HarnessError):
    """An expression failed while being evaluated. On GitHub this fails the step, so it does here."""


class StandInFailure(Exception):
    """Raise from a stand-in to fail its step, like a JavaScript action calling ``core.setFailed``."""


# ======================================================================================
# YAML: the 1.2 core schema, as the runner reads action.yml (PyYAML defaults to YAML 1.1)
# ======================================================================================


class _CoreSchemaLoader(yaml.SafeLoader):
    """YAML 1.2 core schema: only true/false (3 spellings) are booleans, no ``yes``/``on``,
    no sexagesimal ``1:30``, no octal ``0755`` -- the runner's ``YamlObjectReader`` matches these."""


_CoreSchemaLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in [
    ("null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
]:
    _CoreSchemaLoader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first) + ([""] if _tag == "null" else [])
    )


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = loader.construct_scalar(node)
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    if text.lower() in special:
        return special[text.lower()]
    return float(text)


_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


# ======================================================================================
# Expression values: null, boolean, number, string, array, object -- and GitHub's coercions
# ======================================================================================


class CaseSensitiveDict(dict):
    """The ``env`` context: the only case-sensitive object (on Linux and macOS runners)."""


class FilteredArray(list):
    """The result of an object filter (``a.*.b``); further dereferences map over its items."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if _is_number(value):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    raise HarnessError(f"not an expression value: {value!r} ({type(value).__name__})")


_JSON_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _parse_number(text: str) -> float:
    """String to number, as the runner's ``ExpressionUtility.ParseNumber`` (JavaScript's ``Number()``):
    trimmed; empty is 0; decimal/exponent; ``0x`` hex and ``0o`` octal; ``Infinity``; else NaN."""
    text = text.strip()
    if text == "":
        return 0.0
    if _JSON_NUMBER.fullmatch(text):
        return float(text)
    if re.fullmatch(r"0x[0-9a-fA-F]+", text) and int(text[2:], 16) <= 2**31 - 1:
        return float(int(text[2:], 16))
    if re.fullmatch(r"0o[0-7]+", text) and int(text[2:], 8) <= 2**31 - 1:
        return float(int(text[2:], 8))
    return {"Infinity": math.inf, "-Infinity": -math.inf}.get(text, math.nan)


def _to_number(value: Any) -> float:
    """The documented conversion table: null 0, true 1, false 0, strings parsed, arrays/objects NaN."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        return _parse_number(value)
    return math.nan


def _format_number(number: float) -> str:
    """Numbers become strings as .NET's ``G15`` format does: ``1``, ``1.5``, ``1E+20``."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return "%.15G" % number


def _to_string(value: Any, where: str = "expression") -> str:
    """The documented string conversions: null '', booleans 'true'/'false', numbers in decimal.

    Arrays and objects "are not converted to a string" (the runner prints the literal text
    ``Object``/``Array``, which is never what an action means), so that fails loudly.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return _format_number(value)
    if isinstance(value, str):
        return value
    raise UnsupportedSyntax(
        f"{where}: an {_kind(value).lower()} cannot be converted to a string "
        f"(GitHub would print the word '{_kind(value)}'); use toJSON()"
    )


def _truthy(value: Any) -> bool:
    """Falsy: false, 0, -0, NaN, '' and null; everything else (even ``'false'`` and ``{}``) is truthy."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _upper(text: str) -> str:
    """Ordinal-ignore-case key: per-character upper case, except the dotless i (as the runner)."""
    return "".join(c if c == "ı" or len(c.upper()) != 1 else c.upper() for c in text)


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Loose typing before comparing: if kinds differ, null/boolean/string sides become numbers
    (JavaScript's abstract equality, except that arrays and objects are never converted)."""
    lk, rk = _kind(left), _kind(right)
    if lk == rk:
        return left, right
    if lk == "Number" and rk == "String":
        return left, _parse_number(right)
    if lk == "String" and rk == "Number":
        return _parse_number(left), right
    if lk in ("Null", "Boolean"):
        return _coerce(_to_number(left), right)
    if rk in ("Null", "Boolean"):
        return _coerce(left, _to_number(right))
    return left, right


def _equals(left: Any, right: Any) -> bool:
    left, right = _coerce(left, right)
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind == "Null":
        return True
    if kind == "Number":
        return not (math.isnan(left) or math.isnan(right)) and left == right
    if kind == "String":
        return _upper(left) == _upper(right)
    if kind == "Boolean":
        return left == right
    return left is right  # arrays and objects: only the same instance


def _less_than(left: Any, right: Any) -> bool:
    """``<`` after coercion. Any NaN, or arrays/objects, compare false."""
    left, right = _coerce(left, right)
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind == "Number":
        return not (math.isnan(left) or math.isnan(right)) and left < right
    if kind == "String":
        return _upper(left) < _upper(right)
    if kind == "Boolean":
        return not left and right
    return False


# ======================================================================================
# Expressions: tokenizer
# ======================================================================================


@dataclass(frozen=True)
class _Token:
    kind: str  # one of: ( ) [ ] , . ! != == < <= > >= && || * number string identifier true false null
    text: str
    value: Any = None


_BOUNDARY = set("()[],.!><=&|")
_SYMBOLS = ["!=", "==", "<=", ">=", "&&", "||", "(", ")", "[", "]", ",", "!", "<", ">", "*"]


def _tokenize(source: str, where: str) -> list[_Token]:
    """Split an expression into tokens, as GitHub's lexer does (``-1`` and ``.5`` are numbers; there
    is no arithmetic). Double quotes, lone ``=``/``&``/``|`` and illegal names are syntax errors."""
    tokens: list[_Token] = []
    i = 0

    def fail(message: str) -> HarnessError:
        return HarnessError(f"{where}: {message} in expression: {source}")

    while i < len(source):
        c = source[i]
        if c.isspace():
            i += 1
            continue
        if c == "'":
            j, chars = i + 1, []
            while True:
                if j >= len(source):
                    raise fail(f"unterminated string starting at position {i + 1}")
                if source[j] == "'":
                    if source[j + 1 : j + 2] == "'":
                        chars.append("'")
                        j += 2
                        continue
                    break
                chars.append(source[j])
                j += 1
            tokens.append(_Token("string", source[i : j + 1], "".join(chars)))
            i = j + 1
            continue
        if c == '"':
            raise fail("strings use single quotes ('...'); double quotes are an error on GitHub")
        previous = tokens[-1].kind if tokens else None
        starts_number = c.isdigit() or c in "+-" or (
            c == "." and previous not in ("identifier", "]", ")", "*")
        )
        if starts_number:
            j = i + 1
            while j < len(source) and (source[j] == "." or not (source[j] in _BOUNDARY or source[j].isspace())):
                j += 1
            lexeme = source[i:j]
            number = _parse_number(lexeme)
            if math.isnan(number):
                raise fail(f"unexpected symbol {lexeme!r}")
            tokens.append(_Token("number", lexeme, int(number) if number.is_integer() else number))
            i = j
            continue
        if c == ".":
            tokens.append(_Token(".", "."))
            i += 1
            continue
        symbol = next((s for s in _SYMBOLS if source.startswith(s, i)), None)
        if symbol:
            tokens.append(_Token(symbol, symbol))
            i += len(symbol)
            continue
        if c in "=&|":
            raise fail(f"unexpected symbol {c!r} (did you mean {c * 2!r}?)")
        j = i
        while j < len(source) and not (source[j] in _BOUNDARY or source[j].isspace()):
            j += 1
        word = source[i:j]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", word):
            raise fail(f"unexpected symbol {word!r}")
        if previous != "." and word in ("true", "false", "null"):
            tokens.append(_Token(word, word, {"true": True, "false": False, "null": None}[word]))
        elif previous != "." and word in ("NaN", "Infinity"):
            tokens.append(_Token("number", word, math.nan if word == "NaN" else math.inf))
        else:
            tokens.append(_Token("identifier", word))
        i = j
    return tokens


# ======================================================================================
# Expressions: syntax tree and recursive-descent parser
# ======================================================================================


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class ContextRef:
    name: str  # lower case: github, env, inputs, steps, runner, job


@dataclass(frozen=True)
class Star:
    """The ``*`` of an object filter."""


@dataclass(frozen=True)
class Index:
    target: "Node"
    index: "Node | Star"  # `a.b` is Index(a, Literal('b'))


@dataclass(frozen=True)
class Call:
    name: str  # lower case; function names are case-insensitive (toJson == toJSON)
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Logical:
    op: str  # && or ||
    operands: tuple["Node", ...]


@dataclass(frozen=True)
class Group:
    inner: "Node"


Node = Union[Literal, ContextRef, Index, Call, Not, Compare, Logical, Group]

ALL_CONTEXTS = frozenset({"github", "env", "inputs", "steps", "runner", "job"})
_UNAVAILABLE_CONTEXTS = {
    "secrets": "the secrets context is not available in composite actions; pass secrets as inputs",
    "matrix": "matrix belongs to the calling job; pass it as an input",
    "strategy": "strategy belongs to the calling job; pass it as an input",
    "needs": "needs belongs to the calling job; pass it as an input",
    "vars": "the vars context is not supported by this harness; pass values as inputs",
    "jobs": "the jobs context exists only in reusable workflows",
}
_STATUS_FUNCTIONS = frozenset({"success", "failure", "cancelled", "always"})
_FUNCTION_ARITY = {  # name: (min, max) arguments
    "contains": (2, 2), "startswith": (2, 2), "endswith": (2, 2), "format": (1, 255),
    "join": (1, 2), "tojson": (1, 1), "fromjson": (1, 1), "hashfiles": (1, 255), "case": (3, 255),
    "success": (0, 0), "failure": (0, 0), "cancelled": (0, 0), "always": (0, 0),
}


class _Parser:
    """Precedence, lowest first: ``||``, ``&&``, ``== !=``, ``< <= > >=``, ``!``, then postfix
    ``.name`` ``[index]`` ``.*`` on contexts, calls and parentheses (the runner's grammar)."""

    def __init__(self, source: str, where: str, contexts: frozenset[str], allow_status: bool) -> None:
        self.source, self.where = source, where
        self.contexts, self.allow_status = contexts, allow_status
        self.tokens = _tokenize(source, where)
        self.pos = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("empty expression")
        node = self.or_()
        if self.pos < len(self.tokens):
            raise self.error(f"unexpected {self.tokens[self.pos].text!r}")
        return node

    # -- helpers
    def error(self, message: str) -> HarnessError:
        return HarnessError(f"{self.where}: {message} in expression: {self.source}")

    def peek(self) -> str | None:
        return self.tokens[self.pos].kind if self.pos < len(self.tokens) else None

    def take(self, *kinds: str) -> _Token | None:
        if self.peek() in kinds:
            self.pos += 1
            return self.tokens[self.pos - 1]
        return None

    def expect(self, kind: str) -> _Token:
        token = self.take(kind)
        if token is None:
            found = self.tokens[self.pos].text if self.pos < len(self.tokens) else "end of expression"
            raise self.error(f"expected {kind!r}, found {found!r}")
        return token

    # -- grammar
    def or_(self) -> Node:
        operands = [self.and_()]
        while self.take("||"):
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else Logical("||", tuple(operands))

    def and_(self) -> Node:
        operands = [self.equality()]
        while self.take("&&"):
            operands.append(self.equality())
        return operands[0] if len(operands) == 1 else Logical("&&", tuple(operands))

    def equality(self) -> Node:
        node = self.comparison()
        while (op := self.take("==", "!=")) is not None:
            node = Compare(op.kind, node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.unary()
        while (op := self.take("<", "<=", ">", ">=")) is not None:
            node = Compare(op.kind, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.take("!"):
            return Not(self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        if not isinstance(node, (Group, Call, ContextRef)):
            return node
        while True:
            if self.take("["):
                index: Node | Star = Star() if self.take("*") else self.or_()
                self.expect("]")
                node = Index(node, index)
            elif self.take("."):
                if self.take("*"):
                    node = Index(node, Star())
                else:
                    node = Index(node, Literal(self.expect("identifier").text))
            else:
                return node

    def primary(self) -> Node:
        token = self.take("number", "string", "true", "false", "null")
        if token is not None:
            return Literal(token.value)
        if self.take("("):
            inner = self.or_()
            self.expect(")")
            return Group(inner)
        name = self.take("identifier")
        if name is None:
            found = self.tokens[self.pos].text if self.pos < len(self.tokens) else "end of expression"
            raise self.error(f"unexpected {found!r}")
        if self.take("("):
            return self.call(name.text)
        return self.context(name.text)

    def call(self, name: str) -> Node:
        args: list[Node] = []
        if not self.take(")"):
            args.append(self.or_())
            while self.take(","):
                args.append(self.or_())
            self.expect(")")
        key = name.lower()
        if key not in _FUNCTION_ARITY:
            raise UnsupportedSyntax(
                f"{self.where}: unknown or unsupported function {name}() in expression: {self.source}")
        if key in _STATUS_FUNCTIONS and not self.allow_status:
            raise HarnessError(f"{self.where}: {name}() is only allowed in `if:` conditions ({self.source})")
        low, high = _FUNCTION_ARITY[key]
        if not low <= len(args) <= high or (key == "case" and len(args) % 2 == 0):
            raise self.error(f"wrong number of arguments ({len(args)}) to {name}()")
        return Call(key, tuple(args))

    def context(self, name: str) -> Node:
        key = name.lower()
        if key in self.contexts:
            return ContextRef(key)
        if key in _UNAVAILABLE_CONTEXTS:
            raise UnsupportedSyntax(f"{self.where}: {_UNAVAILABLE_CONTEXTS[key]} (expression: {self.source})")
        if key in ALL_CONTEXTS:
            raise HarnessError(f"{self.where}: the {key} context is not available here (expression: {self.source})")
        raise UnsupportedSyntax(f"{self.where}: unrecognized named value {name!r} in expression: {self.source}")


def parse_expression(
    source: str, where: str = "expression", *, contexts: frozenset[str] = ALL_CONTEXTS, allow_status: bool = False
) -> Node:
    """Parse the inside of ``${{ }}``; syntax errors and unsupported constructs raise here."""
    return _Parser(source, where, contexts, allow_status).parse()


def _uses_status_function(node: Node) -> bool:
    if isinstance(node, Call):
        return node.name in _STATUS_FUNCTIONS or any(_uses_status_function(a) for a in node.args)
    if isinstance(node, (Not, Group)):
        return _uses_status_function(node.operand if isinstance(node, Not) else node.inner)
    if isinstance(node, Compare):
        return _uses_status_function(node.left) or _uses_status_function(node.right)
    if isinstance(node, Logical):
        return any(_uses_status_function(n) for n in node.operands)
    if isinstance(node, Index):
        return _uses_status_function(node.target) or (
            not isinstance(node.index, Star) and _uses_status_function(node.index)
        )
    return False


# ======================================================================================
# Expressions: evaluator and functions
# ======================================================================================


@dataclass
class _Scope:
    """What an expression can see: the context objects, the action's status, the workspace."""

    contexts: dict[str, Any]
    action_status: str = "success"  # what success()/failure() test inside a composite action
    workspace: Path | None = None  # the root of hashFiles()


_MISSING = object()


def _property(obj: dict, key: str) -> Any:
    """``obj[key]``: case-insensitive, except in the ``env`` context; ``_MISSING`` when absent."""
    if key in obj:
        return obj[key]
    if not isinstance(obj, CaseSensitiveDict):
        folded = _upper(key)
        for name, value in obj.items():
            if _upper(name) == folded:
                return value
    return _MISSING


def _index(obj: Any, key: Any) -> Any:
    """``obj[key]`` and ``obj.key``: a missing property (or anything indexed that is not an
    object or array) is null; array positions are numbers, floored, from 0; on the result of an
    object filter the index applies to each item and the misses are dropped."""
    text = None if isinstance(key, (list, dict)) else _to_string(key)
    number = _to_number(key)
    position = math.floor(number) if math.isfinite(number) and number >= 0 else None

    def item(obj: Any) -> Any:
        if isinstance(obj, dict) and text is not None:
            return _property(obj, text)
        if isinstance(obj, list) and position is not None and position < len(obj):
            return obj[position]
        return _MISSING

    if isinstance(obj, FilteredArray):
        return FilteredArray(v for v in map(item, obj) if v is not _MISSING)
    value = item(obj)
    return None if value is _MISSING else value


def _star(obj: Any) -> FilteredArray:
    """``obj.*``: the values of an object or the items of an array; on a filter, one level deeper."""
    if isinstance(obj, FilteredArray):
        return FilteredArray(v for item in obj if isinstance(item, (dict, list))
                             for v in (item.values() if isinstance(item, dict) else item))
    if isinstance(obj, dict):
        return FilteredArray(obj.values())
    return FilteredArray(obj) if isinstance(obj, list) else FilteredArray()


def _evaluate(node: Node, scope: _Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Group):
        return _evaluate(node.inner, scope)
    if isinstance(node, ContextRef):
        return scope.contexts.get(node.name)
    if isinstance(node, Index):
        target = _evaluate(node.target, scope)
        if isinstance(node.index, Star):
            return _star(target)
        return _index(target, _evaluate(node.index, scope))
    if isinstance(node, Not):
        return not _truthy(_evaluate(node.operand, scope))
    if isinstance(node, Compare):
        left, right = _evaluate(node.left, scope), _evaluate(node.right, scope)
        return {
            "==": lambda: _equals(left, right),
            "!=": lambda: not _equals(left, right),
            "<": lambda: _less_than(left, right),
            ">": lambda: _less_than(right, left),
            "<=": lambda: _equals(left, right) or _less_than(left, right),
            ">=": lambda: _equals(left, right) or _less_than(right, left),
        }[node.op]()
    if isinstance(node, Logical):
        # `a && b` is the first falsy operand, or the last; `a || b` the first truthy, or the last.
        for operand in node.operands:
            value = _evaluate(operand, scope)
            if _truthy(value) == (node.op == "||"):
                return value
        return value
    if isinstance(node, Call):
        return _call(node, scope)
    raise HarnessError(f"unknown syntax node {node!r}")


def _call(node: Call, scope: _Scope) -> Any:
    name = node.name
    if name == "always":
        return True
    if name == "cancelled":
        return False  # nothing cancels a harness run
    if name == "success":
        return scope.action_status == "success"
    if name == "failure":
        return scope.action_status == "failure"
    if name == "case":  # evaluated lazily: predicates in order, the last argument is the default
        for i in range(0, len(node.args) - 1, 2):
            predicate = _evaluate(node.args[i], scope)
            if not isinstance(predicate, bool):
                raise ExpressionError(f"case() predicates must be booleans, got {_kind(predicate).lower()}")
            if predicate:
                return _evaluate(node.args[i + 1], scope)
        return _evaluate(node.args[-1], scope)
    args = [_evaluate(a, scope) for a in node.args]
    primitive = [not isinstance(a, (list, dict)) for a in args]
    if name == "contains":
        search, item = args
        if primitive[0] and primitive[1]:
            return _upper(_to_string(item)) in _upper(_to_string(search))
        if isinstance(search, list):
            return any(_equals(item, element) for element in search)
        return False
    if name in ("startswith", "endswith"):
        if not (primitive[0] and primitive[1]):
            return False
        text, part = _upper(_to_string(args[0])), _upper(_to_string(args[1]))
        return text.startswith(part) if name == "startswith" else text.endswith(part)
    if name == "format":
        return _format(_to_string(args[0]), [_to_string(a) for a in args[1:]])
    if name == "join":
        if primitive[0]:
            return _to_string(args[0])
        if not isinstance(args[0], list):
            return ""
        separator = _to_string(args[1]) if len(args) > 1 and primitive[1] else ","
        return separator.join(_to_string(item) for item in args[0])
    if name == "tojson":
        return json.dumps(args[0], indent=2, ensure_ascii=False, default=_json_default)
    if name == "fromjson":
        text = _to_string(args[0])
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ExpressionError(f"fromJSON(): not JSON ({error}): {text[:200]!r}") from None
    if name == "hashfiles":
        if scope.workspace is None:
            raise HarnessError("hashFiles() needs a workspace")
        return _hash_files([_to_string(a) for a in args], scope.workspace)
    raise UnsupportedSyntax(f"function {name}() is not implemented")


def _json_default(value: Any) -> Any:
    raise HarnessError(f"toJSON(): cannot serialize {value!r}")


def _format(template: str, values: list[str]) -> str:
    """``format('{0} {{literal}}', x)``: ``{N}`` placeholders, doubled braces are literal braces."""
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c == "{" and template.startswith("{{", i):
            out.append("{")
            i += 2
        elif c == "}" and template.startswith("}}", i):
            out.append("}")
            i += 2
        elif c == "{":
            match = re.match(r"\{([0-9]+)\}", template[i:])
            if not match:
                raise ExpressionError(f"format(): invalid format string: {template!r}")
            index = int(match.group(1))
            if index >= len(values):
                raise ExpressionError(f"format(): {template!r} references more arguments than were supplied")
            out.append(values[index])
            i += match.end()
        elif c == "}":
            raise ExpressionError(f"format(): invalid format string (lone '}}'): {template!r}")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``@actions/glob`` syntax over workspace-relative paths: ``**`` any depth, ``*``/``?`` within
    a segment, ``[...]`` classes; dot files match like any file."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 1)) > i + 1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _hash_files(patterns: list[str], workspace: Path) -> str:
    """``hashFiles()``: SHA-256 over the SHA-256 of each matching file under the workspace, or ''
    when nothing matches (the runner's ``hashFiles.ts``). ``!pattern`` excludes; a pattern that
    matches a folder matches the files in it. Files are taken in sorted order; the runner takes
    them in directory-walk order, so the digest may differ from GitHub's (the '' / non-'' and
    "changes when the files change" behaviour is the same)."""
    root = workspace.resolve()
    rules: list[tuple[bool, re.Pattern[str]]] = []
    walk_roots: set[Path] = set()
    for raw in patterns:
        for line in raw.splitlines() or [raw]:
            pattern = line.strip()
            if not pattern or pattern.startswith("#"):
                continue
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!")
            prefix = str(root) + "/"
            if pattern.startswith(prefix):
                pattern = pattern[len(prefix):]
            pattern = pattern.lstrip("/")  # docs: hashFiles('/src/*.js') is "src at root level"
            if ".." in pattern.split("/"):
                raise UnsupportedSyntax(f"hashFiles(): '..' in {line!r}: only files inside GITHUB_WORKSPACE count")
            rules.append((negate, _glob_regex(pattern)))
            if not negate:  # walk only below the pattern's literal prefix
                literal = []
                for segment in pattern.split("/"):
                    if any(ch in segment for ch in "*?["):
                        break
                    literal.append(segment)
                walk_roots.add(root.joinpath(*literal))

    def matches(relative: str) -> bool:
        candidates = [relative] + ["/".join(relative.split("/")[:n]) for n in range(1, relative.count("/") + 1)]
        selected = False
        for negate, regex in rules:
            if any(regex.fullmatch(c) for c in candidates):
                selected = not negate
        return selected

    files: set[str] = set()
    for start in walk_roots:
        if start.is_file():
            candidates: Iterator[Path] = iter([start])
        else:
            candidates = (Path(d) / f for d, _, names in os.walk(start) for f in names)
        for path in candidates:
            relative = path.relative_to(root).as_posix()
            if path.is_file() and matches(relative):
                files.add(relative)
    if not files:
        return ""
    combined = hashlib.sha256()
    for relative in sorted(files):
        combined.update(hashlib.sha256((root / relative).read_bytes()).digest())
    return combined.hexdigest()


def evaluate_expression(source: str, contexts: Mapping[str, Any] | None = None, *, action_status: str = "success",
                        workspace: Path | None = None) -> Any:
    """Evaluate the inside of one ``${{ }}`` against plain context dicts (for tests of the rules).

    ``env`` is made case-sensitive as on Linux runners; status functions are allowed.
    """
    ctx = {k.lower(): v for k, v in (contexts or {}).items()}
    if "env" in ctx:
        ctx["env"] = CaseSensitiveDict(ctx["env"])
    node = parse_expression(source, contexts=frozenset(ALL_CONTEXTS | ctx.keys()), allow_status=True)
    return _evaluate(node, _Scope(ctx, action_status, workspace))


# ======================================================================================
# Templates: strings with ${{ }} in them
# ======================================================================================


@dataclass(frozen=True)
class Template:
    """A YAML string value split into literal text and parsed expressions."""

    source: str
    parts: tuple[Union[str, Node], ...]

    @property
    def is_single_expression(self) -> bool:
        return len(self.parts) == 1 and not isinstance(self.parts[0], str)


def _expression_end(text: str, start: int) -> int:
    """Index of the ``}}`` closing the expression that starts at ``start``, skipping quoted strings."""
    in_string = False
    i = start
    while i < len(text):
        if text[i] == "'":
            in_string = not in_string  # '' (an escaped quote) toggles twice
        elif not in_string and text.startswith("}}", i):
            return i
        i += 1
    return -1


def parse_template(
    text: str, where: str, *, contexts: frozenset[str] = ALL_CONTEXTS, allow_status: bool = False
) -> Template:
    parts: list[Union[str, Node]] = []
    i = 0
    while (start := text.find("${{", i)) >= 0:
        end = _expression_end(text, start + 3)
        if end < 0:
            raise HarnessError(f"{where}: '${{{{' without a closing '}}}}' in: {text}")
        if start > i:
            parts.append(text[i:start])
        parts.append(parse_expression(text[start + 3 : end].strip(), where, contexts=contexts,
                                      allow_status=allow_status))
        i = end + 2
    if i < len(text) or not parts:
        parts.append(text[i:])
    return Template(text, tuple(parts))


def _template_value(template: Template, scope: _Scope, where: str) -> Any:
    """A value that is exactly ``${{ expr }}`` keeps the expression's type; otherwise a string."""
    if template.is_single_expression:
        return _evaluate(template.parts[0], scope)  # type: ignore[arg-type]
    return _render(template, scope, where)


def _render(template: Template, scope: _Scope, where: str) -> str:
    out = []
    for part in template.parts:
        out.append(part if isinstance(part, str) else _to_string(_evaluate(part, scope), where))
    return "".join(out)


def _scalar_text(value: Any, where: str) -> str:
    """A YAML scalar in a string position, as the runner reads it (``3.10`` is the number 3.1)."""
    if isinstance(value, (list, dict)):
        raise UnsupportedSyntax(f"{where}: expected a string, got a YAML {type(value).__name__}")
    return _to_string(value, where)


# ======================================================================================
# action.yml: loading and validation
# ======================================================================================


@dataclass(frozen=True)
class InputSpec:
    name: str
    description: str
    required: bool
    default: Template | None
    deprecation_message: str | None


@dataclass(frozen=True)
class OutputSpec:
    name: str
    description: str
    value: Template


@dataclass(frozen=True)
class StepSpec:
    index: int  # 1-based position in runs.steps
    label: str  # for messages: "step 2 (id: build)"
    id: str | None
    name: Template | None
    condition: Node  # `if:`, with the implicit success() already added
    condition_source: str
    env: dict[str, Template]
    continue_on_error: bool | Template
    run: Template | None = None
    shell: str | None = None
    working_directory: Template | None = None
    uses: str | None = None
    with_: dict[str, Template] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionSpec:
    file: Path
    name: str
    description: str
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]
    steps: tuple[StepSpec, ...]

    @property
    def directory(self) -> Path:
        return self.file.parent


_ACTION_KEYS = {"name", "author", "description", "inputs", "outputs", "runs", "branding"}
_RUN_STEP_KEYS = {"id", "name", "if", "run", "shell", "env", "working-directory", "continue-on-error"}
_USES_STEP_KEYS = {"id", "name", "if", "uses", "with", "env", "continue-on-error"}
_SHELLS = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], "python": ["python", "{0}"]}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _find_action_file(path: Path) -> Path:
    if path.is_file():
        return path
    for name in ("action.yml", "action.yaml"):  # the runner tries action.yml first
        if (path / name).is_file():
            return path / name
    raise HarnessError(f"no action.yml or action.yaml in {path}")


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HarnessError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _reject_unknown(keys: Any, allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in keys if k not in allowed)
    if unknown:
        raise UnsupportedSyntax(
            f"{where}: unsupported key(s) {', '.join(unknown)} (supported: {', '.join(sorted(allowed))})")


def load_action(path: str | Path) -> ActionSpec:
    """Read and validate an ``action.yml`` (a file, or the folder holding it). Every expression is
    parsed now, so syntax errors and unsupported constructs fail before anything runs."""
    file = _find_action_file(Path(path))
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_CoreSchemaLoader)
    except yaml.YAMLError as error:
        raise HarnessError(f"{file}: invalid YAML: {error}") from None
    data = _mapping(data, str(file))
    _reject_unknown(data, _ACTION_KEYS, str(file))
    if "name" not in data:
        raise HarnessError(f"{file}: `name` is required")
    runs = _mapping(data.get("runs"), f"{file}: runs")
    using = runs.get("using")
    if using != "composite":
        raise UnsupportedSyntax(f"{file}: runs.using is {using!r}; this harness runs composite actions only")
    _reject_unknown(runs, {"using", "steps"}, f"{file}: runs")
    raw_steps = runs.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise HarnessError(f"{file}: runs.steps must be a non-empty list")

    inputs: dict[str, InputSpec] = {}
    for name, raw in _mapping(data.get("inputs"), f"{file}: inputs").items():
        where = f"{file}: inputs.{name}"
        raw = _mapping(raw, where)
        _reject_unknown(raw, {"description", "required", "default", "deprecationMessage"}, where)
        if not _IDENTIFIER.fullmatch(str(name)):
            raise HarnessError(f"{where}: invalid input id")
        if str(name).lower() in {n.lower() for n in inputs}:
            raise HarnessError(f"{where}: duplicate input (input names are case-insensitive)")
        required = raw.get("required", False)
        if not isinstance(required, bool):
            raise HarnessError(f"{where}.required: expected true or false, got {required!r}")
        default = raw.get("default")
        inputs[str(name)] = InputSpec(
            name=str(name),
            description=str(raw.get("description", "")),
            required=required,
            default=None if default is None else parse_template(
                _scalar_text(default, f"{where}.default"), f"{where}.default",
                contexts=frozenset({"github", "runner", "env", "job"})),
            deprecation_message=raw.get("deprecationMessage"),
        )

    outputs: dict[str, OutputSpec] = {}
    for name, raw in _mapping(data.get("outputs"), f"{file}: outputs").items():
        where = f"{file}: outputs.{name}"
        raw = _mapping(raw, where)
        _reject_unknown(raw, {"description", "value"}, where)
        if "value" not in raw:
            raise HarnessError(f"{where}: composite action outputs need a `value`")
        outputs[str(name)] = OutputSpec(str(name), str(raw.get("description", "")),
                                        parse_template(_scalar_text(raw["value"], f"{where}.value"), f"{where}.value"))

    steps = tuple(_load_step(file, i, raw) for i, raw in enumerate(raw_steps, start=1))
    ids = [s.id.lower() for s in steps if s.id]
    if len(ids) != len(set(ids)):
        raise HarnessError(f"{file}: a step id is used more than once: {ids}")
    return ActionSpec(file.resolve(), str(data["name"]), str(data.get("description", "")), inputs, outputs, steps)


def _load_step(file: Path, index: int, raw: Any) -> StepSpec:
    raw = _mapping(raw, f"{file}: runs.steps[{index}]")
    step_id = raw.get("id")
    label = f"step {index}" + (f" (id: {step_id})" if step_id else (f" ({raw['name']!r})" if raw.get("name") else ""))
    where = f"{file}: {label}"
    if ("run" in raw) == ("uses" in raw):
        raise HarnessError(f"{where}: a step needs exactly one of `run` or `uses`")
    _reject_unknown(raw, _RUN_STEP_KEYS if "run" in raw else _USES_STEP_KEYS, where)
    if step_id is not None and (not isinstance(step_id, str) or not _IDENTIFIER.fullmatch(step_id)):
        raise HarnessError(f"{where}: invalid step id {step_id!r}")
    for key in ("id", "shell", "uses"):
        if isinstance(raw.get(key), str) and "${{" in raw[key]:
            raise UnsupportedSyntax(f"{where}: expressions are not allowed in `{key}`")

    condition_source, condition = _load_condition(raw.get("if"), f"{where}: if")
    continue_on_error: bool | Template = False
    if "continue-on-error" in raw:
        value = raw["continue-on-error"]
        if isinstance(value, bool):
            continue_on_error = value
        elif isinstance(value, str) and "${{" in value:
            continue_on_error = parse_template(value, f"{where}: continue-on-error")
        else:
            raise HarnessError(f"{where}: continue-on-error must be true, false or an expression, got {value!r}")

    common = dict(
        index=index,
        label=label,
        id=step_id,
        name=parse_template(_scalar_text(raw["name"], f"{where}: name"), f"{where}: name") if "name" in raw else None,
        condition=condition,
        condition_source=condition_source,
        env={str(k): parse_template(_scalar_text(v, f"{where}: env.{k}"), f"{where}: env.{k}")
             for k, v in _mapping(raw.get("env"), f"{where}: env").items()},
        continue_on_error=continue_on_error,
    )
    if "run" in raw:
        shell = raw.get("shell")
        if shell is None:
            raise HarnessError(f"{where}: a composite `run` step must set `shell` (GitHub requires it)")
        if shell not in _SHELLS:
            raise UnsupportedSyntax(f"{where}: shell {shell!r} is not supported (supported: {', '.join(_SHELLS)})")
        working_directory = raw.get("working-directory")
        return StepSpec(
            **common,
            run=parse_template(_scalar_text(raw["run"], f"{where}: run"), f"{where}: run"),
            shell=shell,
            working_directory=None if working_directory is None else parse_template(
                _scalar_text(working_directory, f"{where}: working-directory"), f"{where}: working-directory"),
        )
    uses = raw["uses"]
    if not isinstance(uses, str):
        raise HarnessError(f"{where}: `uses` must be a string")
    if uses.startswith("docker://"):
        raise UnsupportedSyntax(f"{where}: docker actions ({uses}) are not supported")
    if uses.startswith("$/"):
        raise UnsupportedSyntax(f"{where}: the `$/` self-repository reference ({uses}) is not supported")
    if not uses.startswith("./") and not re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[\w./-]+", uses):
        raise HarnessError(f"{where}: `uses: {uses}` is neither ./local/path nor owner/repo[/path]@ref")
    return StepSpec(
        **common,
        uses=uses,
        with_={str(k): parse_template(_scalar_text(v, f"{where}: with.{k}"), f"{where}: with.{k}")
               for k, v in _mapping(raw.get("with"), f"{where}: with").items()},
    )


def _load_condition(raw: Any, where: str) -> tuple[str, Node]:
    """``if:`` is an expression with or without ``${{ }}``. Without a status function, GitHub
    evaluates ``success() && (<condition>)`` (docs: "Status check functions")."""
    if raw is None:
        return "", Call("success", ())
    text = _scalar_text(raw, where).strip()
    if text.startswith("${{"):
        end = _expression_end(text, 3)
        if end != len(text) - 2:
            raise UnsupportedSyntax(f"{where}: `{text}` mixes ${{{{ }}}} with other text; write the whole condition "
                                    "inside one ${{ }} (or none)")
        text = text[3:-2].strip()
    elif "${{" in text:
        raise UnsupportedSyntax(f"{where}: `{text}` mixes ${{{{ }}}} with other text")
    node = parse_expression(text, where, allow_status=True)
    if not _uses_status_function(node):
        node = Logical("&&", (Call("success", ()), Group(node)))
    return text, node


# ======================================================================================
# Environment files (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH) and workflow commands
# ======================================================================================


def _parse_environment_file(text: str, what: str) -> list[tuple[str, str]]:
    """``name=value`` lines and ``name<<DELIMITER`` ... ``DELIMITER`` heredocs, exactly as the
    runner's ``SetEnvFileCommand``: whichever of ``=`` and ``<<`` comes first decides; empty
    lines are skipped; a heredoc value excludes the newline before the delimiter line."""
    pairs: list[tuple[str, str]] = []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another one
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "":
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            name, value = line.split("=", 1)
            if not name:
                raise ValueError(f"Invalid {what} format '{line}': the name must not be empty")
            pairs.append((name, value))
        elif heredoc >= 0:
            name, delimiter = line.split("<<", 1)
            if not name or not delimiter:
                raise ValueError(f"Invalid {what} format '{line}': name and delimiter must not be empty")
            value_lines = []
            while True:
                if i >= len(lines):
                    raise ValueError(f"Invalid {what} value. Matching delimiter not found '{delimiter}'")
                if lines[i] == delimiter:
                    i += 1
                    break
                value_lines.append(lines[i])
                i += 1
            pairs.append((name, "\n".join(value_lines)))
        else:
            raise ValueError(f"Invalid {what} format '{line}'")
    return pairs


_DEPRECATED_COMMANDS = ("set-output", "set-env", "add-path", "save-state")


def _scan_workflow_commands(text: str, where: str) -> list[str]:
    """Collect ``::error``/``::warning``/``::notice`` annotations from a step's output; the
    disabled or deprecated stdout commands (``::set-output`` ...) fail loudly -- use the files."""
    annotations: list[str] = []
    stop_token: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stop_token is not None:
            if stripped == f"::{stop_token}::":
                stop_token = None
            continue
        match = re.match(r"::([A-Za-z-]+)(?: [^:]*)?::(.*)", stripped)
        if not match:
            continue
        command, message = match.group(1).lower(), match.group(2)
        if command in _DEPRECATED_COMMANDS:
            raise UnsupportedSyntax(f"{where}: the `::{command}::` workflow command is deprecated or disabled "
                                    "on GitHub; write to the environment files instead")
        if command == "stop-commands":
            stop_token = message
        elif command in ("error", "warning", "notice"):
            annotations.append(f"{command}: {message}")
    return annotations


# ======================================================================================
# Stand-ins for third-party actions
# ======================================================================================

StandIn = Callable[[dict[str, str], dict[str, str]], Union[Mapping[str, Any], None]]
"""``stand_in(with_, env) -> outputs``: ``with_`` is the step's evaluated inputs, ``env`` the
process environment the action would get (``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_PATH``,
``GITHUB_STEP_SUMMARY`` point at this step's fresh files -- write to them as a real action
would). Return a mapping of outputs (or None); raise :class:`StandInFailure` to fail the step."""


def _setup_python_stand_in(with_: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    return {"python-version": platform.python_version(), "python-path": sys.executable, "cache-hit": "false"}


def _cache_restore_stand_in(with_: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    return {"cache-hit": "false", "cache-primary-key": with_.get("key", ""), "cache-matched-key": ""}


DEFAULT_STAND_INS: dict[str, StandIn] = {
    # The repository is the workspace already: checking out is a no-op (no `ref`/`commit` outputs).
    "actions/checkout": lambda with_, env: {},
    # The host's Python stands in for any requested version; PATH is left alone.
    "actions/setup-python": _setup_python_stand_in,
    # Always a cache miss; nothing is restored or saved.
    "actions/cache": lambda with_, env: {"cache-hit": "false"},
    "actions/cache/restore": _cache_restore_stand_in,
    "actions/cache/save": lambda with_, env: {},
}
"""No-op stand-ins used unless the caller passes its own (or ``use_default_stand_ins=False``).
Keyed by ``owner/repo`` (or ``owner/repo/path``) without the ``@ref``; the ref is recorded in
:attr:`StepResult.uses` so tests can assert pinning."""


# ======================================================================================
# Results
# ======================================================================================


@dataclass
class StepResult:
    """One step of one composite action, as it ran (or was skipped)."""

    index: int
    label: str
    id: str | None
    name: str
    outcome: str = "skipped"  # success | failure | skipped -- before continue-on-error
    conclusion: str = "skipped"  # after continue-on-error
    outputs: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    script: str | None = None  # the run script after ${{ }} substitution
    uses: str | None = None  # e.g. "actions/setup-python@<sha>"
    with_: dict[str, str] | None = None
    env: dict[str, str] = field(default_factory=dict)  # the step's evaluated `env:` (env context additions)
    summary: str = ""  # what the step wrote to GITHUB_STEP_SUMMARY
    annotations: list[str] = field(default_factory=list)  # ::error/::warning/::notice
    errors: list[str] = field(default_factory=list)  # why the step failed, when not (only) its exit code
    nested: ActionResult | None = None  # for `uses: ./actions/x`


@dataclass
class ActionResult:
    """The outcome of :func:`run_action` (also of each nested ``uses: ./...`` step)."""

    action: ActionSpec
    inputs: dict[str, str]  # the resolved `inputs` context
    outputs: dict[str, str]  # the action's declared outputs, evaluated
    steps: dict[str, StepResult]  # steps with an `id`, by id
    step_results: list[StepResult]  # every step, in order
    summary: str  # GITHUB_STEP_SUMMARY contents of all steps (nested too), in order
    env: dict[str, str]  # the environment a following step of the caller would get
    github_env: dict[str, str]  # what steps exported through GITHUB_ENV (nested actions' too)
    github_path: list[str]  # directories prepended through GITHUB_PATH, first = searched first
    failed: bool
    errors: list[str]  # action-level errors (e.g. an output that failed to evaluate)
    warnings: list[str]  # deprecationMessage, lenient-input warnings

    def report(self) -> str:
        """A readable account of every step, for assertion messages: ``assert ..., result.report()``."""
        lines = [f"{self.action.file}: {'FAILED' if self.failed else 'succeeded'}"]
        lines += [f"  action error: {e}" for e in self.errors]
        lines += [f"  warning: {w}" for w in self.warnings]
        for step in self.step_results:
            lines.append(self._step_report(step, "  "))
        if self.outputs:
            lines.append(f"  outputs: {self.outputs}")
        return "\n".join(lines)

    def _step_report(self, step: StepResult, indent: str) -> str:
        head = f"{indent}{step.label} {step.name!r}: {step.outcome}"
        if step.conclusion != step.outcome:
            head += f" (conclusion {step.conclusion})"
        if step.exit_code is not None:
            head += f", exit code {step.exit_code}"
        lines = [head]
        lines += [f"{indent}  error: {e}" for e in step.errors]
        if step.outputs:
            lines.append(f"{indent}  outputs: {step.outputs}")
        for stream in ("stdout", "stderr"):
            text = getattr(step, stream).rstrip()
            if text and step.outcome == "failure":
                tail = text.splitlines()[-20:]
                lines.append(f"{indent}  {stream} (last {len(tail)} lines):")
                lines += [f"{indent}    | {t}" for t in tail]
        if step.nested is not None:
            lines += [step.nested._step_report(s, indent + "    ") for s in step.nested.step_results]
        return "\n".join(lines)


# ======================================================================================
# The runner
# ======================================================================================


def default_environment(github: Mapping[str, Any], workspace: str | Path, event_dir: str | Path) -> dict[str, str]:
    """The ``GITHUB_*`` default variables a runner derives from the ``github`` context
    (docs: "Default environment variables"), plus ``CI``/``GITHUB_ACTIONS``. Writes the event
    payload to ``event_dir/event.json`` for ``GITHUB_EVENT_PATH``. ``GITHUB_TOKEN`` is *not*
    among them: on GitHub it reaches an action only through an input or ``env:``."""
    env = {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace)}
    for key in ("action_repository", "actor", "actor_id", "api_url", "base_ref", "event_name", "graphql_url",
                "head_ref", "job", "ref", "ref_name", "ref_type", "repository", "repository_id",
                "repository_owner", "repository_owner_id", "run_attempt", "run_id", "run_number",
                "server_url", "sha", "triggering_actor", "workflow", "workflow_ref", "workflow_sha"):
        if github.get(key) is not None:
            env[f"GITHUB_{key.upper()}"] = _to_string(github[key])
    event_path = Path(event_dir) / "event.json"
    event_path.parent.mkdir(parents=True, exist_ok=True)
    event_path.write_text(json.dumps(github.get("event") or {}, indent=2))
    env["GITHUB_EVENT_PATH"] = str(event_path)
    return env


@dataclass
class _Job:
    """Job-wide state shared by the top-level action and every nested one."""

    workspace: Path
    base_env: dict[str, str]  # the runner process' environment (not in the env context)
    global_env: dict[str, str]  # the caller's `env` + GITHUB_ENV exports (in the env context)
    exported: dict[str, str]  # only what steps wrote to GITHUB_ENV
    prepend_path: list[str]  # GITHUB_PATH entries, most recent last (as the runner keeps them)
    github: dict[str, Any]
    runner: dict[str, Any]
    job: dict[str, Any]
    stand_ins: dict[str, StandIn]
    temp: Path
    step_timeout: float
    strict_inputs: bool
    summaries: list[str] = field(default_factory=list)

    def process_env(self, step_env: Mapping[str, str]) -> dict[str, str]:
        """Base environment < caller env and GITHUB_ENV < step env, PATH with GITHUB_PATH in front."""
        env = {**self.base_env, **self.global_env, **step_env}
        if self.prepend_path:
            env["PATH"] = os.pathsep.join([*reversed(self.prepend_path), *filter(None, [env.get("PATH")])])
        env["GITHUB_WORKSPACE"] = str(self.workspace)
        for key in ("os", "arch", "name", "temp", "tool_cache"):
            if self.runner.get(key) is not None:
                env[f"RUNNER_{key.upper()}"] = _to_string(self.runner[key])
        return env


def run_action(
    action: str | Path,
    inputs: Mapping[str, Any] | None = None,
    *,
    workspace: str | Path,
    github: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    runner: Mapping[str, Any] | None = None,
    job: Mapping[str, Any] | None = None,
    stand_ins: Mapping[str, StandIn] | None = None,
    use_default_stand_ins: bool = True,
    strict_inputs: bool = True,
    temp_dir: str | Path | None = None,
    step_timeout: float = 900.0,
) -> ActionResult:
    """Run a composite action as a workflow step ``uses: <action>`` / ``with: <inputs>`` would.

    * ``action``: a folder with ``action.yml``, the file itself, or ``"./actions/x"`` (resolved
      against ``workspace``, as GitHub resolves ``uses: ./...`` against the repository root).
    * ``inputs``: the ``with:`` values; non-strings are converted as YAML scalars are (``True`` ->
      ``"true"``). Names match the declared inputs case-insensitively (as on GitHub); the
      ``inputs`` context keeps the spelling of ``action.yml``. No ``INPUT_*`` variables are set
      (GitHub sets them only for JavaScript and Docker actions).
    * ``workspace``: ``GITHUB_WORKSPACE``, the default working directory, root of ``hashFiles``.
    * ``github``: the ``github`` context (``event_name``, ``event``, ``token``, ``repository``...).
      ``workspace``, ``action_path``, ``action_status``, ``action``, ``env`` and ``path`` are
      filled in by the harness.
    * ``env``: workflow/job-level ``env:`` -- in the ``env`` context *and* the process env.
    * ``base_env``: the runner process' own environment (default ``os.environ``): in the process
      env of steps but not in the ``env`` context, as on GitHub.
    * ``runner``/``job``: the ``runner`` context (defaults: this machine's os/arch, temp folders)
      and ``job`` context (default ``{"status": "success"}``, constant during the run).
    * ``stand_ins``: callables for third-party ``uses:`` (see :data:`StandIn`), over
      :data:`DEFAULT_STAND_INS` unless ``use_default_stand_ins=False``.
    * ``strict_inputs``: a missing required input or an undeclared input raises. GitHub only
      warns ("required: true will not automatically return an error"); ``False`` does the same
      (recorded in ``warnings``).
    * ``temp_dir``: where file-command files, scripts and the default ``runner.temp`` live; a
      private folder removed afterwards when not given.
    * ``step_timeout``: seconds before a step is killed and the harness raises.
    """
    workspace = Path(workspace).resolve()
    if not workspace.is_dir():
        raise HarnessError(f"workspace {workspace} is not a folder")
    github = dict(github or {})
    if github.get("workspace") not in (None, str(workspace)):
        raise HarnessError(f"github.workspace ({github['workspace']}) differs from workspace ({workspace})")
    github["workspace"] = str(workspace)
    own_temp = temp_dir is None
    temp = Path(tempfile.mkdtemp(prefix="action-harness-") if own_temp else temp_dir).resolve()
    runner_context = {
        "os": {"Linux": "Linux", "Darwin": "macOS", "Windows": "Windows"}.get(platform.system(), platform.system()),
        "arch": {"x86_64": "X64", "amd64": "X64", "aarch64": "ARM64", "arm64": "ARM64"}.get(
            platform.machine().lower(), platform.machine().upper()),
        "name": "action-harness",
        "temp": str(temp / "runner_temp"),
        "tool_cache": str(temp / "tool_cache"),
        **(runner or {}),
    }
    for key in ("temp", "tool_cache"):
        Path(runner_context[key]).mkdir(parents=True, exist_ok=True)
    state = _Job(
        workspace=workspace,
        base_env=dict(os.environ if base_env is None else base_env),
        global_env=dict(env or {}),
        exported={},
        prepend_path=[],
        github=github,
        runner=runner_context,
        job={"status": "success", **(job or {})},
        stand_ins={**(DEFAULT_STAND_INS if use_default_stand_ins else {}), **(stand_ins or {})},
        temp=temp,
        step_timeout=step_timeout,
        strict_inputs=strict_inputs,
    )
    path = workspace / action[2:] if isinstance(action, str) and action.startswith("./") else Path(action)
    try:
        spec = load_action(path)
        given = {str(k): _scalar_text(v, f"input {k}") for k, v in (inputs or {}).items()}
        return _run_composite(spec, given, {}, state, depth=1)
    finally:
        if own_temp:
            shutil.rmtree(temp, ignore_errors=True)


_MAX_NESTING = 10  # GitHub allows composite actions nested 10 deep


def _run_composite(spec: ActionSpec, given: dict[str, str], outer_env: dict[str, str], job: _Job,
                   depth: int) -> ActionResult:
    """Run the steps of one composite action: its own ``inputs`` and ``steps`` scope, its own
    ``github.action_path``, success()/failure() about its own steps (``github.action_status``)."""
    if depth > _MAX_NESTING:
        raise HarnessError(f"{spec.file}: composite actions nested deeper than {_MAX_NESTING} levels")
    warnings: list[str] = []
    github = {**job.github, "action_path": str(spec.directory), "action_status": "success"}
    defaults_scope = _Scope({"github": github, "runner": job.runner, "job": job.job,
                             "env": CaseSensitiveDict({**job.global_env, **outer_env})},
                            workspace=job.workspace)
    inputs = _resolve_inputs(spec, given, defaults_scope, job, warnings)

    steps_context: dict[str, Any] = {}
    results: list[StepResult] = []
    summaries_before = len(job.summaries)
    for step in spec.steps:
        result = _run_step(spec, step, inputs, steps_context, github, outer_env, job, depth)
        results.append(result)
        if result.conclusion == "failure":
            github["action_status"] = "failure"
        if step.id:
            steps_context[step.id] = {"outputs": dict(result.outputs), "outcome": result.outcome,
                                      "conclusion": result.conclusion}

    errors: list[str] = []
    outputs: dict[str, str] = {}
    env_context = CaseSensitiveDict({**job.global_env, **outer_env})  # with what the steps exported
    scope = _Scope({"github": github, "inputs": inputs, "steps": steps_context, "runner": job.runner,
                    "env": env_context, "job": job.job}, github["action_status"], job.workspace)
    for name, output in spec.outputs.items():
        where = f"{spec.file}: outputs.{name}.value"
        try:
            outputs[name] = _render(output.value, scope, where)
        except ExpressionError as error:  # the runner fails the action when an output cannot be evaluated
            errors.append(f"{where}: {error}")
            outputs[name] = ""
    return ActionResult(
        action=spec,
        inputs=inputs,
        outputs=outputs,
        steps={r.id: r for r in results if r.id},
        step_results=results,
        summary="".join(job.summaries[summaries_before:]),
        env=job.process_env({}),
        github_env=dict(job.exported),
        github_path=list(reversed(job.prepend_path)),
        failed=github["action_status"] == "failure" or bool(errors),
        errors=errors,
        warnings=warnings,
    )


def _resolve_inputs(spec: ActionSpec, given: dict[str, str], scope: _Scope, job: _Job,
                    warnings: list[str]) -> dict[str, str]:
    declared = {name.lower(): name for name in spec.inputs}
    values: dict[str, str] = {}
    unexpected = []
    for key, value in given.items():
        name = declared.get(key.lower())
        if name is None:
            unexpected.append(key)
            continue
        values[name] = value
        if spec.inputs[name].deprecation_message:
            warnings.append(f"Input '{name}' has been deprecated with message: {spec.inputs[name].deprecation_message}")
    if unexpected:
        message = (f"{spec.file}: unexpected input(s) {', '.join(map(repr, unexpected))}, "
                   f"valid inputs are {sorted(spec.inputs)}")
        if job.strict_inputs:
            raise HarnessError(message + " (GitHub only warns; strict_inputs=False does the same)")
        warnings.append(message)
    missing = []
    for name, declaration in spec.inputs.items():
        if name in values:
            continue
        if declaration.default is not None:
            try:
                values[name] = _render(declaration.default, scope, f"{spec.file}: inputs.{name}.default")
            except ExpressionError as error:
                raise HarnessError(f"{spec.file}: inputs.{name}.default: {error}") from None
        elif declaration.required:
            missing.append(name)
    if missing:
        message = f"{spec.file}: input(s) required and not supplied: {', '.join(missing)}"
        if job.strict_inputs:
            raise HarnessError(message + " (GitHub does not fail on this by itself -- docs: `required: true` "
                               "will not automatically return an error; strict_inputs=False evaluates them as '')")
        warnings.append(message)
    return values


def _run_step(spec: ActionSpec, step: StepSpec, inputs: dict[str, str], steps_context: dict[str, Any],
              github: dict[str, Any], outer_env: dict[str, str], job: _Job, depth: int) -> StepResult:
    where = f"{spec.file}: {step.label}"
    files = _StepFiles.create(job.temp)
    action_name = step.id or ("__run" if step.run is not None else "__" + re.sub(r"\W", "", step.uses.split("@")[0]))
    step_github = {**github, "action": action_name, "env": str(files.env), "path": str(files.path)}
    env_context = CaseSensitiveDict({**job.global_env, **outer_env})
    scope = _Scope({"github": step_github, "inputs": inputs, "steps": steps_context, "runner": job.runner,
                    "env": env_context, "job": job.job}, github["action_status"], job.workspace)
    result = StepResult(step.index, step.label, step.id, _display_name(step, scope))

    # The step's env is evaluated first (the condition can read it); an error fails the step.
    try:
        for key, template in step.env.items():
            env_context[key] = result.env[key] = _render(template, scope, f"{where}: env.{key}")
        run_it = _truthy(_evaluate(step.condition, scope))
    except ExpressionError as error:
        result.errors.append(str(error))
        return _conclude(step, result, False, scope, where)
    if not run_it:
        return result  # skipped

    step_env = {**outer_env, **result.env}
    process_env = job.process_env(step_env)
    process_env.update(files.variables())
    process_env["GITHUB_ACTION"] = action_name
    try:
        if step.run is not None:
            ok = _run_script(step, scope, process_env, job, result, where)
        elif step.uses.startswith("./"):
            ok = _run_local_action(step, scope, step_env, job, result, where, depth)
        else:
            ok = _run_stand_in(step, scope, process_env, job, result, where)
    except ExpressionError as error:
        ok = False
        result.errors.append(str(error))
    ok = _process_files(files, job, result, where) and ok
    return _conclude(step, result, ok, scope, where)


def _conclude(step: StepSpec, result: StepResult, ok: bool, scope: _Scope, where: str) -> StepResult:
    """``outcome`` is the result; ``conclusion`` is the result after continue-on-error."""
    result.outcome = result.conclusion = "success" if ok else "failure"
    if not ok and _continue_on_error(step, scope, where):
        result.conclusion = "success"
    return result


def _display_name(step: StepSpec, scope: _Scope) -> str:
    if step.name is not None:
        try:
            return _render(step.name, scope, "name")
        except HarnessError:
            return step.name.source
    if step.uses:
        return f"Run {step.uses}"
    first_line = step.run.source.strip().splitlines()[0] if step.run and step.run.source.strip() else ""
    return f"Run {first_line}"


def _continue_on_error(step: StepSpec, scope: _Scope, where: str) -> bool:
    if isinstance(step.continue_on_error, bool):
        return step.continue_on_error
    value = _template_value(step.continue_on_error, scope, f"{where}: continue-on-error")
    if not isinstance(value, bool):
        raise HarnessError(f"{where}: continue-on-error evaluated to {value!r}; GitHub expects a boolean "
                           "(use fromJSON() to turn a string into one)")
    return value


@dataclass(frozen=True)
class _StepFiles:
    """The fresh per-step files the runner creates (docs: "Environment files")."""

    output: Path
    env: Path
    path: Path
    summary: Path
    state: Path

    @classmethod
    def create(cls, temp: Path) -> "_StepFiles":
        folder = temp / "_runner_file_commands"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = uuid.uuid4().hex
        files = cls(*(folder / f"{prefix}_{suffix}" for prefix in
                      ("set_output", "set_env", "add_path", "step_summary", "save_state")))
        for file in (files.output, files.env, files.path, files.summary, files.state):
            file.touch()
        return files

    def variables(self) -> dict[str, str]:
        return {"GITHUB_OUTPUT": str(self.output), "GITHUB_ENV": str(self.env), "GITHUB_PATH": str(self.path),
                "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_STATE": str(self.state)}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _process_files(files: _StepFiles, job: _Job, result: StepResult, where: str) -> bool:
    """After the step (even a failed one), apply what it wrote. A malformed file fails the step,
    as the runner's "Unable to process file command" does."""
    ok = True
    for what, file in (("output", files.output), ("env", files.env)):
        try:
            pairs = _parse_environment_file(_read(file), what)
        except ValueError as error:
            result.errors.append(f"Unable to process file command '{what}' successfully: {error}")
            ok = False
            continue
        for name, value in pairs:
            if what == "output":
                result.outputs[name] = value
            else:
                job.global_env[name] = job.exported[name] = value
    for line in _read(files.path).split("\n"):
        line = line.rstrip("\r")
        if line:
            if line in job.prepend_path:
                job.prepend_path.remove(line)
            job.prepend_path.append(line)
    summary = _read(files.summary)
    if summary:
        result.summary = summary
        job.summaries.append(summary)
    if _read(files.state).strip():
        raise UnsupportedSyntax(f"{where}: wrote to GITHUB_STATE (pre/post state), which this harness does not support")
    return ok


def _run_script(step: StepSpec, scope: _Scope, env: dict[str, str], job: _Job, result: StepResult,
                where: str) -> bool:
    """Write the script to a temp file and run it the way GitHub does for the shell keyword."""
    script = _render(step.run, scope, f"{where}: run")
    result.script = script
    cwd = job.workspace
    if step.working_directory is not None:
        cwd = job.workspace / _render(step.working_directory, scope, f"{where}: working-directory")
    if not cwd.is_dir():
        result.errors.append(f"working-directory {cwd} does not exist")
        return False
    scripts = job.temp / "scripts"
    scripts.mkdir(exist_ok=True)
    script_file = scripts / f"{uuid.uuid4().hex}{'.py' if step.shell == 'python' else '.sh'}"
    script_file.write_text(script, encoding="utf-8")
    template = _SHELLS[step.shell]
    program = shutil.which(template[0], path=env.get("PATH"))
    if program is None:
        raise HarnessError(f"{where}: `{template[0]}` is not on the step's PATH (GitHub runs "
                           f"`{' '.join(template)}`)")
    argv = [program, *(str(script_file) if part == "{0}" else part for part in template[1:])]
    env = {**env, "GITHUB_ACTION_PATH": str(scope.contexts["github"]["action_path"])}
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                               start_new_session=True)  # its own process group, so a timeout kills it all
    try:
        result.stdout, result.stderr = process.communicate(timeout=job.step_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise HarnessError(f"{where}: still running after {job.step_timeout} s; killed") from None
    result.exit_code = process.returncode
    result.annotations = _scan_workflow_commands(result.stdout + "\n" + result.stderr, where)
    if process.returncode != 0:
        result.errors.append(f"Process completed with exit code {process.returncode}.")
    return process.returncode == 0


def _run_local_action(step: StepSpec, scope: _Scope, step_env: dict[str, str], job: _Job, result: StepResult,
                      where: str, depth: int) -> bool:
    """``uses: ./path``: resolved against the workspace (the repository root), never the action."""
    result.uses = step.uses
    result.with_ = {k: _render(t, scope, f"{where}: with.{k}") for k, t in step.with_.items()}
    nested_spec = load_action(job.workspace / step.uses[2:])
    nested = _run_composite(nested_spec, result.with_, step_env, job, depth + 1)
    result.nested = nested
    result.outputs.update(nested.outputs)
    result.errors += nested.errors
    return not nested.failed


def _run_stand_in(step: StepSpec, scope: _Scope, env: dict[str, str], job: _Job, result: StepResult,
                  where: str) -> bool:
    """``uses: owner/repo@ref``: call the caller's stand-in; without one, fail loudly."""
    result.uses = step.uses
    result.with_ = {k: _render(t, scope, f"{where}: with.{k}") for k, t in step.with_.items()}
    action_name = step.uses.split("@", 1)[0]
    stand_in = job.stand_ins.get(action_name)
    if stand_in is None:
        raise HarnessError(f"{where}: no stand-in for third-party action `{step.uses}`; pass "
                           f"stand_ins={{'{action_name}': lambda with_, env: {{...outputs}}}}")
    try:
        outputs = stand_in(dict(result.with_), dict(env))
    except StandInFailure as failure:
        result.errors.append(f"{action_name} (stand-in) failed: {failure}")
        return False
    for name, value in (outputs or {}).items():
        result.outputs[str(name)] = _scalar_text(value, f"{where}: stand-in output {name}")
    return True
