"""Text metrics of prompt edits: removal, leak, CI, chrF, and the evaluation run end to end."""
import json

import pytest

from train.data import EditRow
from train.evaluate_text import evaluate, leaks, removal_counts, score

ZEBRA = EditRow("a horse in a field", "turn the horse into a zebra", "a zebra in a field")


def test_removal_counts_what_the_reference_dropped():
    assert removal_counts(ZEBRA, "a zebra in a field") == (1, 1)
    assert removal_counts(ZEBRA, "a horse and a zebra in a field") == (0, 1)
    assert removal_counts(EditRow("a cat", "make it snowy", "a cat in the snow"), "a cat") == (0, 0)


def test_leak_is_a_new_command_word():
    assert leaks("a horse in a field", "a horse in a field, turn the horse into a zebra")
    assert not leaks("a horse in a field", "a zebra in a field")
    assert not leaks("make-up artist at work", "make-up artist at work, oil painting")
    assert leaks("a city street", "a city street, add snow")


def test_score_on_hand_made_predictions():
    rows = [ZEBRA, EditRow("a red car on a road", "make the car blue", "a blue car on a road")]
    perfect = score(rows, [r.target for r in rows])
    assert perfect["ci"] == pytest.approx(100) and perfect["removal"] == 100
    assert perfect["leak"] == 0 and perfect["chrf"] == pytest.approx(100)
    pasted = score(rows, [f"{r.source}, {r.instruction}" for r in rows])
    assert pasted["leak"] == 100 and pasted["removal"] == 0 and pasted["chrf"] < 100
    unchanged = score(rows, [r.source for r in rows])
    assert unchanged["ci"] < perfect["ci"] and unchanged["leak"] == 0


def test_evaluate_end_to_end_with_cache(tmp_path, tiny_lm_dir):
    data = tmp_path / "val.jsonl"
    data.write_text("\n".join(json.dumps(r.as_dict()) for r in [
        ZEBRA, EditRow("a photo of a city street", "make it snowy", "a photo of a snowy city street")]))
    out = tmp_path / "out"
    methods = ["source", "append", f"editor:{tiny_lm_dir}"]
    results = evaluate(str(data), methods, str(out))
    assert set(results) == set(methods)
    for name in ("results.csv", "results.md", "results.json", "results.png", "predictions-source.jsonl"):
        assert (out / name).is_file()
    assert results["append"]["leak"] == 100 and results["source"]["leak"] == 0
    pred_files = sorted(out.glob("predictions-*.jsonl"))
    assert len(pred_files) == 3
    stamp = {p: p.stat().st_mtime_ns for p in pred_files}
    assert evaluate(str(data), methods, str(out)) == results  # cached predictions, same numbers
    assert {p: p.stat().st_mtime_ns for p in pred_files} == stamp
    # a label names a method; the same label for another method is not served from the cache
    labelled = evaluate(str(data), ["mine=append"], str(out))
    assert labelled["mine"] == results["append"] and (out / "predictions-mine.jsonl").is_file()
    assert evaluate(str(data), ["mine=source"], str(out))["mine"] == results["source"]
