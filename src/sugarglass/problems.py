"""A work file's problems in plain words: the key that holds each one, the value as the artist
wrote it, and what to write instead. pydantic and tomllib say what a parser expected
("Input should be a valid date", "Expected newline"); an artist needs "granted_at = 2026-13-01
is not a day of the calendar: write it as YYYY-MM-DD"."""

from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

SLUG = r"^[a-z0-9][a-z0-9_-]*$"  # a name: of a work, a source; told apart in messages

_TOML_AT = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+)\s*=\s*(.*?)\s*(?:#.*)?$")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}(?:[-/.]\d{1,4})?$"  # 2026-9-1, 2026/09/01, 1.9.2026
                        r"|^\d{1,2}\s+[A-Za-z]+\.?\s+\d{4}$|^[A-Za-z]+\.?\s+\d{1,2},?\s+\d{4}$")  # 1 Sept 2026, Sept 1, 2026


def toml_problem(message: str, text: str) -> str:
    """TOML's complaint in words that say what to write: tomllib reads ``granted_at = 2026-9-1``
    as the number 2026 followed by junk, and says only that a newline was expected."""
    found = _TOML_AT.match(message)
    if not found:
        return f"not valid TOML: {message}"
    what, number = found.group(1), int(found.group(2))
    lines = text.splitlines()
    line = lines[number - 1] if 0 < number <= len(lines) else ""
    where = f"not valid TOML at line {number}"
    assignment = _ASSIGNMENT.match(line)
    if assignment:
        key, value = assignment.group(1), assignment.group(2)
        if _DATE_LIKE.match(value):
            return f"{where}: {key} = {value} {date_problem(value)}: write it as YYYY-MM-DD, e.g. {key} = 2026-09-01"
        if re.match(r"^[A-Za-z][\w -]*$", value) and value not in ("true", "false", "inf", "nan"):
            return f'{where}: {key} = {value}: text must be in quotes, e.g. {key} = "{value}"'
    return f"{where}, column {found.group(3)}: {what[:1].lower() + what[1:]}" + (f": {line.strip()}" if line.strip() else "")


def date_problem(value: str) -> str:
    """Why a date the artist wrote is not one: not in the calendar, or not in the form."""
    form = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
    if form:
        try:
            date(*map(int, form.groups()))
        except ValueError as exc:
            return f"is not a day of the calendar ({exc})"
    return "is not a date"


def plain_problems(errors: list, raw: dict, model: type[BaseModel] | None = None) -> list[str]:
    """Every error of a validation in plain words. A key whose type is a union (``growback``:
    an expression or a table) gets one error from each branch, named by the branch; they are
    told as one, about the key the artist wrote: a table was wrong inside (what the table's
    branch says), or a value was none of the things it may be."""
    marked = []
    for error in errors:
        loc = tuple(error["loc"])
        branch = _is_branch(error, loc, raw)
        marked.append({**error, "loc": loc[:-1] if branch else loc, "branch": branch})
    grouped: dict[tuple, list] = {}
    for error in marked:
        told_inside = any(len(other["loc"]) > len(error["loc"]) and other["loc"][: len(error["loc"])] == error["loc"]
                          for other in marked)
        if not (error["branch"] and isinstance(_raw_at(raw, error["loc"]), dict) and told_inside):
            grouped.setdefault(error["loc"], []).append(error)
    problems: list[str] = []
    for loc, group in grouped.items():
        branches = [error for error in group if error["branch"]]
        if len(branches) < 2:
            problems += [describe(error, raw, model) for error in group]
        else:
            key, leaf = _key_name(loc, raw), next((str(item) for item in reversed(loc) if isinstance(item, str)), "value")
            wanted = list(dict.fromkeys(_wanted(error) for error in branches))
            words = f"neither {wanted[0]} nor {wanted[1]}" if len(wanted) == 2 else "not " + " or ".join(wanted)
            problems.append(f"{key}: {leaf} = {_toml(branches[0].get('input'))} is {words}")
            problems += [describe(error, raw, model) for error in group if not error["branch"]]
    return list(dict.fromkeys(problems))


def _is_branch(error: Any, loc: tuple, raw: dict) -> bool:
    """Whether the last item of an error's location names a union's branch (``str``,
    ``function-after[...]``), not a key: the value there is not a table holding such a key."""
    if not loc or not isinstance(loc[-1], str) or error["type"] in ("missing", "extra_forbidden"):
        return False
    node = _raw_at(raw, loc[:-1])
    return not (isinstance(node, dict) and loc[-1] in node)


def _raw_at(raw: dict, loc: tuple) -> Any:
    """What the artist wrote at ``loc``, passing over the branch names pydantic puts in it."""
    node: Any = raw
    for item in loc:
        if isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
        elif isinstance(node, dict) and item in node:
            node = node[item]
        elif not isinstance(node, dict) or isinstance(item, int):
            return None
    return node


