"""Blind judging (make / score) and the multi-turn chat evaluation, on hand-made files and a fake editor."""
import json
from pathlib import Path

import pytest

from diffchat.editor import EditorSpec
from train import evaluate_chat
from train.data import DataError
from train.judging import make, read_grades, score

SET = Path(__file__).resolve().parents[1] / "eval" / "sets" / "multiturn.jsonl"
DEV = [("a horse in a field", "turn the horse into a zebra", "a zebra in a field"),
       ("a red car on a road", "make the car blue", "a blue car on a road"),
       ("a cat on a bench", "add a hat", "a cat wearing a hat on a bench")]
CONVS = [{"id": "m01", "kind": "short", "prompt": "a dog", "turns": ["add a ball", "make it night"],
          "references": ["a dog with a ball", "a dog with a ball at night"]},
         {"id": "m02", "kind": "long", "prompt": "a castle, oil painting", "turns": ["no castle", "add a moat"],
          "references": ["oil painting", "a moat, oil painting"]}]


def write(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def inputs(tmp_path) -> list[Path]:
    preds = {"good": [o for _, _, o in DEV], "lazy": [i for i, _, _ in DEV]}
    files = [write(tmp_path / f"predictions-{label}.jsonl",
                   [{"input": i, "edit": e, "output": o, "prediction": p} for (i, e, o), p in zip(DEV, ps)])
             for label, ps in preds.items()]
    chats = evaluate_chat.reference_chats(CONVS)
    files.append(write(tmp_path / "chats-reference.jsonl", chats))
    # "mine" fails turn 1 (empty: the chain keeps the prompt), then returns the prompt unchanged
    mine = [dict(c, prompts=[c["prompts"][0]] * 3, outputs=["", c["prompts"][0]]) for c in chats]
    files.append(write(tmp_path / "chats-mine.jsonl", mine))
    return files


def grade_all(out: Path, rule) -> None:
    """A stand-in judge for the round trip: grades each line by a rule on its text."""
    for batch in sorted(out.glob("batch-*.jsonl")):
        lines = [json.loads(x) for x in batch.read_text().splitlines()]
        write(out / batch.name.replace("batch", "grades"),
              [{"id": x["id"], "grade": rule(x), "why": "t"} for x in lines])


def test_make_and_score_round_trip(tmp_path):
    out = tmp_path / "judging"
    stats = make([str(p) for p in inputs(tmp_path)], str(out), batch_lines=5)
    # dev: 3 rows x (good, lazy, reference) but good == reference on every row -> 6 lines for 9 candidates;
    # chats: 2 conversations x 2 turns x (reference, mine) -> 8 lines
    assert stats == {"lines": 14, "candidates": 17, "batches": 3}
    key = [json.loads(x) for x in (out / "key.jsonl").read_text().splitlines()]
    assert len({k["id"] for k in key}) == 14
    shared = [k for k in key if len(k["systems"]) > 1]
    assert len(shared) == 3 and all(sorted(k["systems"]) == ["good", "reference"] for k in shared)
    batch_lines = [json.loads(x) for b in sorted(out.glob("batch-*.jsonl")) for x in b.read_text().splitlines()]
    assert sorted(x["id"] for x in batch_lines) == sorted(k["id"] for k in key)
    for x in batch_lines:  # judges see the text only: no system, set, row or turn
        assert set(x) == {"id", "input", "instruction", "candidate"}
    texts = " ".join(b.read_text() for b in out.glob("batch-*.jsonl"))
    for word in ("good", "lazy", "mine", "reference", "m01", "multiturn"):
        assert word not in texts
    # the chain: mine's second turn is judged on its own previous prompt
    by_id = {x["id"]: x for x in batch_lines}
    mine_t2 = [by_id[k["id"]] for k in key if k["systems"] == ["mine"] and k["turn"] == 2]
    assert {x["input"] for x in mine_t2} == {"a dog", "a castle, oil painting"}

    grade_all(out, lambda x: 0 if not x["candidate"] or x["candidate"] == x["input"] else 2)
    table = score(str(out))
    assert table["dev"]["reference"]["all"] == {"n": 3, "2": 100.0, "1": 0.0, "0": 0.0}
    assert table["dev"]["good"]["all"]["2"] == 100.0 and table["dev"]["lazy"]["all"]["0"] == 100.0
    mt = table["multiturn"]
    assert mt["reference"]["all"]["n"] == 4 and mt["reference"]["turn 2"]["n"] == 2
    assert mt["reference"]["short"]["n"] == 2 and mt["mine"]["all"]["0"] == 100.0
    assert "| multiturn | mine | turn 1 | 2 | 0.0 | 0.0 | 100.0 |" in (out / "scores.md").read_text()
    # mine fails both turns of both chats: each second turn follows a failed one and fails too
    assert "| multiturn | mine | 2 | 100.0 | 2 | 100.0 |" in (out / "scores.md").read_text()
    assert "| multiturn | reference | 0 | 0.0 | 2 | 0.0 |" in (out / "scores.md").read_text()
    with pytest.raises(DataError, match="already holds"):  # grades already made are never orphaned
        make([str(p) for p in inputs(tmp_path)], str(out))


def test_same_order_and_ids_for_the_same_seed(tmp_path):
    files = [str(p) for p in inputs(tmp_path)]
    make(files, str(tmp_path / "a"))
    make(list(reversed(files)), str(tmp_path / "b"))
    assert (tmp_path / "a" / "batch-01.jsonl").read_text() == (tmp_path / "b" / "batch-01.jsonl").read_text()


def test_score_reports_missing_duplicate_unknown_and_bad_grades(tmp_path):
    out = tmp_path / "j"
    make([str(p) for p in inputs(tmp_path)], str(out))
    ids = [json.loads(x)["id"] for x in (out / "batch-01.jsonl").read_text().splitlines()]
    write(out / "grades-01.jsonl", [{"id": i, "grade": 2, "why": ""} for i in ids[:-1]])
    with pytest.raises(DataError, match=rf"1 of 14 ids have no grade: {ids[-1]}"):
        score(str(out))
    table = score(str(out), partial=True)  # the graded part only, said so
    assert sum(s["all"]["n"] for s in table["multiturn"].values()) + \
        sum(s["all"]["n"] for s in table["dev"].values()) < 17
    assert "Partial: 13 of 14" in (out / "scores.md").read_text()
    write(out / "grades-02.jsonl", [{"id": ids[0], "grade": 1}, {"id": "c9999", "grade": 1},
                                    {"id": ids[-1], "grade": "good"}])
    with pytest.raises(DataError) as err:
        read_grades(out)
    msg = str(err.value)
    assert f"grades-02.jsonl:1: id {ids[0]} graded twice" in msg
    assert "grades-02.jsonl:2: unknown id 'c9999'" in msg and "grades-02.jsonl:3: grade must be 2, 1 or 0" in msg


def test_make_rejects_files_from_different_data(tmp_path):
    a, b = inputs(tmp_path)[:2]
    other = [json.loads(x) for x in b.read_text().splitlines()]
    other[0]["edit"] = "something else"
    write(b, other)
    with pytest.raises(DataError, match="different data"):
        make([str(a), str(b)], str(tmp_path / "j"))
    with pytest.raises(DataError, match="expected predictions"):
        make([str(write(tmp_path / "results.jsonl", []))], str(tmp_path / "k"))


class FakeEditor:
    """Appends the turn's instruction, so the chain shows which prompt each turn edited; empty on 'fail'."""
    name, runtime = "fake", "fake"

    def __init__(self):
        self.calls = []

    def edit_batch(self, pairs, batch_size=8, progress=True):
        self.calls.append(list(pairs))
        return ["" if i == "fail" else f"{p} + {i}" for p, i in pairs]


def test_evaluate_chat_feeds_each_turn_the_previous_output(tmp_path, monkeypatch):
    import diffchat.editor

    fake = FakeEditor()
    monkeypatch.setattr(diffchat.editor.loading, "load_editor", lambda spec, runtime=None, quantization=None: fake)
    convs = [dict(CONVS[0], turns=["add a ball", "fail", "make it night"], references=["x", "y", "z"]), CONVS[1]]
    data = write(tmp_path / "set.jsonl", convs)
    summary = evaluate_chat.evaluate(str(data), ["f=whatever#transformers"], str(tmp_path / "out"))
    # one batch per turn step, over every conversation that still has a turn
    assert fake.calls == [[("a dog", "add a ball"), ("a castle, oil painting", "no castle")],
                          [("a dog + add a ball", "fail"), ("a castle, oil painting + no castle", "add a moat")],
                          [("a dog + add a ball", "make it night")]]
    chats = [json.loads(x) for x in (tmp_path / "out" / "chats-f.jsonl").read_text().splitlines()]
    assert chats[0]["prompts"] == ["a dog", "a dog + add a ball", "a dog + add a ball",
                                   "a dog + add a ball + make it night"]
    assert chats[0]["outputs"][1] == "" and chats[0]["empty"] == [2] and chats[1]["empty"] == []
    assert summary["f"]["empty"] == 1 and summary["f"]["edits"] == 5 and summary["f"]["p50_s_per_turn"] >= 0
    ref = [json.loads(x) for x in (tmp_path / "out" / "chats-reference.jsonl").read_text().splitlines()]
    assert ref[1]["prompts"] == ["a castle, oil painting", "oil painting", "a moat, oil painting"]
    assert (tmp_path / "out" / "summary.md").is_file()
    with pytest.raises(SystemExit, match="reference"):
        evaluate_chat.evaluate(str(data), ["reference=default"], str(tmp_path / "out"))


def test_load_set_says_what_is_wrong(tmp_path):
    bad = dict(CONVS[0], references=["only one"])
    with pytest.raises(DataError, match=r"set.jsonl:2: turns and references"):
        evaluate_chat.load_set(write(tmp_path / "set.jsonl", [CONVS[1], bad]))
    with pytest.raises(DataError, match="duplicate id 'm02'"):
        evaluate_chat.load_set(write(tmp_path / "set.jsonl", [CONVS[1], CONVS[1]]))


def test_the_shipped_multiturn_set():
    convs = evaluate_chat.load_set(SET)
    assert len(convs) >= 24 and all(len(c["turns"]) == 5 for c in convs)
    kinds = [c["kind"] for c in convs]
    assert all(kinds.count(k) >= 8 for k in ("short", "medium", "long"))
    for c in convs:
        words = len(c["prompt"].split())
        assert {"short": words <= 12, "medium": 15 <= words <= 25, "long": 33 <= words <= 45}[c["kind"]], c["id"]
        chain = [c["prompt"], *c["references"]]
        assert all(a != b for a, b in zip(chain, chain[1:])), c["id"]  # every turn changes the prompt


def test_named_sets_and_the_head_to_head(tmp_path):
    from train.judging import make, score

    rows = [{"input": f"a horse {i}", "edit": "turn the horse into a zebra", "output": f"a zebra {i}"} for i in range(3)]
    for label, preds in (("a", ["a zebra 0", "a horse 1", "x"]), ("b", ["a zebra 0", "a zebra 1", "a horse 2"])):
        with (tmp_path / f"predictions-{label}.jsonl").open("w") as f:
            for r, p in zip(rows, preds):
                f.write(json.dumps({**r, "prediction": p}) + "\n")
    out = tmp_path / "j"
    make([f"fresh={tmp_path / 'predictions-a.jsonl'}", f"fresh={tmp_path / 'predictions-b.jsonl'}"], str(out))
    key = [json.loads(line) for line in (out / "key.jsonl").read_text().splitlines()]
    assert {k["set"] for k in key} == {"fresh"}
    batch = {json.loads(line)["id"]: json.loads(line) for line in (out / "batch-01.jsonl").read_text().splitlines()}
    with (out / "grades-01.jsonl").open("w") as f:
        for i, line in batch.items():
            f.write(json.dumps({"id": i, "grade": 2 if "zebra" in line["candidate"] else 0, "why": "-"}) + "\n")
    table = score(str(out))
    assert table["fresh"]["b"]["all"]["2"] == pytest.approx(200 / 3)
    text = (out / "scores.md").read_text()
    # row 1: b right, a wrong; row 2: both wrong; row 0: the same line for both
    assert "| fresh | a | b | 1 | 0 | 1 | -2 |" in text


def test_chat_methods_take_the_text_evaluations_editor_prefix():
    assert evaluate_chat.parse_method("v2=editor:best:a+b#ctranslate2:int8") == \
        EditorSpec("best:a+b", "ctranslate2", "int8", "v2")
    assert evaluate_chat.parse_method("default") == EditorSpec("default", None, None, "default")
