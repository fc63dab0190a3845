"""Constitutions: YAML rule files, their schema, `extends` overlays, and the resolved rule set.

A constitution (Bai et al. 2022, "Constitutional AI", §3) is a list of principles, each with a
critique request and a revision request. Ours adds machine checks (automatic, deterministic tests
evaluated by `rewards`), severity and weight (used by the hybrid reward's rule penalty), few-shot
examples, and separate comparison principles for AI preference labelling (RLAIF, §4).

Overlay semantics of `extends: PARENT` (a shipped name or a path relative to the child file):
- a rule whose id is new is added (it must be complete);
- a rule whose id exists in the parent overrides it field by field (only the fields given);
- `disable: [id, ...]` removes parent rules;
- comparison principles follow the same add/override-by-id rule.
Cycles and unknown parents are errors.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from cai.core.assets import shipped_constitutions
from cai.core.errors import ErrorItem, UserError
from cai.core.nobool import NoBoolNumbers
from cai.core.yamlfile import YamlDoc, load_yaml, validation_items

RULE_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Severity = Literal["info", "minor", "major", "critical"]
# Penalty multiplier per severity, used by the hybrid reward's rule-penalty term.
SEVERITY_WEIGHT = {"info": 0.0, "minor": 0.25, "major": 1.0, "critical": 2.0}
REQUIRED_RULE_FIELDS = ("principle", "critique", "revision")


class _Strict(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid")


def _not_blank(v: str) -> str:
    if not v.strip():  # '' is in every answer: a forbidden '' flags all of them, a required '' none
        raise ValueError("must not be empty or only spaces")
    return v


Phrase = Annotated[str, AfterValidator(_not_blank)]


@functools.lru_cache(maxsize=256)
def question_regex(pattern: str):
    """`pattern` compiled with RE2 (google-re2), which matches in time linear in the question.

    Why RE2 and not `re`: a constitution is user input, and a pattern such as `^(a+)+$` makes
    Python's backtracking engine take exponential time on a question like 'aaaa…b', hanging
    generate (a `re` match cannot be interrupted by a timeout). Rejecting "nested quantifiers" at
    validation would be a heuristic that misses other shapes (`(a|aa)+$`, `(\\w|\\d)+$`); RE2 has no
    catastrophic case at all. The price: no lookaround and no backreferences, refused at validation
    with that reason."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would also print every rejected pattern to stderr
    return re2.compile(pattern, options)


class NumbersMatch(_Strict):
    rel_tolerance: float = Field(0.005, ge=0, le=0.5, description="Relative tolerance for rounding (0.005 = 0.5%).")
    allow_derived: bool = Field(True, description="Accept numbers derived by simple arithmetic from source figures.")


class ClaimsSupported(_Strict):
    min_score: float = Field(0.5, ge=0, le=1,
                             description="Checker score at or above which a claim counts as supported.")


class RequireMarker(_Strict):
    when_any: list[Phrase] = Field(min_length=1, description="If the answer contains any of these phrases "
                                   "(case-insensitive)…")
    require_any: list[Phrase] = Field(min_length=1, description="…it must also contain one of these.")


