"""The points of a sweep: a grid of `--set NAME=V1,V2,...` lists, or a listed set read from a
JSON / JSONL file, each with an id that names its folder and a location for messages."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from seqnet.errors import UserError


class PointsError(UserError):
    """A --set list or a points file that cannot be read as points (a usage mistake)."""


@dataclass(frozen=True)
class Point:
    """One setting of the swept names: NAME -> the text `--set NAME=TEXT` would give."""

    settings: dict[str, str] = field(default_factory=dict)
    where: str = "--set"  # where it was written, for messages: "--set" or "points.jsonl:3:1"

    @property
    def id(self) -> str:
        return point_id(self.settings)


_SAFE_VALUE = re.compile(r"[A-Za-z0-9.+-]+")


def point_id(settings: dict[str, str]) -> str:
    """A folder name for a point: `lr=0.001_N=8` (names in the order given). When a value holds
    a character outside [A-Za-z0-9.+-] (so `_` and `=` only ever separate), or the id would be
    long, those characters become '-' and a short hash of the exact settings is appended, so
    two points never share a folder."""
    if not settings:
        return "default"
    text = "_".join(f"{k}={v}" for k, v in settings.items())
    safe = all(_SAFE_VALUE.fullmatch(v) for v in settings.values()) and len(text) <= 80
    if safe:
        return text
    cleaned = "_".join(f"{k}={re.sub(r'[^A-Za-z0-9.+-]', '-', v)}" for k, v in settings.items())
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return f"{cleaned[:60]}-{digest}"


def split_values(text: str) -> list[str]:
    """`1e-3,3e-4` -> ['1e-3', '3e-4']; a comma inside quotes ('a,b') stays in its value."""
    values, current, quote = [], "", None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ",":
            values.append(current.strip())
            current = ""
            continue
        current += ch
    values.append(current.strip())
    return values


def grid(sets: list[str] | None) -> list[Point]:
    """Every combination of the --set lists, the first name varying slowest."""
    names, lists = [], []
    for item in sets or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise PointsError(f"--set expects NAME=VALUE or NAME=V1,V2,..., got {item!r}")
        if name in names:
            raise PointsError(f"--set {name} is given twice: give its values as one list, "
                              f"--set {name}=V1,V2,...")  # fmt: skip
        values = split_values(text)
        if any(not v for v in values):
            raise PointsError(f"--set {item}: an empty value in the list (two commas, or one at an end)")
        if len(set(values)) != len(values):
            raise PointsError(f"--set {item}: a value is listed twice")
        names.append(name)
        lists.append(values)
    return [Point(dict(zip(names, combo, strict=True))) for combo in itertools.product(*lists)]


def read_points(path: str | Path) -> list[Point]:
    """A listed set of points: a JSON list of objects, or JSONL (one object a line), each
    object NAME -> a number, a string or a boolean. Errors name file:line:col."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PointsError(f"cannot read the points file {path}: {getattr(e, 'strerror', None) or e}") from None
    objects = list(_decode_all(text, path))
    if not objects:
        raise PointsError(f"{path}: no points in it (a JSON list of objects, or one object a line)")
    points = []
    for obj, where in objects:
        if not isinstance(obj, dict):
            raise PointsError(f"{where}: a point is an object of settings, like {{\"lr\": 0.001}}, "
                              f"got {type(obj).__name__}")  # fmt: skip
        settings = {}
        for name, value in obj.items():
            if not name.isidentifier():
                raise PointsError(f"{where}: {name!r} is not a setting name")
            settings[name] = _as_text(value, name, where)
        points.append(Point(settings, where))
    seen: dict[str, str] = {}
    for p in points:
        if p.id in seen:
            raise PointsError(f"{p.where}: the point {p.id} is listed more than once (first at {seen[p.id]})")
        seen[p.id] = p.where
    return points


def _as_text(value, name: str, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise PointsError(f"{where}: {name} must be a number, a string or true/false, got {json.dumps(value)}")


def _decode_all(text: str, path: Path):
    """(object, "file:line:col") for each point in the file, JSON list or JSONL."""
    decoder = json.JSONDecoder()
    body = text.lstrip()
    pos = len(text) - len(body)
    as_list = body.startswith("[")
    if as_list:
        pos += 1
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            if as_list:
                raise PointsError(f"{_where(path, text, pos)}: the list is not closed with ']'")
            return
        if as_list and text[pos] == "]":
            if _skip_space(text, pos + 1) < len(text):
                raise PointsError(f"{_where(path, text, pos + 1)}: text after the list's closing ']'")
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise PointsError(f"{_where(path, text, e.pos)}: not JSON: {e.msg}") from None
        yield obj, _where(path, text, pos)
        pos = _skip_space(text, end)
        if as_list and pos < len(text) and text[pos] == ",":
            pos += 1
        elif as_list and pos >= len(text):
            raise PointsError(f"{_where(path, text, pos)}: the list is not closed with ']'")
        elif as_list and text[pos] != "]":
            raise PointsError(f"{_where(path, text, pos)}: expected ',' or ']' after a point")
        elif not as_list and pos < len(text) and text.count("\n", end, pos) == 0:
            raise PointsError(f"{_where(path, text, pos)}: one point a line in a JSONL file")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _where(path: Path, text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{path}:{line}:{col}"
