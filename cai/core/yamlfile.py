"""Load YAML with line numbers, and turn pydantic errors into `file:line:col` messages.

PyYAML's `safe_load` forgets where values came from; pydantic reports paths like
`rules.2.severity`. Users need the YAML line. We compose the node graph once (PyYAML keeps marks
on nodes), convert it to plain data, and keep a map from each path to its line/column. No
well-kept library maps pydantic locations back to YAML marks, hence this small module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

try:
    from yaml.cyaml import CParser
except ImportError:  # PyYAML without libyaml: the pure-Python parser only
    CParser = None

from cai.core.errors import ErrorItem, UserError

MAX_YAML_BYTES = 2 * 1024 * 1024  # constitutions and configs are small; refuse a runaway file
# Bounds on the composed document, aliases expanded: a 1 KB "billion laughs" file of nested aliases
# would otherwise expand into gigabytes, and deep nesting would exhaust Python's recursion limit
# (the composer and the builder below recurse once per level). Real configs and constitutions nest
# fewer than 10 levels and hold a few thousand values.
MAX_YAML_DEPTH = 100
MAX_YAML_VALUES = 200_000

Path_ = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """Plain data from a YAML file plus where each value (and each key) sits in the file."""

    file: str
    data: Any
    value_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def value_at(self, path: Path_) -> Any:
        node = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, col) of `path`, falling back to the nearest known ancestor."""
        marks = self.key_marks if key else self.value_marks
        p = tuple(path)
        while p:
            if p in marks:
                return marks[p]
            if not key and p in self.key_marks:
                return self.key_marks[p]
            p = p[:-1]
        return self.value_marks.get((), (1, 1))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Bounds:
    """The composer side of BoundedLoader, shared with its libyaml variant (see there)."""

    def _start_bounds(self) -> None:
        self._depth = 0
        self._open_anchors: set[str] = set()
        self._measures: dict[int, tuple[int, int]] = {}  # id(node) → (values, depth) with aliases expanded

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} is used inside its own anchor (a self-referencing alias)",
                    event.start_mark)
            return super().compose_node(parent, index)  # an anchored node, already composed and measured
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                              event.start_mark)
        if event.anchor is not None:
            self._open_anchors.add(event.anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(event.anchor)
        self._measure(node)
        return node

    def _measure(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        sizes = [self._measures[id(c)] for c in children]
        values = 1 + sum(v for v, _ in sizes)
        depth = 1 + max((d for _, d in sizes), default=0)
        if values > MAX_YAML_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"aliases expand this to more than {MAX_YAML_VALUES:,} values (an alias bomb?); "
                "write the values out or use fewer aliases", node.start_mark)
        if depth > MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"with its aliases expanded this is nested deeper than {MAX_YAML_DEPTH} levels",
                node.start_mark)
        self._measures[id(node)] = (values, depth)


class BoundedLoader(_Bounds, yaml.SafeLoader):
    """PyYAML's SafeLoader with the document's size and depth bounded *as if aliases were
    expanded*, measured while composing (before anything is expanded), and self-referencing
    aliases refused (`a: &a [*a]` composes into a cycle that every later walk would recurse into
    forever). Each node's expanded size and depth is computed from its children's once, so an
    alias costs nothing to measure however often it is used."""

    def __init__(self, stream):
        super().__init__(stream)
        self._start_bounds()


if CParser is None:  # PyYAML built without libyaml
    _LibyamlBoundedLoader = None
else:
    class _LibyamlBoundedLoader(_Bounds, Composer, CParser, SafeConstructor, Resolver):
        """BoundedLoader with libyaml's scanner and parser: PyYAML's pure-Python scanner was most of
        the time `cai constitution validate` spent reading a constitution. Only the events come
        from C; nodes are still composed (and bounded) by `_Bounds`, and scalars resolved and
        constructed by PyYAML's safe Resolver and SafeConstructor, as in BoundedLoader. Composer
        comes before CParser so that its Python composer, not libyaml's, builds the nodes."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_bounds()


class _Builder:
    """Node graph → plain python, recording marks. Duplicate keys are errors (YAML allows them
    silently; a duplicated rule field would otherwise shadow the first one); a key written next to
    a `<<` merge overrides the merged one, as YAML's merge key means."""

    def __init__(self, file: str):
        self.doc = YamlDoc(file=file, data=None)
        self.errors: list[ErrorItem] = []
        self._ctor = yaml.constructor.SafeConstructor()
        self._own_keys: dict[int, set[int]] = {}  # id(mapping) → ids of the key nodes written in it

    def _flatten(self, node: yaml.MappingNode) -> set[int]:
        """Resolve `<<` merge keys like safe_load does; the ids of the mapping's own key nodes,
        taken before the first flatten (an aliased mapping is built again, already flattened)."""
        own = self._own_keys.setdefault(id(node), {id(k) for k, _ in node.value})
        self._ctor.flatten_mapping(node)
        return own

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.doc.value_marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            own = self._flatten(node)
            out: dict[Any, Any] = {}
            written: set[str] = set()
            for key_node, value_node in node.value:
                scalar = isinstance(key_node, yaml.ScalarNode)
                key = self._ctor.construct_object(key_node, deep=True) if scalar else None
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    line, col = _mark(key_node)
                    self.errors.append(ErrorItem(self.doc.file, line, col, "keys must be plain scalars"))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in written and id(key_node) in own:
                    line, col = _mark(key_node)
                    self.errors.append(ErrorItem(self.doc.file, line, col, "duplicate key", field=key))
                if id(key_node) in own:
                    written.add(key)
                self.doc.key_marks[path + (key,)] = _mark(key_node)
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._ctor.construct_object(node, deep=True)


