"""`cai generate`'s outputs rebuilt from its records: sft.jsonl, preferences.jsonl, pair_reasons.jsonl
and the dataset card (README.md).

The card says what a user needs to trust the data (Gebru et al. 2021, "Datasheets for Datasets";
Mitchell et al. 2019, "Model Cards"): how it was made, how well its claims are supported, why each
preference pair's chosen side wins (pairs counted by reason), and how many revisions the revision
gate rejected and why (`cai.stages.revision_gate`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from cai.core.configs import GenerateConfig
from cai.core.constitution import Constitution
from cai.core.contracts import PairReason, PreferencePair, Record
from cai.core.runs import atomic_write_text
from cai.stages.pairs import revision_pair, sft_example
from cai.stages.revision_gate import citation_only_rules, rejected_by_reason
from rewards.claim_diff import same_substance
from rewards.score import support_rate


def _dump(rows) -> str:
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows)


def write_outputs(run_dir: Path, records: list[Record], constitution: Constitution) -> dict:
    """sft.jsonl, preferences.jsonl and pair_reasons.jsonl, rebuilt from records (atomic, so a
    crash leaves the old); returns the counts the manifest and the card show."""
    sft = [ex for r in records if (ex := sft_example(r)) is not None]
    citation_rules = citation_only_rules(constitution.rules)
    revision, labels = [], []
    for r in records:
        made = revision_pair(r, citation_rules)
        if made is not None:
            revision.append(made[0])
            labels.append(made[1].as_dict())
    judge_labels = [label for r in records for label in r.metadata.get("pair_labels", []) or []]
    judged = _with_reasons([p for r in records for p in r.judge_pairs], judge_labels)
    labels += judge_labels
    atomic_write_text(run_dir / "sft.jsonl", _dump(x.model_dump(mode="json") for x in sft))
    atomic_write_text(run_dir / "preferences.jsonl", _dump(x.model_dump(mode="json") for x in revision + judged))
    atomic_write_text(run_dir / "pair_reasons.jsonl", _dump(labels))
    pairs = revision + judged
    substantive = sum(not same_substance(_text(p.chosen), _text(p.rejected)) for p in pairs)
    claims = [c for r in records for c in r.claims]
    return {"sft": len(sft), "preferences": len(pairs), "revision_pairs": len(revision),
            "judge_pairs": len(judged), "pair_reasons": len(labels), "substantive_pairs": substantive,
            "final_claims": len(claims), "final_support_rate": round(support_rate(claims) or 0.0, 4),
            "draft_support_rate": round(support_rate([c for r in records for c in r.draft_claims]) or 0.0, 4),
            "pair_reason_counts": dict(Counter(reason for label in labels for reason in label["reasons"])),
            "rejected_revisions": rejected_by_reason(r.metadata for r in records),
            "injection_attempts": sum(bool(r.metadata.get("injection_attempts")) for r in records),
            "draft_sources": dict(Counter(r.draft_source or "unknown" for r in records))}


def _with_reasons(pairs: list[PreferencePair], labels: list[dict]) -> list[PreferencePair]:
    """Judge pairs of records written before pairs carried their reason get it from the record's
    `metadata.pair_labels`, so a resumed run's preferences.jsonl says why for every pair."""
    by_id = {label["id"]: label for label in labels}
    out = []
    for p in pairs:
        label = by_id.get(p.id)
        if p.reason is None and label is not None:
            p = p.model_copy(update={"reason": PairReason(reasons=list(label.get("reasons", [])),
                                                          rule_ids=list(label.get("rule_ids", [])),
                                                          claims_fixed=list(label.get("claims_fixed", [])))})
        out.append(p)
    return out


def _text(side) -> str:
    return side if isinstance(side, str) else " ".join(m.content for m in side)


# The dataset card's table: file, the count its row shows, its columns.
CARD_FILES = (
    ("records.jsonl", "records",
     "full trace per question: sources, draft, rounds (critique, revision), final answer, claim verdicts; "
     "`metadata.revision_gate` (each revision accepted or rejected, and why), `metadata.injection_attempts`"),
    ("sft.jsonl", "sft", "`id`, `messages` (system, user with delimited sources, assistant = final answer)"),
    ("preferences.jsonl", "preferences",
     "`id`, `prompt`, `chosen`, `rejected`, `source` (revision / judge), `confidence`, `rule_ids`, "
     "`reason` (why chosen wins: `reasons`, `rule_ids`, `claims_fixed`)"),
    ("pair_reasons.jsonl", "pair_reasons",
     "one per pair: `id`, `reasons`, `rule_ids`, `claims_fixed`, supported / unsupported claims of each side"),
    ("failed.jsonl", "failed", "questions that failed, with the reason (retried by `--resume`)"),
)
REASON_MEANING = {
    "claim-corrected": "a wrong claim replaced by a supported one",
    "claim-withdrawn": "a wrong or rule-breaking claim removed, or an explicit abstention",
    "injection-removed": "an instruction copied from a source dropped",
    "rule-fixed": "a rule the whole answer broke fixed (a marker, a forbidden phrase)",
    "more-supported-claims": "judge: the chosen side has more supported claims",
    "fewer-unsupported-claims": "judge: the chosen side has fewer unsupported claims",
    "dropped-supported-claim": "the revision dropped a claim the checker supported",
    "weakened-supported-claim": "the revision reworded a supported claim into an unsupported one, or lost a figure",
    "less-supported": "the revision's claims are supported at a lower rate than the previous text's",
}


