"""The invariants every candidate edit must keep (diffchat/editor/invariants.py), and the default editor's
use of them: a candidate that breaks a severe one loses, and when all do the editor declines."""
import pytest

from diffchat.editor import invariants
from diffchat.editor.rerank import RerankedEditor


def names(source, instruction, candidate, severe_only=False):
    return {v.name for v in invariants.check(source, instruction, candidate) if v.severe or not severe_only}


@pytest.mark.parametrize("source, instruction, candidate, broken", [
    # the subject replaced by the command or by its new attribute
    ("a boy flying a kite in a park", "make him a bit older, like 15", "a bit older like 15 flying a kite in a park",
     "subject_lost"),
    ("a dog sitting on a porch", "make the dog giant", "a giant sitting on a porch", "attribute_misplaced"),
    # the attribute on the wrong noun
    ("a woman in a red coat holding an umbrella", "make the umbrella yellow",
     "a yellow woman in a red coat holding an umbrella", "attribute_misplaced"),
    ("an astronaut in a white suit holding a cat", "make the suit gold", "an astronaut in a white suit holding a gold cat",
     "attribute_misplaced"),
    # an addition reduced to its place phrase
    ("a cafe terrace in paris at night", "put the Eiffel tower in the distance",
     "a cafe terrace in paris at night in the distance", "content_missing"),
])
def test_severe_breaks(source, instruction, candidate, broken):
    assert broken in names(source, instruction, candidate, severe_only=True)


@pytest.mark.parametrize("source, instruction, candidate, broken", [
    ("A man in a grey coat holding a green umbrella", "can you make the umbrella blue instead",
     "A man in a grey coat holding a green umbrella blue", "attribute_kept"),
    ("a vintage car parked by the sea", "make the car bright red instead",
     "a vintage car bright red instead parked by the sea", "request_words"),
    ("a boy flying a kite", "make him older, like 15", "a boy like 15 flying a kite", "request_words"),
    ("a cafe terrace in paris at night", "add the Eiffel tower",
     "a cafe terrace in paris at night with the Eiffel tower, in paris", "duplicated"),
])
def test_mild_breaks(source, instruction, candidate, broken):
    found = invariants.check(source, instruction, candidate)
    assert broken in {v.name for v in found}
    assert not invariants.severe(found)


@pytest.mark.parametrize("source, instruction, candidate", [
    # correct edits, as people write them, break nothing severe
    ("A man in a grey coat holding a green umbrella", "can you make the umbrella blue instead",
     "A man in a grey coat holding a blue umbrella"),
    ("a knight standing on a hill", "make the knight huge", "a huge knight standing on a hill"),
    ("a boy flying a kite in a park", "make him a girl", "a girl flying a kite in a park"),
    ("Horses Grazing in the Pasture by Amelia Crane", "zebras instead", "Zebras Grazing in the Pasture by Amelia Crane"),
    ("Tourists taking photos in front of the Colosseum, Rome, Italy", "remove all the people",
     "The Colosseum, Rome, Italy"),
    ("pencil sketch of a ballerina tying her shoes", "oil painting pls", "oil painting of a ballerina tying her shoes"),
    ("Gustav Klimt - The Kiss (detail)", "what if it was by picasso", "Pablo Picasso - The Kiss (detail)"),
    ("a baby elephant playing in the water", "add its mom", "a baby elephant playing in the water with its mother"),
    ("Vintage red bicycle leaning against a yellow wall", "bike should be blue",
     "Vintage blue bicycle leaning against a yellow wall"),
    ("a snowy cabin in the woods", "make it summer", "a cabin in the woods in summer"),
    ("a cafe terrace in paris at night", "put the Eiffel tower in the distance",
     "a cafe terrace in paris at night, the Eiffel tower in the distance"),
])
def test_correct_edits_pass(source, instruction, candidate):
    assert not names(source, instruction, candidate, severe_only=True)


