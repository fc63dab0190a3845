"""The hybrid reward: Welford normalisation and clipping against hand-computed values, weights and
rule penalties on hand-built cases, and a real call with the offline checker in TRL's shapes."""

from __future__ import annotations

import json
import math

import pytest

from cai.core.configs import RewardWeightsConfig
from cai.core.constitution import Constitution, Rule, load_constitution
from cai.core.contracts import RuleViolation
from rewards.hybrid import HybridReward, RunningStat, rule_penalty

PAGE = {"doc_id": "acme-10k", "page": 4,
        "text": "Acme reported net sales of $412.3 million for fiscal 2024. Gross margin was 38.1%.",
        "score": 0.9, "locator": {"doc_id": "acme-10k", "page": 4, "char_start": 0, "char_end": 10, "sentence": 0}}
QUESTION = "What were Acme's net sales in fiscal 2024?"
PROMPT = [{"role": "system", "content": "Answer from the sources."},
          {"role": "user", "content": f"<sources>\n{PAGE['text']}\n</sources>\n\nQuestion: {QUESTION}"}]
GOOD = "Acme reported net sales of $412.3 million for fiscal 2024 [acme-10k p.4]."
BAD = "Acme's net sales were $512.9 million in fiscal 2023."


def _rule(rule_id: str, severity: str, weight: float) -> Rule:
    return Rule(id=rule_id, principle="p", critique="c", revision="r", severity=severity, weight=weight)


def test_running_stat_matches_hand_computation():
    stat = RunningStat()
    stat.update([1.0, 2.0, 3.0, 4.0])
    assert stat.mean == pytest.approx(2.5) and stat.std == pytest.approx(math.sqrt(1.25))  # population variance
    z = stat.normalise([1.0, 2.0, 3.0, 4.0], clip=5.0)
    assert z == pytest.approx([-1.5 / math.sqrt(1.25), -0.5 / math.sqrt(1.25), 0.5 / math.sqrt(1.25),
                               1.5 / math.sqrt(1.25)])
    stat.update([10.0])  # 1,2,3,4,10: mean 4, squared deviations 9+4+1+0+36 = 50, var 10
    assert stat.mean == pytest.approx(4.0) and stat.std == pytest.approx(math.sqrt(10.0))
    assert stat.normalise([10.0, 4.0, -100.0], clip=1.5) == pytest.approx([1.5, 0.0, -1.5])  # 6/3.16 = 1.90 -> clipped
    assert RunningStat().normalise([3.0], clip=5.0) == [0.0]
    single = RunningStat()
    single.update([7.0])
    assert single.normalise([7.0], clip=5.0) == [0.0]  # std 0: nothing to scale by


def test_rule_penalty_is_severity_weight_times_rule_weight():
    constitution = Constitution(name="t", version="1", description="", chain=["t"], files=[], comparison_principles=[],
                                rules=[_rule("a", "major", 2.0), _rule("b", "minor", 1.0), _rule("c", "critical", 0.5),
                                       _rule("d", "info", 9.0)])
    violations = [RuleViolation(rule_id="a", severity="major"), RuleViolation(rule_id="a", severity="major"),
                  RuleViolation(rule_id="b", severity="minor"), RuleViolation(rule_id="c", severity="critical"),
                  RuleViolation(rule_id="d", severity="info")]
    assert rule_penalty(violations, constitution) == pytest.approx(1.0 * 2 + 1.0 * 2 + 0.25 * 1 + 2.0 * 0.5 + 0.0)
    assert rule_penalty([], constitution) == 0.0


