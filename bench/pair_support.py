"""Does any preference pair of a generate run prefer the less supported answer? (issue #22)

For each pair of RUN_DIR/preferences.jsonl, both sides are checked by the offline checker against the
pages its record retrieved (the index the run used), and the supported claims of each side counted.
A pair whose chosen side has fewer supported claims than its rejected side, or a chosen side with an
unsupported claim where the rejected side has none, is listed: the revision gate
(`cai.stages.revision_gate`) exists so that there are none.

    HF_HUB_OFFLINE=1 python bench/pair_support.py RUN_DIR [--index DIR] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cai.core.contracts import PreferencePair, Record, Verdict  # noqa: E402
from cai.core.runs import generate_run_config, read_jsonl  # noqa: E402
from rag.quotes import gather_sources  # noqa: E402
from rag.store import DocStore  # noqa: E402
from rewards.checker import get_checker  # noqa: E402


def _text(side) -> str:
    return side if isinstance(side, str) else " ".join(m.content for m in side if m.role == "assistant")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--index", type=Path, default=None, help="default: the index in the run's config.yaml")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    index = args.index or Path(generate_run_config(args.run_dir)["index"])
    records = {}
    for _, obj in read_jsonl(args.run_dir / "records.jsonl"):
        record = Record.model_validate(obj)
        records[record.id] = record
    checker, store = get_checker("offline"), DocStore.open(index)
    counts, worse = Counter(), []
    try:
        for _, obj in read_jsonl(args.run_dir / "preferences.jsonl"):
            pair = PreferencePair.model_validate(obj)
            # "<record id>:revision" or "<record id>:judge:<principle>[:n]"; record ids may hold colons.
            record = next((records[r] for k in (1, 2, 3) if (r := pair.id.rsplit(":", k)[0]) in records), None)
            if record is None or not record.sources:
                counts["no record"] += 1
                continue
            pages = gather_sources(record.sources, store.page).pages
            sides = {}
            for name, side in (("chosen", pair.chosen), ("rejected", pair.rejected)):
                verdicts = checker.check(record.question, _text(side), pages)
                sides[name] = (sum(v.verdict == Verdict.supported for v in verdicts),
                               sum(v.verdict != Verdict.supported for v in verdicts))
            counts[pair.source] += 1
            (chosen_ok, chosen_bad), (rejected_ok, rejected_bad) = sides["chosen"], sides["rejected"]
            if chosen_ok < rejected_ok or (chosen_bad and not rejected_bad):
                worse.append({"id": pair.id, "chosen": sides["chosen"], "rejected": sides["rejected"]})
    finally:
        store.close()
    result = {"run": str(args.run_dir), "pairs": dict(counts), "chosen_less_supported": worse}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