def _wanted(error: Any) -> str:
    """What one branch of a union wanted, in a word or two."""
    kind = error["type"]
    words = {"string_type": "text in quotes", "int_type": "a whole number", "int_parsing": "a whole number",
             "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
             "bool_parsing": "true or false", "model_type": "a table", "model_attributes_type": "a table",
             "dict_type": "a table", "list_type": "a list", "path_type": "a path in quotes"}
    if kind in words:
        return words[kind]
    if kind == "literal_error":
        return "one of " + ", ".join(_quoted((error.get("ctx") or {}).get("expected", "")))
    if kind.startswith("date"):
        return "a date"
    return error["msg"].removeprefix("Value error, ")


def describe(error: Any, raw: dict, model: type[BaseModel] | None = None) -> str:
    """One pydantic error in plain words: '<key>: <what was written> <what is wrong>: <what to
    write>'. Items of a list are named by their id, or by position and kind (``sources[river]``,
    ``garden.passes[0:jpeg]``); ``model`` (the file's schema) lets a missing or unknown key be
    told what is expected there, or what was probably meant."""
    loc = tuple(error["loc"])
    key = _key_name(loc, raw)
    words = _plain(error, loc, model)
    return f"{key}: {words}" if key else words


def _plain(error: Any, loc: tuple, model: type[BaseModel] | None) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    leaf = next((str(item) for item in reversed(loc) if isinstance(item, str)), "value")
    given = f"{leaf} = {_toml(value)}"
    if kind == "missing":
        if loc and loc[-1] == "consent":
            return "is missing (nothing enters without a consent record)"
        expected = _expected(_annotation_at(model, loc), leaf) if model else None
        return "is missing" + (f": {leaf} needs {expected}" if expected else "")
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1]) if model else []
        guess = _closest(str(loc[-1]), known)
        if guess:
            return f"is not a known key (did you mean {guess!r}?)"
        return "is not a known key" + (f" (known here: {', '.join(known)})" if 0 < len(known) <= 12 else "")
    if kind == "union_tag_invalid":
        tags = _quoted(ctx.get("expected_tags", ""))
        guess = _closest(str(ctx.get("tag")), tags)
        return (f"kind = {_toml(ctx.get('tag'))} is not a kind Sugarglass knows; kind must be one of: {', '.join(tags)}"
                + (f" (did you mean {guess!r}?)" if guess else ""))
    if kind == "union_tag_not_found":
        name = str(ctx.get("discriminator", "'kind'")).strip("'")
        tags = _tags(_annotation_at(model, loc), name) if model else []
        return f"needs a {name!r}" + (f": {name} = one of {', '.join(tags)}" if tags else "")
    if kind in ("literal_error", "enum"):
        options = _quoted(ctx.get("expected", ""))
        guess = _closest(str(value), options)
        return f"{given} is not one of: {', '.join(options)}" + (f" (did you mean {guess!r}?)" if guess else "")
    if kind.startswith("date") and not kind.startswith("datetime"):
        if kind == "date_from_datetime_inexact" and not isinstance(value, int | float):
            return f"{given} has a time of day; a date alone is wanted: write it as YYYY-MM-DD, e.g. {leaf} = 2026-09-01"
        problem = date_problem(value) if isinstance(value, str) else "is not a date"
        return f"{given} {problem}: write it as YYYY-MM-DD without quotes, e.g. {leaf} = 2026-09-01"
    if kind.startswith("datetime"):
        return f"{given} is not a date and time: write it as YYYY-MM-DDTHH:MM:SSZ, e.g. {leaf} = 2026-09-01T18:00:00Z"
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        quoted = isinstance(value, str) and value.strip().lstrip("-").isdigit()
        return f"{given} is not a whole number" + (": write it without quotes" if quoted else "")
    if kind in ("float_type", "float_parsing"):
        return f"{given} is not a number" + (": write it without quotes" if isinstance(value, str) and _is_number(value) else "")
    if kind in ("bool_type", "bool_parsing"):
        return f"{given} is not true or false: write {leaf} = true or {leaf} = false, without quotes"
    if kind == "string_type":
        return f"{given} is not text: put it in quotes, e.g. {leaf} = \"...\""
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return f"{given} must not be empty" if least == 1 else f"{given} is too short: at least {least} characters"
    if kind == "string_too_long":
        return f"{given} is too long: at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == SLUG:
            suggestion = re.sub(r"[^a-z0-9_-]+", "-", str(value).lower()).strip("-_") or "my-source"
            return (f"{given} is not a usable name: use lowercase letters, digits, '-' and '_', starting with a "
                    f"letter or digit, e.g. {leaf} = {suggestion!r}")
        return f"{given} does not have the expected form ({ctx.get('pattern')})"
    bounds = {"greater_than": ("too small", "more than", "gt"), "greater_than_equal": ("too small", "at least", "ge"),
              "less_than": ("too large", "less than", "lt"), "less_than_equal": ("too large", "at most", "le")}
    if kind in bounds:
        size, words, name = bounds[kind]
        limit = ctx.get(name)
        return f"{given} is {size}: it must be {words} {int(limit) if isinstance(limit, float) and limit.is_integer() else limit}"
    if kind == "too_short":
        least = ctx.get("min_length")
        return f"needs at least {least} {'entry' if least == 1 else 'entries'}, has {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} entries, at most {ctx.get('max_length')} are allowed"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"{given} is not a list: write it as {leaf} = [..., ...]"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{given} is not a table: write it as a [{leaf}] table with its keys below it"
    if kind == "path_type":
        return f"{given} is not a path: write it as text in quotes, relative to the work file"
    if kind == "finite_number":
        return f"{given} must be a finite number"
    return error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _toml(value: Any) -> str:
    """A value as the artist wrote it in TOML (near enough), cut short if long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = "[" + ", ".join(_toml(item) for item in value) + "]"
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quoted(expected: str) -> list[str]:
    """The options pydantic lists as ``'a', 'b' or 'c'``."""
    return re.findall(r"'([^']*)'", expected) or [expected]


def _closest(word: str, options: list[str]) -> str | None:
    by_case = {option.lower(): option for option in options}
    if word.lower() in by_case:
        return by_case[word.lower()]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType) and len(kept := [a for a in get_args(annotation) if a is not type(None)]) == 1:
            annotation = kept[0]
        else:
            return annotation


def _annotation_at(model: Any, loc: tuple) -> Any:
    """The type the schema expects at ``loc`` (None where it cannot be followed): fields of
    models, items of lists, values of tables, and a union's branch named by its tag."""
    annotation = model
    for item in loc:
        annotation = _unwrap(annotation)
        origin = get_origin(annotation)
        if isinstance(item, int):
            annotation = get_args(annotation)[0] if origin in (list, tuple, set) and get_args(annotation) else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(item)
            annotation = field.annotation if field else None
        elif origin is dict:
            annotation = get_args(annotation)[1]
        elif origin in (Union, UnionType):
            annotation = next((branch for branch in get_args(annotation) if _tagged(branch, item)), None)
        else:
            annotation = None
        if annotation is None:
            return None
    return annotation


