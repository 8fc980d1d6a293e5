"""Training data loaders: formats, cleaning, dedup, malformed rows, split by source prompt."""
import json

import pytest

from train.data import DataError, EditRow, clean_text, load_rows, split_by_source

SHARED = "../shared/data/human-written-edits.jsonl"


def _write(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_shared_human_written_edits_load_clean():
    rows, report = load_rows(SHARED)
    assert report.read == 550 and report.kept == len(rows) >= 540
    assert not any("\ufffd" in r.source + r.target for r in rows)  # lost quotes repaired
    assert rows[0].source.startswith('Lewis Wickes Hine, "Man on Girders')


def test_instructpe_fields_and_source_choice(tmp_path):
    rec = {"source_prompt": "a cat", "instruction": "make it a dog",
           "beautified_source_prompt": "a fluffy cat, 8k", "beautified_target_prompt": "a fluffy dog, 8k"}
    path = tmp_path / "pe.json"
    path.write_text(json.dumps([rec]))
    assert load_rows(path)[0] == [EditRow("a fluffy cat, 8k", "make it a dog", "a fluffy dog, 8k")]
    assert load_rows(path, source_field="source_prompt")[0][0].source == "a cat"


def test_malformed_rows_name_row_and_reason(tmp_path):
    path = _write(tmp_path / "bad.jsonl", [{"input": "a", "edit": "b", "output": "c"}, "{oops",
                                           {"input": "a2", "edit": 3, "output": "c"}])
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        load_rows(path)
    path = _write(tmp_path / "bad2.jsonl", [{"input": "a", "edit": "b", "output": "c"},
                                            {"input": "a2", "edit": 3, "output": "c"}])
    with pytest.raises(DataError, match=r"row 2: field\(s\) edit must be text"):
        load_rows(path)
    path = _write(tmp_path / "bad3.jsonl", [{"input": "a", "edit": "b", "output": "c"}, "{oops",
                                            {"input": "a", "edit": "b", "output": "c2"}, {"input": " ", "edit": "b", "output": "c"}])
    rows, report = load_rows(path, skip_bad=True)
    assert len(rows) == 1 and report.skipped == {"malformed": 2, "duplicate": 1}
    assert "skipped 2 malformed, 1 duplicate" in str(report)
    with pytest.raises(DataError, match="not found"):
        load_rows(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="Unknown record format"):
        load_rows(_write(tmp_path / "other.jsonl", [{"text": "hello"}]))


def test_split_is_by_source_and_deterministic():
    rows = [EditRow(f"prompt {i % 40}", f"edit {i}", f"target {i}") for i in range(200)]
    train, val = split_by_source(rows, 0.2, seed=0)
    assert len(train) + len(val) == 200 and val
    assert not {r.source for r in train} & {r.source for r in val}
    assert split_by_source(rows, 0.2, seed=0) == (train, val)
    assert split_by_source(rows, 0.2, seed=1) != (train, val)


def test_clean_text():
    assert clean_text("  a\u00a0 cat\t\n on  a mat ") == "a cat on a mat"