class Checks(_Strict):
    """Machine checks: evaluated automatically on an answer (see `rewards`)."""

    must_cite: bool | None = Field(None, description="Every claim carries an inline [DOC p.N] citation.")
    claims_supported: ClaimsSupported | bool | None = Field(None, description="Every claim is supported by the sources "
                                                            "per the checker.")
    numbers_match_sources: NumbersMatch | bool | None = Field(None, description="Every number in the answer appears in "
                                                              "(or derives from) the cited sources.")
    quote_figures_verbatim: bool | None = Field(None, description="Key figures are written exactly as in the source "
                                                "(units, scale, sign).")
    period_matches_question: bool | None = Field(None, description="Fiscal periods in the answer match the period the "
                                                 "question asks about.")
    entities_match_sources: bool | None = Field(None, description="Company names in the answer match the sources' "
                                                "company.")
    no_forbidden_phrases: list[Phrase] | None = Field(None,
                                                      description="Phrases that must not appear (case-insensitive).")
    require_marker: list[RequireMarker] | None = Field(None, description="Conditional phrase requirements, e.g. "
                                                       "non-GAAP terms must be labelled non-GAAP.")
    max_words: int | None = Field(None, ge=1, description="Upper bound on answer length in words.")
    states_an_answer: bool | None = Field(None, description="The answer states a claim or an explicit abstention, not "
                                          "only headings, filler or pasted layout (\"[END OF FILING]\").")

    def enabled(self) -> dict[str, Any]:
        """The checks that are switched on, with their parameters as plain data."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v is not None and v is not False and v != []}


class RuleFilter(_Strict):
    tags: list[Phrase] = Field(default_factory=list,
                               description="Apply only to questions carrying one of these metadata tags.")
    forms: list[Phrase] = Field(default_factory=list,
                                description="Apply only when sources include one of these forms (e.g. 10-K).")
    question_matches: str | None = Field(None, description="Apply only when the question matches this regular "
                                         "expression (RE2 syntax: Python's, less lookaround and backreferences).")

    @field_validator("question_matches")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
            import re2

            try:
                question_regex(v)
            except re2.error as e:
                why = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
                raise ValueError(f"regular expression not supported: {why} (question filters use RE2, which "
                                 "never backtracks, so it has no lookaround or backreferences)") from None
        return v


class RuleExample(_Strict):
    question: str | None = None
    sources: list[str] = Field(default_factory=list, description="Source excerpts, labelled like [DOC p.N] text.")
    answer: str = Field(description="An answer that violates the rule.")
    critique: str = Field(description="The critique the teacher should give.")
    revision: str = Field(description="The revised answer.")


class RuleSpec(_Strict):
    """A rule as written in a file. Only `id` is required here: an override may give a subset."""

    id: str = Field(pattern=RULE_ID, description="Unique kebab-case id, e.g. 'cite-every-claim'.")
    principle: str | None = Field(None, min_length=1,
                                  description="The principle, stated as a rule the answer must follow.")
    critique: str | None = Field(None, min_length=1, description="Critique request given to the teacher.")
    revision: str | None = Field(None, min_length=1, description="Revision request given to the teacher.")
    severity: Severity | None = Field(None, description="info | minor | major | critical (default major).")
    weight: float | None = Field(None, ge=0, le=100,
                                 description="Weight of this rule's penalty in the hybrid reward (default 1).")
    applies_to: RuleFilter | None = Field(None, description="Optional filters; a rule without them applies to every "
                                          "question.")
    checks: Checks | None = Field(None, description="Machine checks evaluated automatically.")
    examples: list[RuleExample] | None = Field(None, description="Few-shot examples for the teacher.")
    _position: int = PrivateAttr(0)  # index in the file's `rules` list, for error lines


class Rule(_Strict):
    """A complete, resolved rule."""

    id: str
    principle: str
    critique: str
    revision: str
    severity: Severity = "major"
    weight: float = 1.0
    applies_to: RuleFilter = Field(default_factory=RuleFilter)
    checks: Checks = Field(default_factory=Checks)
    examples: list[RuleExample] = Field(default_factory=list)
    origin: str = Field("", description="file:line where the rule (or its last override) is defined.")

    def applies(self, question: str, tags: list[str] | None = None, forms: list[str] | None = None) -> bool:
        f = self.applies_to
        if f.tags and not set(f.tags) & set(tags or []):
            return False
        if f.forms and not {x.lower() for x in f.forms} & {x.lower() for x in forms or []}:
            return False
        if not f.question_matches:
            return True
        utf8 = question.encode("utf-8", "replace").decode("utf-8")  # RE2 takes UTF-8: a lone surrogate becomes '?'
        return question_regex(f.question_matches).search(utf8) is not None


class ComparisonPrinciple(_Strict):
    id: str = Field(pattern=RULE_ID)
    principle: str | None = Field(None, min_length=1,
                                  description="A question for the judge, e.g. 'Which answer makes only claims the "
                                  "sources support?'.")
    weight: float | None = Field(None, ge=0, le=100, description="Sampling weight (default 1).")


class ConstitutionFile(_Strict):
    """The schema of one constitution YAML file."""

    name: str = Field(min_length=1, description="Constitution name, e.g. 'finance-10k'.")
    version: str = Field("1", description="Version string, recorded in every run's manifest.")
    description: str = Field("", description="What the constitution is for.")
    extends: Phrase | None = Field(None,
                                   description="Parent constitution: a shipped name or a path relative to this file.")
    disable: list[str] = Field(default_factory=list, description="Parent rule ids to remove.")
    rules: list[RuleSpec] = Field(default_factory=list, description="Rules to add, or to override by id.")
    comparison_principles: list[ComparisonPrinciple] = Field(default_factory=list,
                                                             description="Principles for AI preference judging.")


class ResolvedPrinciple(_Strict):
    id: str
    principle: str
    weight: float = 1.0
    origin: str = ""


class Constitution(_Strict):
    """The resolved rule set after `extends` overlays."""

    name: str
    version: str
    description: str
    chain: list[str] = Field(description="Names from root ancestor to this constitution.")
    files: list[str] = Field(description="Files read, root ancestor first.")
    rules: list[Rule]
    comparison_principles: list[ResolvedPrinciple]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def content_hash(self) -> str:
        """sha256 of the resolved content (names, rules, principles; not file paths or origins)."""
        payload = {
            "name": self.name,
            "version": self.version,
            "rules": [r.model_dump(mode="json", exclude={"origin"}) for r in self.rules],
            "comparison_principles": [p.model_dump(mode="json", exclude={"origin"})
                                      for p in self.comparison_principles],
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it (shorter error lines)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def shipped_names() -> list[str]:
    return sorted(p.stem for p in shipped_constitutions().glob("*.yaml"))


def find_constitution(name_or_path: str, relative_to: Path | None = None) -> Path:
    """A path as given (relative to `relative_to` when set), else a name in ./constitution or the
    shipped set. Raises UserError naming the choices."""
    looks_like_path = "/" in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        p = Path(name_or_path)
        if relative_to is not None and not p.is_absolute():
            p = relative_to / p
        if p.is_file():
            return p
        raise FileNotFoundError(str(p))
    for folder in (Path.cwd() / "constitution", shipped_constitutions()):
        for ext in (".yaml", ".yml"):
            if (folder / f"{name_or_path}{ext}").is_file():
                return folder / f"{name_or_path}{ext}"
    raise FileNotFoundError(name_or_path)


def _rule_id_at(doc: YamlDoc):
    def rule_of(path: tuple) -> str | None:
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = doc.data.get("rules") if isinstance(doc.data, dict) else None
            if isinstance(rules, list) and path[1] < len(rules) and isinstance(rules[path[1]], dict):
                rid = rules[path[1]].get("id")
                return str(rid) if rid is not None else f"#{path[1] + 1}"
        return None

    return rule_of


class _FileShape(ConstitutionFile):
    """The file with its rules left unparsed, so each rule is validated on its own and one bad
    rule does not hide the errors (or the valid rules) after it."""

    rules: list[Any] = Field(default_factory=list)


def _parse_file(path: Path) -> tuple[YamlDoc, ConstitutionFile | None, list[ErrorItem]]:
    """Schema-validate one file; collect every error (including duplicate ids)."""
    doc = load_yaml(path, label=display_path(path))
    errors: list[ErrorItem] = []
    rule_of = _rule_id_at(doc)
    try:
        shape = _FileShape.model_validate(doc.data)
    except ValidationError as e:
        return doc, None, validation_items(doc, e, ConstitutionFile, rule_of=rule_of)
    rules: list[RuleSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(shape.rules):
        try:
            rule = RuleSpec.model_validate(raw)
        except ValidationError as e:
            errors += validation_items(doc, e, RuleSpec, base=("rules", i), rule_of=rule_of)
            continue
        if rule.id in seen:
            line, col = doc.where(("rules", i, "id"))
            errors.append(ErrorItem(doc.file, line, col, "duplicate rule id (each id once per file)", field="id",
                                    rule=rule.id))
            continue
        seen.add(rule.id)
        rule._position = i
        rules.append(rule)
    principle_ids: set[str] = set()
    for i, p in enumerate(shape.comparison_principles):
        if p.id in principle_ids:
            line, col = doc.where(("comparison_principles", i, "id"))
            errors.append(ErrorItem(doc.file, line, col, "duplicate comparison principle id", field="id", rule=p.id))
        principle_ids.add(p.id)
    return doc, ConstitutionFile.model_construct(**{**dict(shape), "rules": rules}), errors


def _merge_rules(
    doc: YamlDoc, spec: ConstitutionFile, inherited: dict[str, dict], errors: list[ErrorItem]
) -> dict[str, dict]:
    """Apply `disable` then each rule of `spec` on top of the parent's rules (id → field dict)."""
    merged = dict(inherited)
    for i, rid in enumerate(spec.disable):
        if rid not in merged:
            line, col = doc.where(("disable", i))
            errors.append(ErrorItem(doc.file, line, col, f"cannot disable unknown rule{_parent_hint(merged)}",
                                    field="disable", rule=rid))
        merged.pop(rid, None)
    for rule in spec.rules:
        i = rule._position
        line, _ = doc.where(("rules", i))
        given = rule.model_dump(exclude_none=True)
        if rule.id in inherited and rule.id not in spec.disable:
            base = dict(inherited[rule.id])
            base.update(given)
            base["origin"] = f"{doc.file}:{line} (overrides {inherited[rule.id]['origin']})"
            merged[rule.id] = base
            continue
        for field in REQUIRED_RULE_FIELDS:
            if field not in given:
                eline, ecol = doc.where(("rules", i))
                errors.append(ErrorItem(doc.file, eline, ecol, "required field is missing (a new rule needs principle, "
                                        "critique and revision)", field=field, rule=rule.id))
        merged[rule.id] = {**given, "origin": f"{doc.file}:{line}"}
    return merged


