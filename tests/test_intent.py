import json
from pathlib import Path

import pytest

from diffchat import intent
from diffchat.intent import clarifying_question, content_words, parse_command, prompt_subject

HUMAN_EDITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "human-written-edits.jsonl"


@pytest.mark.parametrize("message, command", [
    ("undo", "undo"), ("Undo", "undo"), ("UNDO!", "undo"), ("undo that", "undo"), ("Undo that.", "undo"),
    ("forget that", "undo"), ("Forget that!", "undo"), ("go back", "undo"), ("Go back...", "undo"),
    ("revert", "undo"), ("  revert  ", "undo"), ("no, undo that please", "undo"), ("oops undo", "undo"),
    ("please go back", "undo"), ("take that back", "undo"), ("can you undo that?", "undo"),
    ("redo", "redo"), ("Redo!", "redo"), ("redo please", "redo"), ("redo that", "redo"),
    ("start over", "reset"), ("Start over.", "reset"), ("reset", "reset"), ("RESET", "reset"),
    ("start again", "reset"), ("new image", "reset"), ("New image!", "reset"), ("let's start over", "reset"),
    ("ok, let\u2019s start over please", "reset"), ("start from scratch", "reset"),
])
def test_commands(message, command):
    assert parse_command(message) == command


@pytest.mark.parametrize("message", [
    "go back to the beach with a dog", "undo the snow", "forget that dog, add a cat", "revert to black and white",
    "reset the colors", "new image of a cat", "start over with a cat instead", "redo the sky in red",
    "make it go back in time", "a new imagery style", "undone", "undo undo undo the hat",
    "a cat going back home", "go", "back to the future style", "", "   ", "!!!", "make it snowy",
    "start", "over", "image", "new", "please", "the reset button on a wall",
])
def test_near_misses_are_not_commands(message):
    assert parse_command(message) is None


def test_parse_command_tolerates_non_text():
    assert parse_command(None) is None
    assert parse_command(3) is None


VAGUE = [
    "", "   ", "\n\t", "change it", "Change it.", "something else", "make it different", "make it better?",
    "Make it better!", "do something", "improve", "improve it", "edit it", "again", "hmm", "Hmm...", "?",
    "change something", "make it nicer", "do it again", "try again", "something different please",
    "can you change it?", "make this better", "I want something else", "tweak it a bit", "more", "make it more",
    "different", "fix it", "whatever you want", "surprise me", "no", "ok", "change the image",
    "I don't like it", "just make it look cool", "make some changes", "update the picture",
    "could you make it a little different?", "do your thing", "\u2026",
]

CONCRETE = [
    "snowy", "make it snowy", "add a dog", "in the style of van gogh", "zebra instead", "at night",
    "make it night", "remove the tree", "make the horse white", "more colorful", "bigger", "darker",
    "as a watercolor painting", "with a red hat", "black and white", "cyberpunk", "make it look like winter",
    "change the sky to purple", "replace the cat with a fox", "less saturated", "make it 3d",
    "by Claude Monet", "turn it into a cartoon", "give her freckles", "more detail", "make it pop art",
    "Make it better lit", "change it to sunset", "improve the lighting", "Zebra instead?", "mehr Schnee",
    "\u96ea\u666f\u8272\u306b\u3057\u3066",
]


@pytest.mark.parametrize("instruction", VAGUE)
def test_vague_instructions_get_a_question(instruction):
    question = clarifying_question(instruction)
    assert isinstance(question, str) and question.strip().endswith((".", "?"))
    assert "?" in question
    assert clarifying_question(instruction, "a horse in a field") is not None


@pytest.mark.parametrize("instruction", CONCRETE)
def test_concrete_instructions_pass(instruction):
    assert clarifying_question(instruction) is None
    assert clarifying_question(instruction, "a horse in a field") is None


def test_question_refers_to_the_prompt_subject():
    question = clarifying_question("change it", "a horse in a field")
    assert "'a horse in a field'" in question
    assert "the horse" in question
    assert question.startswith("What would you like to change about")
    q2 = clarifying_question("make it better", "A red car parked on a street at night, 35mm photo")
    assert "the car" in q2


def test_question_without_prompt_offers_examples():
    question = clarifying_question("make it different")
    assert "make it snowy" in question and "add a dog" in question
    assert "empty" in clarifying_question("  ").lower()


def test_long_prompts_are_shortened_in_the_question():
    prompt = "a lighthouse on a cliff " + "with many details " * 20
    question = clarifying_question("change it", prompt)
    assert "\u2026" in question and len(question) < 320
    assert "the lighthouse" in question


def test_content_words():
    assert content_words("Could you please make it a bit snowier?") == ["snowier"]
    assert content_words("make it better") == []
    assert content_words("in the style of Van Gogh") == ["van", "gogh"]


@pytest.mark.parametrize("prompt, subject", [
    ("a horse in a field", "horse"), ("A red car parked on a street at night", "car"),
    ("a photo of a cat sleeping on a sofa", "cat"), ("portrait of an old man with a beard, oil painting", "man"),
    ("two dogs playing in the snow", "dogs"), ("a golden retriever puppy", "puppy"),
    ("sunset over the ocean", "sunset"),
])
@pytest.mark.parametrize("tagger", [True, False])
def test_prompt_subject(prompt, subject, tagger, monkeypatch):
    if tagger:
        if intent._pos_tags(["a", "horse"]) is None:
            pytest.skip("NLTK tagger data not installed (see ../shared/nltk_data)")
    else:
        monkeypatch.setattr(intent, "_pos_tags", lambda words: None)
    assert prompt_subject(prompt) == subject


def test_prompt_subject_of_nothing():
    assert prompt_subject("   ") is None
    assert prompt_subject("1234, 56") is None
    assert clarifying_question("change it", "   ") == clarifying_question("change it")


def test_human_written_edits_are_never_questioned_or_commands():
    """None of the 550 human-written InstructPix2Pix edits may be taken as vague or as a command."""
    if not HUMAN_EDITS.is_file():
        pytest.skip(f"{HUMAN_EDITS} not found")
    edits = [json.loads(line)["edit"] for line in HUMAN_EDITS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(edits) >= 500
    flagged = [e for e in edits if clarifying_question(e) is not None or parse_command(e) is not None]
    assert flagged == []


def test_clarifying_question_quotes_a_long_prompt_at_a_word():
    from diffchat.intent import clarifying_question

    prompt = "a wooden cabin beside a frozen mountain lake under the northern lights, highly detailed"
    question = clarifying_question("make it better", prompt)
    quoted = question.split("'")[1]
    assert quoted.endswith("\u2026") and prompt.startswith(quoted[:-1])
    assert prompt[len(quoted) - 1] in " ,"  # cut between words, not inside one
