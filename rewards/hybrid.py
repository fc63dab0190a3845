"""The hybrid reward: one callable for TRL GRPO/RLOO `reward_funcs` and for the project's PPO.

    reward = w_pm  * z(preference-model score)
           + w_sup * z(share of claims the checker marks `supported`)
           + w_cit * z(citation F1: ALCE precision and recall, Gao et al. 2023, §2.3)
           - w_rule * z(rule penalty = sum over violations of SEVERITY_WEIGHT[severity] * rule.weight)

Each raw part is standardised with its own running mean and standard deviation (Welford's online
algorithm, Welford 1962; population variance M2/n), updated with the batch before it is
normalised, and clipped to [-clip, clip], so no part dominates by scale and one outlier cannot
spike the return (as reward normalisation in RLHF implementations: Ziegler et al. 2019; Huang et
al. 2024, "The N+ implementation details of RLHF with PPO"). A part whose running std is still 0
contributes 0. With `normalise=False` the raw parts are combined as they are.

Fail-closed: the checker is wrapped in `FailClosed`, so a claim that could not be checked counts
as not supported; a completion without sources gets support and citation 0.

The preference model is optional (`preference=None` sets its weight to 0 and skips it), so the
reward works before a PM is trained. Every part of the last call is kept in `last_parts` (raw and
normalised lists, one value per completion) for logging; under TRL GRPO/RLOO their batch means are
also reported through the trainer's `log_metric` hook.

TRL passes dataset columns as keyword lists, one value per completion: `sources` (a list of page
dicts `{"doc_id", "page", "text"}`; extra keys such as `score` or `locator` are ignored),
`question` (the question each prompt asks; without it claims are checked with no question) and
`tags` (rule filters). Prompts are never parsed back: what the reward needs travels as columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cai.core.configs import RewardWeightsConfig
from cai.core.constitution import SEVERITY_WEIGHT, Constitution
from cai.core.contracts import RuleViolation, SourcePage, Verdict
from rewards.checker import Checker, FailClosed, get_checker
from rewards.citations import citation_metrics
from rewards.rules import evaluate_rules

PARTS = ("pm", "support", "citation", "rule_penalty")


class RunningStat:
    """Welford's online mean and (population) variance over every value seen so far."""

    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def update(self, values: Sequence[float]) -> None:
        for x in values:
            self.n += 1
            delta = x - self.mean
            self.mean += delta / self.n
            self.m2 += delta * (x - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else 0.0

    def normalise(self, values: Sequence[float], clip: float, eps: float = 1e-8) -> list[float]:
        """(x - mean) / std, clipped to [-clip, clip]; 0 while std is ~0 (nothing to scale by)."""
        std = self.std
        if std < eps:
            return [0.0 for _ in values]
        return [max(-clip, min(clip, (x - self.mean) / std)) for x in values]


def rule_penalty(violations: Sequence[RuleViolation], constitution: Constitution) -> float:
    """Sum over violations of SEVERITY_WEIGHT[severity] * the rule's weight (1 for unknown ids)."""
    weights = {r.id: r.weight for r in constitution.rules}
    return sum(SEVERITY_WEIGHT[v.severity] * weights.get(v.rule_id, 1.0) for v in violations)


def _text(x) -> str:
    """A completion or prompt as text: a string, or the last message's content."""
    if isinstance(x, str):
        return x
    return x[-1]["content"] if x else ""


def _sources(pages) -> list[SourcePage]:
    out = []
    for page in pages or []:
        get = page.get if isinstance(page, dict) else lambda k, p=page: getattr(p, k, None)
        if isinstance(get("text"), str) and get("doc_id") and get("page"):
            out.append(SourcePage(doc_id=str(get("doc_id")), page=int(get("page")), text=get("text")))
    return out


@dataclass
class HybridReward:
    """`HybridReward(constitution=..., preference=...)(prompts, completions, sources=[...]) -> list[float]`.

    `checker`: a `Checker` or a name for `get_checker` (wrapped fail-closed either way).
    `constitution`: a resolved `Constitution` or a name/path for `load_constitution`.
    `preference`: a `PreferenceScorer`, a model directory, or None (PM weight becomes 0).
    """

    constitution: Constitution | str = "faithfulness"
    checker: Checker | str = "offline"
    preference: object | None = None
    weights: RewardWeightsConfig = field(default_factory=RewardWeightsConfig)  # `hybrid:` of the train config
    clip: float = 5.0
    normalise: bool = True
    last_parts: dict[str, list[float]] = field(default_factory=dict, init=False)

    def __post_init__(self):
        self.__name__ = "hybrid_reward"  # TRL names reward functions by __name__ in its logs
        if isinstance(self.constitution, str):
            from cai.core.constitution import load_constitution

            self.constitution = load_constitution(self.constitution)
        if isinstance(self.checker, str):
            self.checker = get_checker(self.checker)
        elif not isinstance(self.checker, FailClosed):
            self.checker = FailClosed(self.checker)
        if isinstance(self.preference, str | Path):
            from rewards.preference import PreferenceScorer

            self.preference = PreferenceScorer(self.preference)
        if self.preference is None:  # a copy: the caller's config is not changed
            self.weights = self.weights.model_copy(update={"pm": 0.0})
        self.stats = {name: RunningStat() for name in PARTS}

    @classmethod
    def from_config(cls, weights: RewardWeightsConfig, constitution: Constitution | str,
                    preference: Path | None = None, *, normalise: bool = True) -> HybridReward:
        """The reward a train config's `hybrid:` section describes (its checker and weights), with the
        preference model in `preference` when given: what `cai train` and `cai reward serve` build."""
        return cls(constitution=constitution, checker=weights.checker, preference=preference, weights=weights,
                   normalise=normalise)

    def raw_parts(self, prompts: Sequence, completions: Sequence, sources: Sequence, questions: Sequence[str | None],
                  tags: Sequence | None = None) -> dict[str, list[float]]:
        """Unnormalised parts, one list per part with one value per completion."""
        parts: dict[str, list[float]] = {name: [] for name in PARTS if name != "pm" or self.preference is not None}
        if self.preference is not None:
            parts["pm"] = [float(x) for x in self.preference.score(list(prompts), list(completions))]
        for i, completion in enumerate(completions):
            answer, pages, question = _text(completion), _sources(sources[i]), questions[i]
            verdicts = self.checker.check(question, answer, pages)
            parts["support"].append(
                sum(v.verdict == Verdict.supported for v in verdicts) / len(verdicts) if verdicts else 0.0)
            cit = (citation_metrics(self.checker, question, answer, pages) if pages
                   else {"precision": 0.0, "recall": 0.0})
            p, r = cit["precision"], cit["recall"]
            parts["citation"].append(2 * p * r / (p + r) if p + r else 0.0)
            violations = evaluate_rules(self.constitution, question, answer, verdicts, pages,
                                        tags=tags[i] if tags else None)
            parts["rule_penalty"].append(rule_penalty(violations, self.constitution))
        return parts

    def combine(self, parts: dict[str, list[float]]) -> list[float]:
        """Weighted sum of the (normalised, clipped) parts; updates the running stats first."""
        n = len(next(iter(parts.values())))
        total = [0.0] * n
        for name, values in parts.items():
            if self.normalise:
                self.stats[name].update(values)
                values = self.stats[name].normalise(values, self.clip)
                self.last_parts[f"{name}_z"] = values
            sign = -1.0 if name == "rule_penalty" else 1.0
            w = getattr(self.weights, name)
            total = [t + sign * w * v for t, v in zip(total, values, strict=True)]
        return total

    def state_dict(self) -> dict[str, dict[str, float]]:
        """The running statistics (JSON-able), so a resumed training run normalises as before."""
        return {name: {"n": s.n, "mean": s.mean, "m2": s.m2} for name, s in self.stats.items()}

    def load_state_dict(self, state: dict[str, dict[str, float]]) -> None:
        for name, values in state.items():
            if name in self.stats:
                stat = self.stats[name]
                stat.n, stat.mean, stat.m2 = int(values["n"]), float(values["mean"]), float(values["m2"])

    def __call__(self, prompts: Sequence, completions: Sequence, **columns) -> list[float]:
        """Rewards, shape (len(completions),). Columns: `sources` (required for support and
        citation), `question` and `tags` (optional); any others (TRL's) are ignored."""
        n = len(completions)
        sources = columns.get("sources") or [[] for _ in range(n)]
        questions = columns.get("question") or [None] * n
        parts = self.raw_parts(prompts, completions, sources, questions, columns.get("tags"))
        self.last_parts = dict(parts)
        rewards = self.combine(parts)
        self.last_parts["reward"] = rewards
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            for name, values in parts.items():
                log_metric(f"hybrid/{name}", sum(values) / n)
        return rewards
