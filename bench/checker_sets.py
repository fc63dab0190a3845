"""The FinanceBench dev sets of `bench/checker.py` (rows in `cai score` input form with `label`).

* `slice_rows`: a perturbation slice's originals (labelled supported) followed by its perturbed copies;
* `adversarial_rows`: answers no checker may call supported, from each question's first labelled row;
* `direction_flip_rows`: supported answers with one direction word turned to its opposite;
* `numbers_in_evidence_baseline`: "every number in the answer appears verbatim in the evidence".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag.sentences import sentence_spans
from rewards.claims import is_header_row
from rewards.numbers import checkable, extract_quantities
from rewards.premises import content_tokens


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def numbers_in_evidence_baseline(row: dict) -> bool:
    """Baseline: supported iff every number written in the answer occurs verbatim in the evidence."""
    evidence = " ".join(s["text"] for s in row["sources"])
    figures = [q.text.strip("$() ") for q in extract_quantities(row["answer"])]
    return all(f in evidence for f in figures)


def slice_rows(labelled: dict[str, dict], perturbed: list[dict], name: str) -> list[dict]:
    """The originals (supported) of a slice's perturbations, followed by the perturbations."""
    chosen = [p for p in perturbed if p["slice"] == name]
    originals = {p["id"].rsplit(":", 1)[0] for p in chosen}
    return [labelled[i] for i in sorted(originals) if i in labelled] + chosen


UNRELATED = "The chief executive enjoys sailing with her family on most weekends."


def adversarial_rows(labelled: list[dict]) -> list[dict]:
    """Answers no checker may call supported, from each question's first labelled row."""
    rows, seen = [], set()
    for row in labelled:
        key = row.get("question_id", row["id"])
        if key in seen:
            continue
        seen.add(key)
        text = "\n".join(s["text"] for s in row["sources"])
        lowered, doc_ids = text.lower(), " ".join(s["doc_id"] for s in row["sources"]).lower()
        words = [w for w in content_tokens(row["question"]) if len(w) > 4 and w in lowered and w not in doc_ids]
        figures = [" ".join(q.text.split()) for q in extract_quantities(text) if checkable(q)]
        header = next((text[a:b].strip() for a, b in sentence_spans(text) if is_header_row(text[a:b])), None)
        word = (re.search(rf"\b{re.escape(words[0])}\w*", row["question"], re.IGNORECASE).group(0).lower()
                if words else "")
        answers = {"repeat": f"{word.capitalize()} {word} {word}." if word else None, "one-word": "It rained.",
                   "unrelated": UNRELATED,
                   "measure": f"{figures[0]} giraffes ate {figures[1]}." if len(figures) > 1 else None,
                   "header": header}
        rows += [{"id": f"{row['id']}:adv:{kind}", "question": row["question"], "answer": answer,
                  "sources": row["sources"], "label": "unsupported"} for kind, answer in answers.items() if answer]
    return rows


# Direction words and their opposites, for the direction-flip set (built independently of the
# checker's own word lists in rewards.direction).
_OPPOSITE = {"increased": "decreased", "increase": "decrease", "increases": "decreases",
             "increasing": "decreasing", "rose": "fell", "rise": "fall", "rises": "falls", "grew": "shrank",
             "higher": "lower", "up": "down",
             "declined": "increased", "decline": "increase", "declines": "increases", "dropped": "rose"}
_OPPOSITE.update({v: k for k, v in list(_OPPOSITE.items()) if v not in _OPPOSITE})
_OPPOSITE_RE = re.compile(r"\b(" + "|".join(sorted(_OPPOSITE, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_NEGATED_RE = re.compile(r"\b(?:not|no|never|without)\b|n't", re.IGNORECASE)


def direction_flip_rows(labelled: list[dict]) -> list[dict]:
    """Each supported answer with the first direction word of its first sentence that has a figure
    and no negation replaced by its opposite ("decreased from $1,874 million to $1,093 million" ->
    "increased ..."): a wrong answer with every figure still in the sources."""
    rows = []
    for row in labelled:
        if row["label"] != "supported":
            continue
        answer = row["answer"]
        for start, end in sentence_spans(answer):
            sentence = answer[start:end]
            if _NEGATED_RE.search(sentence) or not any(checkable(q) for q in extract_quantities(sentence)):
                continue
            m = next((m for m in _OPPOSITE_RE.finditer(sentence) if m.group(1).lower() not in ("up", "down")
                      or re.match(r"\s+(?:from|by|\$?\d)", sentence[m.end():])), None)
            if m is None:
                continue
            word = _OPPOSITE[m.group(1).lower()]
            word = word.capitalize() if m.group(1)[0].isupper() else word
            flipped = answer[: start + m.start()] + word + answer[start + m.end() :]
            rows.append({"id": f"{row['id']}:flip", "question": row["question"], "answer": flipped,
                         "sources": row["sources"], "label": "unsupported"})
            break
    return rows
