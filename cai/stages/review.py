"""`cai review`: reviewers label each final-answer claim of a generate run; labels feed training.

Pieces:
- `ReviewRun`: the run's records (loaded with `cai.stages.audit.load_run`), each final claim mapped to
  the rules that critiqued it, and the decision store (`cai.stages.review_store`, RUN_DIR/review.sqlite).
- Agreement: Cohen's κ per rule between every pair of reviewers, and reviewers vs the AI labeler.
- Export: a NEW generate-style run directory that `cai train` accepts (the data flywheel).
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
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import SequenceMatcher
from itertools import combinations
from pathlib import Path

from cai.core.contracts import CITATION_RE, ClaimVerdict, Record, Verdict
from cai.core.errors import UserError
from cai.core.prompts import ABSTAIN
from cai.stages.report_html import RunData, load_run, valid_spans
from cai.stages.review_store import Decision, ReviewStore

NO_RULE = "(no rule)"
ALL_CLAIMS = "(all claims)"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "CAI_REVIEW_TOKEN"
MIN_TOKEN_CHARS = 16
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
    value = os.environ.get(env_name, "").strip()
    return value or None


def check_bind(host: str, token: str | None, token_env: str = TOKEN_ENV) -> None:
    """Loopback binds need nothing; any other host needs a token (UserError → exit 2)."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        make = "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
        raise UserError(f"${token_env} is too short ({len(token)} chars): "
                        f"use at least {MIN_TOKEN_CHARS} random characters, e.g. `export {token_env}=$({make})`")
    if host not in LOOPBACK_HOSTS and token is None:
        raise UserError(f"--host {host}: refusing to serve the review UI beyond this machine without a token; "
                        f"set ${token_env} (every request must then carry it) or use --host 127.0.0.1")


# ------------------------------------------------------------------------------------------- export
def _without_claims(text: str, claims: list[ClaimVerdict], drop: set[int]) -> str | None:
    """`text` with the claims in `drop` cut out; None when a dropped claim cannot be located."""
    spans = {n: (a, b) for a, b, n in valid_spans(text, claims)}
    cuts = []
    for n in drop:
        if n in spans:
            cuts.append(spans[n])
            continue
        at = text.find(claims[n].text)
        if at < 0:
            return None
        cuts.append((at, at + len(claims[n].text)))
    out, pos = [], 0
    for a, b in sorted(cuts):
        if a < pos:
            continue
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    return " ".join("".join(out).split())


def human_pair(record: Record, rules: list[list[str]], claim_labels: dict[int, list[str]]):
    """(answer without the claims reviewers rejected) ≻ (the final answer); None if nothing rejected.

    Chosen is the final answer with the consensus-rejected claims cut out, or the abstention when
    every claim was rejected: what the reviewers would have let through. Rejected is the final
    answer as delivered. Confidence = the smallest share of reviewers rejecting a cut claim.
    """
    from cai.core.contracts import Message, PreferencePair
    from cai.core.prompts import policy_messages

    if not record.final_answer:
        return None
    drop = {i for i, ls in claim_labels.items() if consensus(ls) == "reject"}
    if not drop:
        return None
    if len(drop) == len(record.claims):
        chosen = ABSTAIN
    else:
        chosen = _without_claims(record.final_answer, record.claims, drop)
        if not chosen:
            return None
    confidence = min(Counter(claim_labels[i])["reject"] / len(claim_labels[i]) for i in drop)
    return PreferencePair(
        id=f"{record.id}:human",
        prompt=[Message.model_validate(m) for m in policy_messages(record.question, record.sources)],
        chosen=[Message(role="assistant", content=chosen)],
        rejected=[Message(role="assistant", content=record.final_answer)],
        source="human", confidence=round(confidence, 4),
        rule_ids=sorted({r for i in drop for r in rules[i]} - {NO_RULE}))


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


def _dump(rows: list) -> str:
    return "".join(json.dumps(r.model_dump(mode="json") if hasattr(r, "model_dump") else r, ensure_ascii=False) + "\n"
                   for r in rows)