def _parent_hint(rules: dict[str, dict]) -> str:
    return f" (known: {', '.join(sorted(rules))})" if rules else " (the parent has no rules)"


def _merge_principles(
    doc: YamlDoc, spec: ConstitutionFile, inherited: dict[str, dict], errors: list[ErrorItem]
) -> dict[str, dict]:
    merged = dict(inherited)
    for i, p in enumerate(spec.comparison_principles):
        line, col = doc.where(("comparison_principles", i))
        if p.id not in merged and p.principle is None:
            errors.append(ErrorItem(doc.file, line, col,
                                    "required field is missing (a new comparison principle needs its text)",
                                    field="principle", rule=p.id))
        merged[p.id] = {**merged.get(p.id, {}), **p.model_dump(exclude_none=True), "origin": f"{doc.file}:{line}"}
    return merged


def _load_chain(path: Path, seen: list[Path], errors: list[ErrorItem]) -> list[tuple[YamlDoc, ConstitutionFile]]:
    """Files from root ancestor to `path`, following `extends`; cycle/unknown parent are errors."""
    doc, spec, file_errors = _parse_file(path)
    errors += file_errors
    if spec is None:
        return []
    chain: list[tuple[YamlDoc, ConstitutionFile]] = []
    if spec.extends:
        line, col = doc.where(("extends",))
        try:
            parent = find_constitution(spec.extends, relative_to=path.parent).resolve()
        except FileNotFoundError:
            names = ", ".join(shipped_names())
            errors.append(ErrorItem(doc.file, line, col,
                                    f"unknown parent constitution '{spec.extends}' (shipped: {names}; or give a path)",
                                    field="extends"))
            return [(doc, spec)]
        if parent in seen or parent == path.resolve():
            cycle = " -> ".join(p.name for p in [*seen, path.resolve(), parent])
            errors.append(ErrorItem(doc.file, line, col, f"extends cycle: {cycle}", field="extends"))
            return [(doc, spec)]
        chain = _load_chain(parent, [*seen, path.resolve()], errors)
    return [*chain, (doc, spec)]