class FakeJudge:
    """Stands in for the rewrite model's likelihood: the same for every candidate."""
    runtime, name, options, load_seconds = "transformers", "judge", None, 0.0

    def score(self, pair, candidates):
        return [0.0] * len(candidates)


def editor():
    return RerankedEditor(FakeJudge(), FakeJudge(), rules=False)


def test_pick_prefers_a_candidate_that_keeps_the_invariants():
    ed = editor()
    pair = ("a boy flying a kite in a park", "make him a bit older, like 15")
    picked = ed.pick(pair, ["a bit older like 15 flying a kite in a park", "a teenage boy flying a kite in a park"])
    assert picked == "a teenage boy flying a kite in a park"
    assert ed.stats["rejected: subject_lost"] == 1 and not ed.stats["declined"]


def test_pick_declines_when_every_candidate_breaks_a_severe_invariant():
    ed = editor()
    pair = ("a cafe terrace in paris at night", "put the Eiffel tower in the distance")
    picked = ed.pick(pair, ["a cafe terrace in paris in the distance", "a cafe terrace in paris at the distance"])
    assert picked == pair[0]  # unchanged: the chat says it could not make the change
    assert ed.stats["declined"] == 1


def test_without_the_tagger_nothing_is_checked(monkeypatch):
    from diffchat.editor import lexicon

    monkeypatch.setattr(lexicon, "tagger", lambda: None)
    assert invariants.check("a boy flying a kite", "make him older", "older flying a kite") == []


@pytest.mark.parametrize("source, instruction, candidate, mended", [
    ("a dog sitting on a porch", "make the dog black with red eyes", "a dog black with red eyes sitting on a porch",
     "a black dog with red eyes sitting on a porch"),
    ("A man holding a green umbrella", "can you make the umbrella blue instead", "A man holding a green umbrella blue",
     "A man holding a blue umbrella"),
    ("a vintage car parked by the sea", "make the car bright red instead", "a vintage car bright red parked by the sea",
     "a vintage bright red car parked by the sea"),
    ("an owl on a branch", "make the owl white", "an owl white on a branch", "a white owl on a branch"),
])
def test_repair_moves_the_attribute_onto_its_thing(source, instruction, candidate, mended):
    assert invariants.repair(source, instruction, candidate) == mended
    assert not invariants.check(source, instruction, mended)


def test_repair_leaves_a_good_candidate_alone():
    assert invariants.repair("a woman holding an umbrella", "make the umbrella red", "a woman holding a red umbrella") is None


def test_pick_offers_the_mended_candidate():
    ed = editor()
    pair = ("a dog sitting on a porch", "make the dog black with red eyes")
    assert ed.pick(pair, ["a dog black with red eyes sitting on a porch"]) == "a black dog with red eyes sitting on a porch"


@pytest.mark.parametrize("source, instruction, candidate, mended", [
    ("a lion resting in tall grass", "make the lion a cub", "a cub resting in tall grass",
     "a lion cub resting in tall grass"),
    ("two lions resting in tall grass", "make the lions cubs", "two cubs resting in tall grass",
     "two lion cubs resting in tall grass"),
])
def test_the_young_of_an_animal_keeps_the_animal(source, instruction, candidate, mended):
    assert "subject_lost" in names(source, instruction, candidate, severe_only=True)  # is it still a lion?
    assert invariants.repair(source, instruction, candidate) == mended
    assert not invariants.check(source, instruction, mended)
    assert ed_pick(source, instruction, candidate) == mended


def test_a_young_that_is_a_kind_of_the_animal_replaces_it():
    assert invariants.check("a dog sleeping on a sofa", "make the dog a puppy", "a puppy sleeping on a sofa") == []
    assert invariants.check("a cat on a sofa", "make the cat a dog", "a dog on a sofa") == []


def ed_pick(source, instruction, candidate):
    return editor().pick((source, instruction), [candidate])
