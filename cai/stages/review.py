"""`cai review`: reviewers label each final-answer claim of a generate run; labels feed training.

Pieces:
- `ReviewRun`: the run's records (loaded with `cai.stages.audit.load_run`), each final claim mapped to
  the rules that critiqued it, and the decision store (`cai.stages.review_store`, RUN_DIR/review.sqlite).
- Agreement: Cohen's κ per rule between every pair of reviewers, and reviewers vs the AI labeler.
- Corrections: a reviewer may type a corrected answer; it is checked with the run's claim checker
  against the record's source pages when submitted, and stored with the verdicts.
- Export: a NEW generate-style run directory that `cai train` accepts (the data flywheel); the
  rows themselves are built by `cai.stages.review_export`, which says why each rule holds.
- The web app itself is `cai.review_pages` (server-side HTML, standard-library HTTP server).

Claims → rules (the "per rule" of the agreement table). A reviewed claim is a claim of the final
answer (`Record.claims`). It belongs to rule R when a violation of R in any critique round of the
record names that claim: the violation's `claim` text and the claim text are equal after removing
inline citations, case and extra whitespace, or one contains the other (both at least 20 chars),
or they are at least 80% similar (difflib ratio) — so a claim whose only fix was an added citation
still counts under the rule that asked for it. A claim may be under several rules; claims no
violation names are under "(no rule)". The "(all claims)" row counts every claim once.

AI label of a claim: its verdict, `supported` → accept, anything else (unsupported, unverified) →
reject. Flag is a third category: it never agrees with the AI.

Consensus of a claim: the most common decision among reviewers' effective decisions (latest
submission per reviewer, submitted records only); ties go to reject, then flag (fail-closed, as
the rest of cai is: a contested claim is not treated as approved).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from difflib import SequenceMatcher
from itertools import combinations
from pathlib import Path
from typing import Any

from cai.core import serving
from cai.core.contracts import CITATION_RE, ClaimVerdict, Record, Verdict
from cai.core.errors import UserError
from cai.stages.report_html import RunData, load_run
from cai.stages.review_export import (
    check_correction,
    corrected_sft,
    correction_row,
    dumps,
    export_card,
    human_pair,
    split_ai_pairs,
)
from cai.stages.review_store import Decision, ReviewStore, StoredCorrection

NO_RULE = "(no rule)"
ALL_CLAIMS = "(all claims)"
TOKEN_ENV = "CAI_REVIEW_TOKEN"
_PRECEDENCE = {"reject": 0, "flag": 1, "accept": 2}  # tie-break order of the consensus


# ----------------------------------------------------------------------------------- claims → rules
def _norm(text: str) -> str:
    return " ".join(CITATION_RE.sub(" ", text).lower().split()).strip(" .;:,")


def _same_claim(a: str, b: str) -> bool:
    if not a or not b:
        return False
    if a == b or (min(len(a), len(b)) >= 20 and (a in b or b in a)):
        return True
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.8


def claim_rules(record: Record) -> list[list[str]]:
    """For each final claim, the sorted ids of the rules whose violations name it (or NO_RULE)."""
    violations = [(v.rule_id, _norm(v.claim)) for rnd in record.rounds for v in rnd.critique.violations if v.claim]
    out = []
    for claim in record.claims:
        text = _norm(claim.text)
        rules = sorted({rule for rule, vtext in violations if _same_claim(vtext, text)})
        out.append(rules or [NO_RULE])
    return out


def ai_label(claim: ClaimVerdict) -> str:
    return "accept" if claim.verdict == Verdict.supported else "reject"


def consensus(labels: list[str]) -> str | None:
    """The most common decision; ties → reject, then flag. None when nobody labelled."""
    if not labels:
        return None
    counts = Counter(labels)
    return min(counts, key=lambda d: (-counts[d], _PRECEDENCE[d]))


# ------------------------------------------------------------------------------------------ the run
@dataclass
class ReviewRun:
    """A generate run under review: records, claim → rules, and the decision store."""

    run_dir: Path
    data: RunData
    manifest: dict
    store: ReviewStore
    by_id: dict[str, Record] = field(default_factory=dict)
    rules: dict[str, list[list[str]]] = field(default_factory=dict)
    checker: Any = None  # the run's claim checker, opened on the first correction (or given, e.g. by tests)
    _check_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, run_dir: Path) -> ReviewRun:
        from cai.core.runs import open_run

        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise UserError(f"{run_dir}: not a directory; give the run directory `cai generate` printed")
        manifest = open_run(run_dir, "generate")
        data = load_run(run_dir)
        run = cls(run_dir, data, manifest, ReviewStore.for_run(run_dir))
        run.by_id = {r.id: r for r in data.records}
        run.rules = {r.id: claim_rules(r) for r in data.records}
        return run

    @property
    def records(self) -> list[Record]:
        return self.data.records

    def check_correction(self, record: Record, text: str) -> tuple[str, list[ClaimVerdict]]:
        """(checker name, verdicts) of a reviewer's corrected answer: the checker the run was made
        with (config `checker`), against the record's source pages. A checker that cannot be opened
        leaves every claim unverified with the reason, so a reviewer is never blocked by it."""
        from rewards.checker import open_checker, unverified_claims

        with self._check_lock:  # one check at a time: request threads share one checker model
            if self.checker is None:
                name = self.data.config.get("checker") or "offline"
                try:
                    self.checker = open_checker(name, setting="the run's checker:")
                except UserError as e:
                    return name, unverified_claims(text, f"checker not available: {e}", name)
            return self.checker.name, check_correction(self.checker, self.data.config.get("index"), record, text)

    def all_rules(self) -> list[str]:
        names = {rule for per_record in self.rules.values() for per_claim in per_record for rule in per_claim}
        return sorted(names - {NO_RULE}) + ([NO_RULE] if NO_RULE in names else [])

    def labels(self, decisions: list[Decision] | None = None) -> tuple[dict[tuple[str, int], dict[str, Decision]], int]:
        """(record id, claim index) → reviewer → effective decision; and how many were stale.

        A decision is stale when its claim text no longer matches the claim at that index (the
        records file changed since); stale decisions are left out of agreement and export.
        """
        out: dict[tuple[str, int], dict[str, Decision]] = defaultdict(dict)
        stale = 0
        for d in self.store.effective() if decisions is None else decisions:
            record = self.by_id.get(d.record_id)
            if (record is None or d.claim_index >= len(record.claims)
                    or record.claims[d.claim_index].text != d.claim_text):
                stale += 1
                continue
            out[(d.record_id, d.claim_index)][d.reviewer] = d
        return dict(out), stale


# ---------------------------------------------------------------------------------------- agreement
def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's κ = (p_o − p_e) / (1 − p_e) of two raters' labels on the same items.

    None when there are no items or when chance agreement is 1 (both raters used one and the same
    label throughout: κ is undefined, not perfect).
    """
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if abs(1.0 - p_e) < 1e-12:
        return None
    return (p_o - p_e) / (1.0 - p_e)