def load_constitution(name_or_path: str | Path) -> Constitution:
    """Load, validate and resolve a constitution. Raises UserError with every problem found."""
    try:
        path = find_constitution(str(name_or_path))
    except FileNotFoundError:
        raise UserError(ErrorItem(str(name_or_path), 1, 1,
                                  f"constitution not found (shipped: {', '.join(shipped_names())}; or give a path to a "
                                  ".yaml file)")) from None
    errors: list[ErrorItem] = []
    chain = _load_chain(path, [], errors)
    rules: dict[str, dict] = {}
    principles: dict[str, dict] = {}
    for doc, spec in chain:
        rules = _merge_rules(doc, spec, rules, errors)
        principles = _merge_principles(doc, spec, principles, errors)
    if errors:
        raise UserError(errors)
    top_doc, top = chain[-1]
    return Constitution(
        name=top.name,
        version=top.version,
        description=top.description,
        chain=[spec.name for _, spec in chain],
        files=[doc.file for doc, _ in chain],
        rules=[Rule.model_validate(r) for r in rules.values()],
        comparison_principles=[ResolvedPrinciple.model_validate(p) for p in principles.values() if p.get("principle")],
    )


def validate_files(paths: list[str]) -> list[ErrorItem]:
    """Every error of every file (for `cai constitution validate`)."""
    errors: list[ErrorItem] = []
    for p in paths:
        try:
            load_constitution(p)
        except UserError as e:
            errors += [i for i in e.items if i not in errors]
    return errors


def constitution_problems(name_or_path: str) -> list[tuple[tuple[str, ...], str]]:
    """What is wrong with a config's `constitution` setting, as (config path, message) pairs: a
    constitution that cannot be found or does not validate is a config error, found by `cai config
    validate` rather than by the run that needs it."""
    try:
        load_constitution(name_or_path)
    except UserError as e:
        return [(("constitution",), line) for line in e.lines()]
    return []