def _read_text(path: Path, label: str) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UserError(ErrorItem(label, 1, 1, "file not found")) from None
    if path.is_dir():
        raise UserError(ErrorItem(label, 1, 1, "is a directory, expected a YAML file"))
    if size > MAX_YAML_BYTES:
        raise UserError(
            ErrorItem(label, 1, 1, f"file is {size / 1e6:.1f} MB; YAML inputs are limited to "
                      f"{MAX_YAML_BYTES // (1024 * 1024)} MB — is this the right file?")
        )
    raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw[:nul].count(b"\n") + 1
        raise UserError(ErrorItem(label, line, 1, "binary content (NUL byte): not a YAML text file"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        message = f"not valid UTF-8 (byte {e.start}); save the file as UTF-8"
        raise UserError(ErrorItem(label, line, 1, message)) from None


def load_yaml(path: Path | str, *, label: str | None = None) -> YamlDoc:
    """Read one YAML mapping with marks. Raises UserError (located) on any problem."""
    path = Path(path)
    label = label or str(path)
    text = _read_text(path, label)
    return parse_yaml(text, label)


def _located(error: yaml.YAMLError, label: str) -> UserError:
    """A PyYAML error as one located line (its problem mark, else its context mark, else 1:1)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(str(error.problem or error.context or "invalid YAML").split())
        return UserError(ErrorItem(label, line, col, f"invalid YAML: {problem}"))
    return UserError(ErrorItem(label, 1, 1, f"invalid YAML: {' '.join(str(error).split())}"))


def _compose(text: str) -> yaml.Node | None:
    """The document's node graph, parsed by libyaml when PyYAML has it. A document libyaml refuses
    is parsed again by PyYAML's own parser: libyaml words (and sometimes places) syntax errors
    differently, and the error users get, or the document when PyYAML accepts it, stays PyYAML's."""
    if _LibyamlBoundedLoader is not None:
        try:
            return yaml.compose(text, Loader=_LibyamlBoundedLoader)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=BoundedLoader)


def parse_yaml(text: str, label: str) -> YamlDoc:
    try:
        node = _compose(text)
    except yaml.YAMLError as e:
        raise _located(e, label) from None
    if node is None:
        raise UserError(ErrorItem(label, 1, 1, "empty file: expected a YAML mapping of keys"))
    if not isinstance(node, yaml.MappingNode):
        line, col = _mark(node)
        raise UserError(ErrorItem(label, line, col, "expected a YAML mapping of keys at the top level"))
    builder = _Builder(label)
    try:
        builder.doc.data = builder.build(node, ())
    except yaml.YAMLError as e:  # e.g. a `<<` merge of something that is not a mapping
        raise _located(e, label) from None
    if builder.errors:
        raise UserError(builder.errors)
    return builder.doc


def _allowed_keys(model: type[BaseModel], loc: Path_) -> list[str]:
    """The field names allowed at `loc` (the parent of an unknown key), walking nested models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = model_in(fields[part].annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside an annotation such as `Foo`, `Foo | None`, `list[Foo]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = model_in(arg)
        if found is not None:
            return found
    return None


def _data_path(data: Any, base: Path_, loc: Path_, kind: str) -> Path_:
    """Drop the parts of a pydantic `loc` that are not keys in the data (union member tags such
    as 'int' or 'function-after[...]'), so the path points into the YAML."""
    node: Any = data
    for part in base:
        node = node[part] if isinstance(node, (dict, list)) else None
    kept: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            kept.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            kept.append(part)
            node = node[part]
        elif kind == "missing" and i == len(loc) - 1:
            kept.append(part)
        # else: a union member tag such as 'int' or 'list[str]', not a key in the file
    return tuple(kept)


def suggest(word: str, choices: list[str]) -> str:
    import difflib  # only an unknown key needs it: not imported by every valid file's load

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def validation_items(
    doc: YamlDoc,
    exc: ValidationError,
    model: type[BaseModel],
    *,
    base: Path_ = (),
    rule_of: Any = None,
) -> list[ErrorItem]:
    """Every pydantic error of `exc` as a located ErrorItem.

    `base` is the path of the validated value inside the document; `rule_of(path)` may return a
    rule id to name in the message.
    """
    items = []
    for err in exc.errors():
        loc = _data_path(doc.data, base, tuple(err["loc"]), err["type"])
        path = base + loc
        kind = err["type"]
        field = ".".join(str(p) for p in loc) or None
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(model, loc[:-1])
            msg = f"unknown key '{key}'{suggest(key, allowed)}"
            line, col = doc.where(path, key=True)
        elif kind == "missing":
            msg = "required field is missing"
            line, col = doc.where(path[:-1])
        else:
            msg = err["msg"]
            # A mapping-level error (e.g. a model validator) points at its key, not its first child.
            line, col = doc.where(path, key=isinstance(doc.value_at(path), (dict, list)))
        if field is None and path:
            field = ".".join(str(p) for p in path)
        rule = rule_of(path) if rule_of else None
        if rule and field and len(path) > 2 and path[0] == "rules":
            field = ".".join(str(p) for p in path[2:])  # 'rules.3.severity' → 'severity'
        items.append(ErrorItem(doc.file, line, col, msg, field=field, rule=rule))
    return items
