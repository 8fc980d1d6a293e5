"""The corpus regression check of the rule edits: every evaluation-set pair and every human-written pair
gives the rule edits of the committed snapshot (eval/rules-snapshot.jsonl.gz). A change to the rules that
means to change them writes a new snapshot (python -m train.regress_rules --write) and says why."""
import pytest

from diffchat.editor import lexicon
from train import regress_rules


def test_the_corpus_is_every_set_and_the_human_data():
    pairs = regress_rules.corpus()
    assert len(pairs) == len(set(pairs)) > 2500
    assert ("a cat on a bench", "add a red umbrella") in pairs  # multiturn m01, turn 1


def test_a_changed_edit_is_a_difference():
    rows = [{"input": "a cat", "edit": "make it red", "edits": [["a red cat", True]]}]
    assert regress_rules.differences(rows, {("a cat", "make it red"): [["a red cat", True]]}) == []
    assert len(regress_rules.differences(rows, {("a cat", "make it red"): []})) == 1
    assert len(regress_rules.differences(rows, {})) == 1


@pytest.mark.skipif(lexicon.wordnet() is None, reason="the rules use WordNet (NLTK_DATA)")
def test_rule_edits_equal_the_snapshot():
    header, snapshot = regress_rules.read()
    rows = regress_rules.rule_edits(regress_rules.corpus())
    diff = regress_rules.differences(rows, snapshot)
    assert not diff, f"{len(diff)} pairs' rule edits changed, e.g. {diff[:3]}: python -m train.regress_rules"