def _new_export_dir(out_dir: Path, run_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if out_dir.resolve() == run_dir.resolve() or run_dir.resolve() in out_dir.resolve().parents:
        raise UserError(f"--export {out_dir}: must be outside the reviewed run (the original run is never modified)")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UserError(f"--export {out_dir}: already exists and is not an empty directory; give a new directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def export_run(run: ReviewRun, out_dir: Path) -> dict:
    """Write the reviewed data as a new finished generate run in `out_dir`; returns its counts.

    config.yaml and records.jsonl are copied; sft.jsonl keeps the original rows except records
    with a consensus-rejected claim, and adds records whose only unsupported claims reviewers
    accepted; preferences.jsonl = the original AI pairs + one human pair per record with a
    rejected claim; labels.jsonl = every effective human decision. manifest.json is written last,
    so an interrupted export is never a finished run.
    """
    from cai.core.runs import (
        atomic_write_bytes,
        atomic_write_json,
        atomic_write_text,
        read_jsonl,
        sha256_file,
    )
    from cai.stages.pairs import sft_example

    if run.manifest.get("status") != "finished":
        raise UserError(f"{run.run_dir}: run status is '{run.manifest.get('status')}', not 'finished'; finish it with "
                        f"`cai generate {run.run_dir}/config.yaml --resume {run.run_dir}` before exporting")
    out_dir = _new_export_dir(out_dir, run.run_dir)
    labels, stale = run.labels()
    per_record: dict[str, dict[int, list[str]]] = defaultdict(dict)
    for (rid, i), by_reviewer in labels.items():
        per_record[rid][i] = [d.decision for d in by_reviewer.values()]
    for name in ("config.yaml", "records.jsonl"):
        atomic_write_bytes(out_dir / name, (run.run_dir / name).read_bytes())
    original_sft = {row["id"]: row for _, row in read_jsonl(run.run_dir / "sft.jsonl")}
    sft, dropped, added = [], 0, 0
    for record in run.records:
        if record.id not in per_record:
            if record.id in original_sft:
                sft.append(original_sft[record.id])
            continue
        example = sft_example(human_corrected(record, per_record[record.id]))
        if example is None:
            dropped += record.id in original_sft
        else:
            added += record.id not in original_sft
            sft.append(original_sft.get(record.id) or example)
    prefs = [row for _, row in read_jsonl(run.run_dir / "preferences.jsonl")]
    human = [p for r in run.records
             if r.id in per_record and (p := human_pair(r, run.rules[r.id], per_record[r.id])) is not None]
    label_rows = sorted((_label_row(run.by_id[rid], i, d, run.rules[rid][i])
                         for (rid, i), ds in labels.items() for d in ds.values()),
                        key=lambda row: (row["decided_at"], row["record_id"], row["claim_index"]))
    atomic_write_text(out_dir / "sft.jsonl", _dump(sft))
    atomic_write_text(out_dir / "preferences.jsonl", _dump(prefs + human))
    atomic_write_text(out_dir / "labels.jsonl", _dump(label_rows))
    counts = {"records": len(run.records), "sft": len(sft), "sft_dropped_by_review": dropped,
              "sft_added_by_review": added, "preferences": len(prefs) + len(human), "ai_pairs": len(prefs),
              "human_pairs": len(human), "labels": len(label_rows), "reviewed_records": len(per_record),
              "reviewers": len({row["reviewer"] for row in label_rows}), "stale_decisions": stale}
    atomic_write_text(out_dir / "README.md", _export_card(run, counts))
    manifest = {**run.manifest, "status": "finished", "counts": {**run.manifest.get("counts", {}), **counts},
                "derived_from": {"run": str(run.run_dir.resolve()), "config_hash": run.manifest.get("config_hash"),
                                 "records_sha256": sha256_file(run.run_dir / "records.jsonl"),
                                 "review_store": str((run.run_dir / "review.sqlite").resolve())}}
    manifest["created_at"] = manifest["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_json(out_dir / "manifest.json", manifest)
    return counts


def _export_card(run: ReviewRun, counts: dict) -> str:
    sft = (f"original SFT rows; {counts['sft_dropped_by_review']} removed (a claim rejected by reviewers), "
           f"{counts['sft_added_by_review']} added (reviewers accepted every unsupported claim)")
    prefs = (f"{counts['ai_pairs']} original AI pairs + {counts['human_pairs']} human pairs "
             "(`source: human`: the answer without the rejected claims ≻ the answer with them)")
    labels = ("one row per reviewer decision: record, claim, locator, quote, AI verdict, decision, comment, "
              "reviewer, time")
    tally = (f"{counts['reviewers']} reviewer(s), {counts['reviewed_records']} record(s) reviewed, "
             f"{counts['stale_decisions']} stale decision(s) left out.")
    return f"""# cai review export

Derived from the generate run `{run.run_dir.resolve()}` and its reviewers' decisions
(`review.sqlite` there). Train on it with `cai train CONFIG.yaml data={run.run_dir.name}-…`.

| file | rows | what |
| --- | --- | --- |
| `records.jsonl` | {counts['records']} | copied from the original run |
| `sft.jsonl` | {counts['sft']} | {sft} |
| `preferences.jsonl` | {counts['preferences']} | {prefs} |
| `labels.jsonl` | {counts['labels']} | {labels} |

{tally}
"""


def export_command(run_dir: Path, out_dir: Path) -> tuple[Path, str]:
    """`cai review RUN_DIR --export OUT_DIR`: (the new run directory, a one-line summary)."""
    run = ReviewRun.open(run_dir)
    counts = export_run(run, out_dir)
    return Path(out_dir), (f"export: {counts['labels']} decision(s) by {counts['reviewers']} reviewer(s) "
                           f"on {counts['reviewed_records']} record(s); sft {counts['sft']} "
                           f"(−{counts['sft_dropped_by_review']} +{counts['sft_added_by_review']}), "
                           f"preferences {counts['preferences']} ({counts['human_pairs']} human)")


# -------------------------------------------------------------------------------------------- serve