def _table(counts: dict[str, int], head: str, empty: str) -> str:
    rows = "".join(f"| `{k}` | {n} | {REASON_MEANING.get(k, '')} |\n" for k, n in counts.items())
    return f"| {head} | count | meaning |\n| --- | --- | --- |\n{rows}" if counts else f"{empty}\n"


def drafts_line(counts: dict, drafter: dict | None) -> str:
    """Where the drafts came from; with a drafter, which policy wrote them (model, weights, adapter)."""
    sources = counts.get("draft_sources", {})
    said = ", ".join(f"{n} from {DRAFT_SOURCE_MEANING.get(k, k)}" for k, n in sources.items()) or "none"
    if not drafter:
        return f"Drafts: {said}."
    weights = drafter.get("sha256") or drafter.get("weights", "")
    adapter = (f" with the adapter `{drafter['adapter']}` (`{drafter.get('adapter_files', '')[:23]}`)"
               if drafter.get("adapter") else "")
    return (f"Drafts: {said}. The policy `{drafter.get('model')}` (weights `{weights[:23]}`){adapter} drafted "
            f"on-policy (Bai et al. 2022: the critique-revise loop on the policy's own samples), "
            f"temperature {drafter.get('temperature')}, at most {drafter.get('max_new_tokens')} new tokens.")


DRAFT_SOURCE_MEANING = {"input": "the questions file", "teacher": "the teacher", "policy": "the policy"}


def dataset_card(config: GenerateConfig, constitution: Constitution, counts: dict, drafter: dict | None = None) -> str:
    files = "".join(f"| `{name}` | {counts.get(key, 0)} | {columns} |\n" for name, key, columns in CARD_FILES)
    pairs = counts.get("preferences", 0)
    substantive = counts.get("substantive_pairs", 0)
    reasons = _table(counts.get("pair_reason_counts", {}), "why chosen wins", "No preference pairs.")
    rejected = _table(counts.get("rejected_revisions", {}), "rejected revisions, by reason", "")
    return f"""# cai generate run

Data made by `cai generate` with the `{config.teacher.backend}` teacher under the constitution
`{constitution.name}` v{constitution.version} (sha256 `{constitution.content_hash()[:16]}`).

| file | rows | columns |
| --- | --- | --- |
{files}
{drafts_line(counts, drafter)}
Claim support rate: draft {counts.get('draft_support_rate')} → final {counts.get('final_support_rate')}.

## Preference pairs

{substantive} of {pairs} pairs differ in what they claim, not only in citations. A pair is written only
when its chosen side fixes something; a pair counts under each of its reasons:

{reasons}
## Revision gate

A revision that drops or weakens a supported claim, or is less supported than the text it revises, is
rejected: the previous text is kept and the revision never becomes an SFT target or a chosen side.

{rejected}
Injection attempts (instruction-like text in a draft, dropped from every output): {counts.get('injection_attempts', 0)}.

```python
from datasets import load_dataset
sft = load_dataset("json", data_files="sft.jsonl", split="train")
prefs = load_dataset("json", data_files="preferences.jsonl", split="train")
```
Both load into TRL's `SFTTrainer` and `DPOTrainer` / `RewardTrainer` without renaming columns.
The data is derived from your documents and questions: it carries their licence and sensitivity.
"""


def save_outputs(run_dir: Path, config: GenerateConfig, constitution: Constitution, records: list[Record],
                 counts: dict, drafter: dict | None = None) -> dict:
    """Write the training files and the card; returns `counts` with the outputs' counts added.
    `drafter`: the manifest's entry for the policy that drafted (`cai.stages.drafting`), if one did."""
    counts = {**counts, **write_outputs(run_dir, records, constitution)}
    atomic_write_text(run_dir / "README.md", dataset_card(config, constitution, counts, drafter))
    return counts
