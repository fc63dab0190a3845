"""The hybrid reward as a service: rows (a response and the label of its prompt) in, a total
reward and its parts out. What `cai reward serve` answers over HTTP and what the in-process
reward functions of `rewards.engines` (verl, OpenRLHF, TRL) call.

`RewardService` holds what takes seconds to load, loaded once: the `HybridReward` of a train
config (checker, preference model, constitution, weights; `rewards.hybrid`) and the index the
labels point into (page texts and document hashes; `rewards.rl_prompts.resolve_label`). `score`
scores a batch:

- each row's label is resolved to the prompt the run trained on, its pages and its question
  (cached: a GRPO group or PPO's several samples share one prompt); a row whose label cannot be
  used gets that reason as its error and no reward, and the other rows are scored;
- the usable rows go to the `HybridReward` in one call, so the preference model scores them in
  batches and the running normalisation advances once per batch, as in `cai train`;
- should the reward raise on a batch, each row is scored alone, so one hostile row fails alone.

The reward keeps state (the running mean and std of each part), so `score` holds a lock: the
service is safe to call from several threads (verl's reward loop runs `compute_score` in a
thread pool), one batch at a time.
"""

from __future__ import annotations

import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cai.core.errors import UserError
from rewards.hybrid import PARTS, HybridReward
from rewards.rl_prompts import LabelError, Resolved, parse_label, resolve_label

MAX_RESPONSE_CHARS = 100_000  # a response longer than this is no policy sample (max_new_tokens bounds those)
RESOLVED_CACHE = 4096  # labels kept resolved (a few KB each: a prompt and its pages)


class RowError(ValueError):
    """A row that cannot be scored, known before scoring: its message is the row's error."""


@dataclass(frozen=True)
class Row:
    """One thing to score: the policy's response and the label of its prompt (a JSON string or
    object); `error`: why the row cannot be scored, known before scoring (it is then reported as is)."""

    response: object
    label: object
    error: str | None = None


@dataclass
class Scored:
    """A row's result: the reward and its raw parts (`rewards.hybrid.PARTS` present in this
    reward), or an error and no reward."""

    reward: float | None
    parts: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class RewardService:
    """See the module docstring. `log`: where a row's internal error (with its traceback) goes;
    callers never see tracebacks, only the row's one-line error."""

    def __init__(self, reward: HybridReward, index: Path, *, log: Callable[[str], None] | None = None) -> None:
        from rag.store import DocStore

        self.reward = reward
        self.index = Path(index)
        self.store = DocStore.open(self.index)
        self.shas = {d.doc_id: d.sha256 for d in self.store.documents()}
        self.parts = [p for p in PARTS if p != "pm" or reward.preference is not None]
        self.log = log
        self.lock = threading.Lock()
        self.rows_scored = 0
        self._resolved: OrderedDict[str, Resolved] = OrderedDict()

    def close(self) -> None:
        self.store.close()

    def _resolve(self, raw_label) -> Resolved:
        key = raw_label if isinstance(raw_label, str) else repr(raw_label)
        if (hit := self._resolved.get(key)) is not None:
            self._resolved.move_to_end(key)
            return hit
        resolved = resolve_label(parse_label(raw_label), self.store.page, self.shas)
        self._resolved[key] = resolved
        if len(self._resolved) > RESOLVED_CACHE:
            self._resolved.popitem(last=False)
        return resolved

    def _prepare(self, row: Row) -> Resolved:
        if row.error is not None:
            raise RowError(row.error)
        if not isinstance(row.response, str):
            raise RowError(f"response: expected a string, got {type(row.response).__name__}")
        if len(row.response) > MAX_RESPONSE_CHARS:
            raise RowError(f"response: {len(row.response)} characters, over the limit of {MAX_RESPONSE_CHARS}")
        return self._resolve(row.label)

    def score(self, rows: Sequence[Row]) -> list[Scored]:
        """One `Scored` per row, in order (see the module docstring)."""
        with self.lock:
            out: list[Scored | None] = [None] * len(rows)
            ready: list[tuple[int, Resolved]] = []
            for i, row in enumerate(rows):
                try:
                    ready.append((i, self._prepare(row)))
                except (LabelError, RowError) as e:
                    out[i] = Scored(None, error=str(e))
            if ready:
                try:
                    results = self._score(rows, ready)
                except Exception:  # noqa: BLE001 — one bad row must not fail its whole batch: retry alone
                    results = [self._score_alone(rows, item) for item in ready]
                for (i, _), result in zip(ready, results, strict=True):
                    out[i] = result
            self.rows_scored += len(ready)
            return out  # type: ignore[return-value]  # every slot is filled above

    def _score(self, rows: Sequence[Row], ready: list[tuple[int, Resolved]]) -> list[Scored]:
        totals = self.reward([r.prompt for _, r in ready], [rows[i].response for i, _ in ready],
                             sources=[r.sources for _, r in ready], question=[r.question for _, r in ready])
        raw = self.reward.last_parts
        return [Scored(float(total), {p: float(raw[p][k]) for p in self.parts})
                for k, total in enumerate(totals)]

    def _score_alone(self, rows: Sequence[Row], item: tuple[int, Resolved]) -> Scored:
        try:
            return self._score(rows, [item])[0]
        except Exception:  # noqa: BLE001 — reported as this row's error; the traceback goes to the log only
            if self.log:
                self.log(f"row {item[0]}: the reward raised:\n{traceback.format_exc()}")
            return Scored(None, error="the reward failed on this row (the reason is in the server's log)")


def preference_dir(path: Path | None) -> Path | None:
    """The preference model to load: `path` itself, or a `cai train` run's `reward/model`. None
    stays None (the reward then runs without its preference part, as `cai train` before a reward
    stage). UserError when `path` is neither."""
    if path is None:
        return None
    path = Path(path)
    if (path / "reward" / "model").is_dir():
        return path / "reward" / "model"
    if (path / "config.json").is_file():
        return path
    raise UserError(f"--preference {path}: not a preference model (no config.json) nor a `cai train` run with "
                    "reward/model; give RUN_DIR of a `cai train` that ran the reward stage, or its reward/model")


def open_service(config, preference: Path | None = None, *, normalise: bool = True,
                 log: Callable[[str], None] | None = None) -> RewardService:
    """The service a train config (`cai.core.configs.TrainConfig`) describes: its data run's
    constitution, its `hybrid:` section, its index (`index`, else the data run's), and the
    preference model at `preference` (see `preference_dir`)."""
    from cai.core.constitution import load_constitution
    from cai.core.runs import generate_run_config

    data_cfg = generate_run_config(config.data)
    index = config.index or (Path(data_cfg["index"]) if data_cfg.get("index") else None)
    if index is None or not Path(index).is_dir():
        raise UserError(f"index: {index} not found; the reward checks answers against the data run's source pages: "
                        "set index=PATH to the `cai ingest` index the run used")
    constitution = load_constitution(data_cfg.get("constitution", "faithfulness"))
    reward = HybridReward.from_config(config.hybrid, constitution, preference_dir(preference), normalise=normalise)
    return RewardService(reward, Path(index), log=log)