def _tagged(branch: Any, tag: str) -> bool:
    """Whether a union's branch is the one pydantic names ``tag`` in an error's location."""
    if not (isinstance(branch, type) and issubclass(branch, BaseModel)):
        return False
    return re.search(rf"\b{branch.__name__}\b", tag) is not None or any(
        get_origin(field.annotation) is Literal and tag in get_args(field.annotation) for field in branch.model_fields.values())


def _tags(annotation: Any, name: str) -> list[str]:
    """The values a discriminated union's ``name`` may take, branch by branch."""
    tags: list[str] = []
    for branch in get_args(_unwrap(annotation)):
        field = branch.model_fields.get(name) if isinstance(branch, type) and issubclass(branch, BaseModel) else None
        if field is not None and get_origin(field.annotation) is Literal:
            tags += [str(tag) for tag in get_args(field.annotation)]
    return tags


def _known_keys(model: Any, loc: tuple) -> list[str]:
    table = _unwrap(_annotation_at(model, loc))
    return list(table.model_fields) if isinstance(table, type) and issubclass(table, BaseModel) else []


def _expected(annotation: Any, leaf: str) -> str | None:
    """What a missing key needs, with an example line to write where one helps."""
    field = annotation
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        options = get_args(annotation)
        return f"one of {', '.join(map(repr, options))}, e.g. {leaf} = {_toml(options[0])}"
    if origin in (list, tuple, set):
        return f"a list, e.g. {leaf} = [..., ...]"
    examples = {date: ("a date", "2026-09-01"), bool: ("true or false", "true"), int: ("a whole number", None),
                float: ("a number", None), str: ("text in quotes", '"..."'),
                Path: ("a path in quotes, relative to the work file", '"data/posts.csv"')}
    if annotation in examples:
        what, example = examples[annotation]
        return f"{what}, e.g. {leaf} = {example}" if example else what
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a [{leaf}] table" if field is not None else None
    return None


def _key_name(loc: tuple, raw: dict) -> str:
    parts: list[str] = []
    node: Any = raw
    for position, item in enumerate(loc):
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                entry = node[item]
                label = str(entry["id"]) if "id" in entry else f"{item}:{entry['kind']}" if "kind" in entry else label
            parts[-1:] = [f"{parts[-1]}[{label}]"] if parts else [f"[{label}]"]
            node = node[item] if isinstance(node, list) and item < len(node) else None
        elif isinstance(node, dict) and item not in node and position < len(loc) - 1:
            continue  # a discriminated union's branch name, not a key the artist wrote
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)
