"""The machine check of LLM-written triplets (train/instructpe_check.py)."""
import gzip
import json

from train import instructpe_check
from train.data import load_rows


def write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")


def rec(source, edit, output, kind="attribute", style="casual"):
    return {"input": source, "edit": edit, "output": output, "kind": kind, "style": style}


def test_keeps_good_records_and_says_why_others_go(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    good = rec("a man holding a green umbrella", "make the umbrella blue", "a man holding a blue umbrella")
    write(shards / "a-01.jsonl", [
        good,
        good,                                                                     # duplicate
        rec("a red car on a road", "make it blue", "a red car on a road"),        # unchanged
        rec("a red car on a road", "make it blue", "make a blue car on a road"),  # command pasted in
        rec("a red car on a road", "make it blue", "a blue car on a road", kind="colour"),  # unknown kind
        rec("a cat", "add a hat", "a cat with a hat"),                            # input too short
        "not json",
        # an evaluation set's input (eval/sets/multiturn.jsonl, m01): held out
        rec("a cat on a bench", "add a red umbrella", "a cat on a bench under a red umbrella", kind="add"),
    ])
    kept, dropped, examples, total = instructpe_check.check(shards)
    assert [r["output"] for r in kept] == ["a man holding a blue umbrella"]
    assert dropped == {"duplicate": 1, "unchanged": 1, "command": 1, "fields": 2, "length": 1, "held out": 1}
    assert total == {"a-01.jsonl": 8}
    assert "held out" in instructpe_check.report(kept, dropped, examples, total)


def test_main_writes_gzipped_rows_that_training_reads(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    write(shards / "b-01.jsonl", [rec("a small boat on a quiet lake", "make it night", "a small boat on a quiet lake at night",
                                      kind="scene")])
    out = tmp_path / "checked.jsonl.gz"
    instructpe_check.main([str(shards), "--out", str(out), "--report", str(tmp_path / "REPORT.md")])
    with gzip.open(out, "rt") as f:
        assert json.loads(f.readline())["shard"] == "b-01"
    rows, report = load_rows(out)
    assert [(r.source, r.target) for r in rows] == [("a small boat on a quiet lake", "a small boat on a quiet lake at night")]
