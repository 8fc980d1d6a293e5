"""Rule-made edits: the replaced or removed noun is gone from the target, the instruction names it."""
import re

from train.augment import implied_edits, synthetic_edits
from train.data import EditRow

ROWS = [EditRow("a horse standing in a green field", "make it snowy", "a horse standing in a snowy field"),
        EditRow("a small boat on a lake at sunset", "add a castle", "a small boat on a lake at sunset, castle"),
        EditRow("portrait of a woman with a red hat", "make it a painting", "painting of a woman with a red hat"),
        EditRow("a dog sleeping under a tree", "turn the dog into a cat", "a cat sleeping under a tree"),
        EditRow("a city street with cars and buses", "make it night", "a city street with cars and buses at night")]


def test_synthetic_edits_change_what_they_name():
    out = synthetic_edits(ROWS, 10, seed=0)
    assert out and len(out) <= len(ROWS)
    sources = {r.source for r in ROWS}
    for row in out:
        assert row.source in sources and row.target and row.target != row.source
        words = lambda t: set(re.findall(r"[a-z]+", t.lower()))  # noqa: E731
        gone, new = words(row.source) - words(row.target), words(row.target) - words(row.source)
        assert gone  # something is replaced or removed, never only added
        assert (gone | new) & words(row.instruction)  # and the instruction names the change
    assert any("sunset" in r.source and "sunset" not in r.target for r in out)  # time-of-day swap


def test_synthetic_edits_are_reproducible():
    assert synthetic_edits(ROWS, 3, seed=1) == synthetic_edits(ROWS, 3, seed=1)
    assert synthetic_edits(ROWS, 0) == []


def test_implied_edits_replace_the_medium_or_artist_they_do_not_name():
    rows = [EditRow("an oil painting of a harbour at dawn", "x", "y"),
            EditRow("Misty lake, watercolour on paper by Anna Berg", "x", "y"),
            EditRow("Old mill in winter by John Smith", "x", "y"),
            EditRow("a cat", "x", "y")]
    out = implied_edits(rows, 10, seed=0)
    assert len(out) == 3 and all(r.source != "a cat" for r in out)  # nothing to swap in "a cat"
    named = {"an oil painting of a harbour at dawn": "oil painting", "Old mill in winter by John Smith": "John Smith"}
    for r in out:
        assert r.target != r.source
        # a medium or an artist is swapped: the old one is gone, and the instruction names only the new one
        gone = named.get(r.source) or ("Anna Berg" if "Anna Berg" not in r.target else "watercolour")
        assert gone not in r.target and gone.lower() not in r.instruction.lower()
        assert not re.search(r"\ba [aeiou]", r.instruction + " " + r.target)  # "an oil ...", never "a oil"
    assert implied_edits(rows, 10, seed=0) == out and implied_edits(rows, 1, seed=0) == out[:1]