@dataclass
class PairAgreement:
    a: str
    b: str
    n: int
    observed: float
    kappa: float | None


@dataclass
class RuleAgreement:
    """Agreement on the claims of one rule bucket."""

    rule: str
    claims: int  # claims of this bucket in the run
    labelled: int  # of which at least one reviewer labelled
    labels: int  # human labels (reviewer × claim)
    ai_agree: int  # human labels equal to the AI label
    ai_kappa: float | None  # κ between the AI label and the human label over all human labels
    pairs: list[PairAgreement]

    @property
    def ai_rate(self) -> float | None:
        return self.ai_agree / self.labels if self.labels else None


def _bucket_agreement(rule: str, keys: list[tuple[str, int]], labels: dict, run: ReviewRun) -> RuleAgreement:
    ai, human = [], []
    by_reviewer: dict[str, dict[tuple[str, int], str]] = defaultdict(dict)
    for key in keys:
        expected = ai_label(run.by_id[key[0]].claims[key[1]])
        for reviewer, d in labels.get(key, {}).items():
            ai.append(expected)
            human.append(d.decision)
            by_reviewer[reviewer][key] = d.decision
    pairs = []
    for ra, rb in combinations(sorted(by_reviewer), 2):
        common = [k for k in keys if k in by_reviewer[ra] and k in by_reviewer[rb]]
        if not common:
            continue
        la, lb = [by_reviewer[ra][k] for k in common], [by_reviewer[rb][k] for k in common]
        pairs.append(PairAgreement(ra, rb, len(common), sum(x == y for x, y in zip(la, lb, strict=True)) / len(common),
                                   cohen_kappa(la, lb)))
    return RuleAgreement(rule=rule, claims=len(keys), labelled=sum(1 for k in keys if labels.get(k)), labels=len(human),
                         ai_agree=sum(x == y for x, y in zip(ai, human, strict=True)),
                         ai_kappa=cohen_kappa(ai, human), pairs=pairs)


