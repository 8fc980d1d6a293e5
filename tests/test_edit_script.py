"""Edit scripts: derived from triplets by word-level diff, applied exactly, refused when they do not fit."""
import json
from pathlib import Path

import pytest

from diffchat.editor.edit_script import apply_script, diff_script, parse_script

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "human-written-edits.jsonl"


def test_every_human_triplet_round_trips():
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    bad = [r for r in rows
           if " ".join((apply_script(r["input"], diff_script(r["input"], r["output"])) or "").lower().split())
           != " ".join(r["output"].lower().split())]
    assert len(rows) == 550 and not bad  # case aside: the diff matches words case-insensitively


@pytest.mark.parametrize("source, target, script", [
    ("a horse in a field", "a zebra in a field", "horse => zebra"),
    ("a snowy cat sitting on a bench in a park", "a snowy cat sitting on a bench under a red umbrella in a park",
     "bench => bench under a red umbrella"),
    ("neon signs, rain-soaked pavement, crowded alley, food stalls", "neon signs, rain-soaked pavement, food stalls",
     "crowded alley, =>"),
    ("a cat and a dog", "a cat", "and a dog =>"),
])
def test_diff_script_writes_only_the_change(source, target, script):
    assert diff_script(source, target) == script
    assert apply_script(source, script) == target


def test_anchor_is_grown_until_unique():
    source = "a cat on a mat next to a cat"
    script = diff_script(source, "a black cat on a mat next to a cat")
    old = parse_script(script)[0][0]
    assert source.lower().count(old.lower()) == 1 and apply_script(source, script) == "a black cat on a mat next to a cat"


def test_apply_keeps_everything_else_and_finds_loose_matches():
    long = ", ".join(f"detail {k}" for k in range(150))  # 300+ words: nothing is cut
    assert apply_script(long, "detail 7 => golden detail 7").count("detail") == 150
    assert apply_script("A Red Car on the road", "red car => blue car") == "A blue car on the road"  # case
    assert apply_script("a red  car", "red car => blue car") == "a blue car"  # spacing
    assert apply_script("a crimson car on the road", "crimsom car => blue car") == "a blue car on the road"  # fuzzy
    assert apply_script("a red car", "=> at night") == "a red car, at night"  # an addition at the end
    assert apply_script("Father Divine smiles as he leads his followers",
                        "Father => Mother && he => she && his => her") == "Mother Divine smiles as she leads her followers"


@pytest.mark.parametrize("script", ["", "make it blue", "zebra => horse", "car =>  && car => bus", "=>"])
def test_scripts_that_do_not_fit_are_refused(script):
    assert apply_script("a red car on the road", script) is None


def test_script_editor_applies_the_change_and_retries_when_it_does_not_fit(tiny_lm_dir, monkeypatch):
    from diffchat.editor import PromptEditor

    editor = PromptEditor.from_pretrained(tiny_lm_dir, template="script")
    calls = []

    def scripted(texts, opts, num_return):
        calls.append(num_return)
        assert texts[0].endswith("Modification: turn the palms into ficus trees\nChanges:")
        if num_return == 1:
            return [[" oak trees => ficus trees\nInput: junk"]]  # names a span that is not in the prompt
        return [[" palms => palms", " Tamaca Palms => Ficus Trees", " palms => ficus"]]

    monkeypatch.setattr(editor, "_decode", scripted)
    prompt = "Art Prints of Tamaca Palms by the sea, golden hour, 35mm photo, by Slim Aarons"
    assert editor.edit(prompt, "turn the palms into ficus trees") == \
        "Art Prints of Ficus Trees by the sea, golden hour, 35mm photo, by Slim Aarons"
    assert calls == [1, 4]