def test_combine_weights_signs_and_normalisation_by_hand():
    reward = HybridReward(weights=RewardWeightsConfig(pm=9.0, support=2.0, citation=0.5, rule_penalty=3.0),
                          normalise=False)
    assert reward.weights.pm == 0.0  # no preference model: its weight is zeroed
    parts = {"support": [1.0, 0.5], "citation": [1.0, 0.0], "rule_penalty": [0.0, 2.25]}
    assert reward.combine(parts) == pytest.approx([2 * 1 + 0.5 * 1 - 0, 2 * 0.5 + 0 - 3 * 2.25])
    normed = HybridReward(weights=RewardWeightsConfig(support=1.0, citation=1.0, rule_penalty=1.0), clip=0.5)
    # per part, two values: z = -1 and +1 (mean midway, population std half the gap), clipped to 0.5
    out = normed.combine({"support": [0.0, 1.0], "citation": [0.2, 0.4], "rule_penalty": [4.0, 0.0]})
    assert out == pytest.approx([-0.5 - 0.5 - 0.5, 0.5 + 0.5 + 0.5])
    assert normed.last_parts["rule_penalty_z"] == pytest.approx([0.5, -0.5])
    assert normed.stats["support"].n == 2 and normed.stats["citation"].mean == pytest.approx(0.3)


def test_state_dict_round_trip_resumes_normalisation():
    first = HybridReward(weights=RewardWeightsConfig(support=1.0, citation=0.0, rule_penalty=0.0))
    first.combine({"support": [0.0, 1.0, 1.0], "citation": [0.0] * 3, "rule_penalty": [0.0] * 3})
    resumed = HybridReward(weights=RewardWeightsConfig(support=1.0, citation=0.0, rule_penalty=0.0))
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))  # through JSON, as a checkpoint stores it
    batch = {"support": [0.5, 0.0], "citation": [0.0] * 2, "rule_penalty": [0.0] * 2}
    assert resumed.combine(dict(batch)) == pytest.approx(first.combine(dict(batch)))
    assert resumed.stats["support"].n == 5


@pytest.fixture(scope="module")
def faithfulness():
    return load_constitution("faithfulness")


def test_real_call_in_trl_shapes(faithfulness):
    logged: dict[str, float] = {}
    reward = HybridReward(constitution=faithfulness, normalise=False)
    completions = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BAD}],
                   [{"role": "assistant", "content": GOOD}]]
    out = reward([PROMPT] * 3, completions, sources=[[PAGE], [PAGE], []], trainer_state=None,
                 log_metric=lambda name, value: logged.__setitem__(name, value), completion_ids=[[1], [2], [3]])
    parts = reward.last_parts
    assert "pm" not in parts and len(out) == 3
    assert parts["support"][:2] == [1.0, 0.0] and parts["citation"][:2] == [1.0, 0.0]
    # critical claims-supported, weight 3
    assert parts["rule_penalty"][0] == 0.0 and parts["rule_penalty"][1] >= 3.0 * 2.0
    assert parts["support"][2] == 0.0 and parts["citation"][2] == 0.0  # no sources: fail closed, nothing earned
    assert out[0] == pytest.approx(1.0 + 0.5 * 1.0) and out[0] > out[2] > out[1]
    assert logged["hybrid/support"] == pytest.approx(1 / 3) and set(logged) == {"hybrid/support", "hybrid/citation",
                                                                                 "hybrid/rule_penalty"}


def test_preference_model_part_is_weighted_in(tmp_path, faithfulness):
    from rewards.preference import PreferenceScorer
    from tests.test_preference import tiny_base

    scorer = PreferenceScorer(tiny_base(tmp_path))
    reward = HybridReward(constitution=faithfulness, preference=scorer, normalise=False,
                          weights=RewardWeightsConfig(pm=2.0, support=0.0, citation=0.0, rule_penalty=0.0))
    out = reward([PROMPT, PROMPT], [GOOD, BAD], sources=[[PAGE], [PAGE]], question=[QUESTION, QUESTION])
    expected = scorer.score([PROMPT, PROMPT], [GOOD, BAD])
    assert reward.last_parts["pm"] == pytest.approx(expected) and out == pytest.approx([2 * x for x in expected])