def agreement(run: ReviewRun) -> tuple[list[RuleAgreement], int]:
    """One row for all claims, then one per rule bucket; and the number of stale decisions."""
    labels, stale = run.labels()
    buckets: dict[str, list[tuple[str, int]]] = defaultdict(list)
    every = []
    for record in run.records:
        for i, rules in enumerate(run.rules[record.id]):
            every.append((record.id, i))
            for rule in rules:
                buckets[rule].append((record.id, i))
    rows = [_bucket_agreement(ALL_CLAIMS, every, labels, run)]
    rows += [_bucket_agreement(rule, buckets[rule], labels, run) for rule in run.all_rules()]
    return rows, stale


# ------------------------------------------------------------------------------------ host / token
def read_token(env_name: str = TOKEN_ENV) -> str | None:
    return serving.read_token(env_name)


def check_bind(host: str, token: str | None, token_env: str = TOKEN_ENV) -> None:
    """Loopback binds need nothing; any other host needs a token (cai.core.serving)."""
    serving.check_bind(host, token, token_env, "the review UI")


# ------------------------------------------------------------------------------------------- export
def human_corrected(record: Record, claim_labels: dict[int, list[str]]) -> Record:
    """The record with claim verdicts replaced by the reviewers' consensus (flag leaves the AI's)."""
    claims = []
    for i, c in enumerate(record.claims):
        verdict = {"accept": Verdict.supported, "reject": Verdict.unsupported}.get(
            consensus(claim_labels.get(i, [])) or "")
        claims.append(c.model_copy(update={"verdict": verdict}) if verdict else c)
    return record.model_copy(update={"claims": claims})


def _label_row(record: Record, i: int, d: Decision, rules: list[str]) -> dict:
    claim = record.claims[i]
    ev = claim.evidence
    return {"record_id": record.id, "claim_index": i, "claim": claim.text,
            "locator": ev.locator.model_dump(mode="json") if ev else None,
            "locator_text": str(ev.locator) if ev else None, "quote": ev.quote if ev else None,
            "ai_verdict": claim.verdict.value, "ai_score": claim.score, "ai_label": ai_label(claim),
            "decision": d.decision, "comment": d.comment, "reviewer": d.reviewer, "decided_at": d.created_at,
            "submission_id": d.submission_id, "rule_ids": rules}


def _new_export_dir(out_dir: Path, run_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if out_dir.resolve() == run_dir.resolve() or run_dir.resolve() in out_dir.resolve().parents:
        raise UserError(f"--export {out_dir}: must be outside the reviewed run (the original run is never modified)")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UserError(f"--export {out_dir}: already exists and is not an empty directory; give a new directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


@dataclass
class Conclusions:
    """What the reviewers concluded, per record: claim labels, the claims rejected by consensus, and
    the effective corrections (oldest first; the last one is used)."""

    labels: dict[tuple[str, int], dict[str, Decision]]
    per_record: dict[str, dict[int, list[str]]]
    drops: dict[str, set[int]]
    fixes: dict[str, list[StoredCorrection]]
    stale: int
    stale_fixes: int

    @classmethod
    def of(cls, run: ReviewRun) -> Conclusions:
        labels, stale = run.labels()
        per_record: dict[str, dict[int, list[str]]] = defaultdict(dict)
        for (rid, i), by_reviewer in labels.items():
            per_record[rid][i] = [d.decision for d in by_reviewer.values()]
        drops = {rid: {i for i, ls in claims.items() if consensus(ls) == "reject"}
                 for rid, claims in per_record.items()}
        fixes: dict[str, list[StoredCorrection]] = defaultdict(list)
        stale_fixes = 0
        for c in run.store.corrections():
            record = run.by_id.get(c.record_id)
            if record is None or c.answer_text != (record.final_answer or ""):
                stale_fixes += 1
                continue
            fixes[c.record_id].append(c)
        return cls(labels, dict(per_record), {k: v for k, v in drops.items() if v}, dict(fixes), stale, stale_fixes)

    def correction(self, record_id: str) -> str | None:
        return self.fixes[record_id][-1].text if record_id in self.fixes else None


def _export_sft(run: ReviewRun, seen: Conclusions) -> tuple[list, dict]:
    """sft.jsonl: a correction is the target of its question; else the original row, dropped when a
    claim is rejected, added when reviewers accepted every unsupported claim."""
    from cai.core.runs import read_jsonl
    from cai.stages.pairs import sft_example

    original = {row["id"]: row for _, row in read_jsonl(run.run_dir / "sft.jsonl")}
    sft, n = [], Counter()
    for record in run.records:
        if (text := seen.correction(record.id)) is not None:
            sft.append(corrected_sft(record, text))
            n["sft_corrected"] += 1
            n["sft_added_by_review"] += record.id not in original
        elif record.id not in seen.per_record:
            if record.id in original:
                sft.append(original[record.id])
        elif (example := sft_example(human_corrected(record, seen.per_record[record.id]))) is None:
            n["sft_dropped_by_review"] += record.id in original
        else:
            n["sft_added_by_review"] += record.id not in original
            sft.append(original.get(record.id) or example)
    return sft, {k: n[k] for k in ("sft_dropped_by_review", "sft_added_by_review", "sft_corrected")}


def _export_pairs(run: ReviewRun, seen: Conclusions) -> tuple[list, list[dict], dict]:
    """(AI pairs kept + human pairs, the AI pairs dropped, counts)."""
    from cai.core.runs import read_jsonl

    rejected = {rid: [run.by_id[rid].claims[i].text for i in sorted(drop)] for rid, drop in seen.drops.items()}
    kept, dropped = split_ai_pairs([row for _, row in read_jsonl(run.run_dir / "preferences.jsonl")], rejected)
    human, skipped = [], Counter()
    for r in run.records:
        if r.id not in seen.per_record and r.id not in seen.fixes:
            continue
        pair, why = human_pair(r, run.rules[r.id], seen.per_record.get(r.id, {}), seen.drops.get(r.id, set()),
                               seen.correction(r.id), NO_RULE)
        if pair is not None:
            human.append(pair)
        elif why:
            skipped[why] += 1
    counts = {"ai_pairs": len(kept), "ai_pairs_dropped": len(dropped), "human_pairs": len(human),
              "human_pair_reasons": dict(Counter(x for p in human for x in p.reason.reasons)),
              "human_pairs_skipped": dict(skipped)}
    return kept + human, dropped, counts


def _correction_rows(run: ReviewRun, seen: Conclusions) -> list[dict]:
    """corrections.jsonl; a correction stored without a check (not through the web form) is checked now,
    so every exported correction carries the checker's verdicts."""
    rows = []
    for rid, fixes in seen.fixes.items():
        for c in fixes:
            if c.checker:
                claims = [ClaimVerdict.model_validate(v) for v in json.loads(c.claims_json or "[]")]
            else:
                name, claims = run.check_correction(run.by_id[rid], c.text)
                c = replace(c, checker=name)
            rows.append(correction_row(run.by_id[rid], c, claims, used=c.submission_id == fixes[-1].submission_id))
    return rows


def export_run(run: ReviewRun, out_dir: Path) -> dict:
    """Write the reviewed data as a new finished generate run in `out_dir`; returns its counts.

    config.yaml and records.jsonl are copied; sft.jsonl, preferences.jsonl, corrections.jsonl and
    dropped_pairs.jsonl follow `cai.stages.review_export`; labels.jsonl = every effective human
    decision. The README lists the files actually written. manifest.json is written last, so an
    interrupted export is never a finished run.
    """
    from cai.core.runs import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file

    if run.manifest.get("status") != "finished":
        raise UserError(f"{run.run_dir}: run status is '{run.manifest.get('status')}', not 'finished'; finish it with "
                        f"`cai generate {run.run_dir}/config.yaml --resume {run.run_dir}` before exporting")
    out_dir = _new_export_dir(out_dir, run.run_dir)
    seen = Conclusions.of(run)
    written: dict[str, int | None] = {}  # file → its rows (None: not a JSONL file), as written
    for name in ("config.yaml", "records.jsonl"):
        data = (run.run_dir / name).read_bytes()
        atomic_write_bytes(out_dir / name, data)
        written[name] = sum(1 for line in data.splitlines() if line.strip()) if name.endswith(".jsonl") else None
    sft, sft_counts = _export_sft(run, seen)
    prefs, dropped, pair_counts = _export_pairs(run, seen)
    label_rows = sorted((_label_row(run.by_id[rid], i, d, run.rules[rid][i])
                         for (rid, i), ds in seen.labels.items() for d in ds.values()),
                        key=lambda row: (row["decided_at"], row["record_id"], row["claim_index"]))
    fix_rows = _correction_rows(run, seen)
    for name, rows in (("sft.jsonl", sft), ("preferences.jsonl", prefs), ("labels.jsonl", label_rows),
                       ("corrections.jsonl", fix_rows), ("dropped_pairs.jsonl", dropped)):
        atomic_write_text(out_dir / name, dumps(rows))
        written[name] = len(rows)
    used = [row for row in fix_rows if row["used"]]
    counts = {"records": len(run.records), "sft": len(sft), **sft_counts, "preferences": len(prefs), **pair_counts,
              "labels": len(label_rows), "reviewed_records": len(set(seen.per_record) | set(seen.fixes)),
              "reviewers": len({row["reviewer"] for row in label_rows + fix_rows}), "stale_decisions": seen.stale,
              "corrections": len(used), "corrections_unsupported": sum(bool(row["unsupported_claims"]) for row in used),
              "stale_corrections": seen.stale_fixes}
    atomic_write_text(out_dir / "README.md", export_card(run.run_dir, out_dir, written, counts))
    manifest = {**run.manifest, "status": "finished", "counts": {**run.manifest.get("counts", {}), **counts},
                "derived_from": {"run": str(run.run_dir.resolve()), "config_hash": run.manifest.get("config_hash"),
                                 "records_sha256": sha256_file(run.run_dir / "records.jsonl"),
                                 "review_store": str((run.run_dir / "review.sqlite").resolve())}}
    manifest["created_at"] = manifest["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_json(out_dir / "manifest.json", manifest)
    return counts


def export_command(run_dir: Path, out_dir: Path) -> tuple[Path, str]:
    """`cai review RUN_DIR --export OUT_DIR`: (the new run directory, a one-line summary)."""
    run = ReviewRun.open(run_dir)
    counts = export_run(run, out_dir)
    return Path(out_dir), (f"export: {counts['labels']} decision(s) and {counts['corrections']} correction(s) by "
                           f"{counts['reviewers']} reviewer(s) on {counts['reviewed_records']} record(s); "
                           f"sft {counts['sft']} (−{counts['sft_dropped_by_review']} +{counts['sft_added_by_review']}, "
                           f"{counts['sft_corrected']} corrected), preferences {counts['preferences']} "
                           f"({counts['human_pairs']} human, {counts['ai_pairs_dropped']} AI pair(s) dropped)")


# -------------------------------------------------------------------------------------------- serve
