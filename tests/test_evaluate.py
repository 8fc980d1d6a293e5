"""The image evaluation harness end to end, offline: tiny backends, tiny scorers, a tiny LM editor."""
import csv
import json
import re

import pytest
from PIL import Image

from diffchat.errors import BackendError, InvalidInput
from diffchat.render import Renderer
from diffchat.storage.items import load_items
from train import evaluate as ev

ROWS = [
    {"input": "a cat sitting on a sofa", "edit": "give the cat a red hat", "output": "a cat wearing a red hat on a sofa"},
    {"input": "a house by the lake", "edit": "make it winter", "output": "a house by the frozen lake in winter, snow"},
    {"source_prompt": "a dog", "beautified_source_prompt": "a dog in a park, sunny day",
     "instruction": "make it a puppy", "beautified_target_prompt": "a puppy in a park, sunny day"},
]


class CountingRenderer(Renderer):
    def __init__(self):
        super().__init__(device="cpu")
        self.calls = []

    def render(self, prompt, **kw):
        self.calls.append((prompt, kw["backend"]))
        return super().render(prompt, **kw)


@pytest.fixture
def test_file(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return path


def test_end_to_end_and_resume(test_file, tmp_path, tiny_lm_dir, monkeypatch):
    methods = ["source", "append", f"editor:{tiny_lm_dir}", "ip2p"]
    cfg = ev.EvalConfig(test_file=str(test_file), out=str(tmp_path / "out"), methods=methods, backends=["tiny"],
                        limit=3, seed=7, scorers="tiny", batch_size=4)
    first = CountingRenderer()
    result = ev.evaluate(cfg, renderer=first)
    # raw images (3) + append (3) + ip2p (3) + the editor's prompts (<= 3, fewer if equal to others);
    # `source` reuses the raw images: same prompt, same seed
    assert 9 <= len(first.calls) <= 12
    assert sum(b == "tiny-ip2p" for _, b in first.calls) == 3

    out = tmp_path / "out"
    with (out / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["method"] for r in table] == methods and {r["backend"] for r in table} == {"tiny"}
    assert list(table[0]) == ["method", "backend", "n", "pickscore", "aesthetic", "hps", "clip_score", "dclip", "ci"]
    for r in table:
        assert r["n"] == "3" and float(r["clip_score"]) >= 0 and -1 <= float(r["dclip"]) <= 1
    assert float(table[0]["dclip"]) == 0.0  # source: the raw image itself, no change
    assert table[3]["ci"] == ""  # ip2p writes no prompt
    assert 0 <= float(table[1]["ci"]) <= 1

    md = (out / "results.md").read_text()
    assert "## tiny" in md and "## Average over backends" in md and "Avg. rank" in md
    for m in methods:
        assert f"| {m} |" in md
    for metric in ev.METRICS:
        with Image.open(out / "charts" / f"{metric}.png") as im:
            assert im.size[0] > 100

    items = load_items(out / "compare")
    assert len(items) == 3 and items[0].methods == sorted(methods)
    assert items[0].instruction == ROWS[0]["edit"] and items[2].raw_prompt == "a dog in a park, sunny day"
    scores = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == 12 and all(0 <= s["ci"] <= 1 for s in scores if s["method"] != "ip2p")

    # second run: nothing rendered, edited or scored again, same numbers
    def no_editor(*a, **k):
        raise AssertionError("the editor ran again")

    monkeypatch.setattr("diffchat.editor.load_editor", no_editor)
    second = CountingRenderer()
    again = ev.evaluate(cfg, renderer=second)
    assert second.calls == [] and second.loaded == []
    assert again["table"] == result["table"]


def test_more_rows_only_renders_the_new_ones(test_file, tmp_path):
    cfg = ev.EvalConfig(test_file=str(test_file), out=str(tmp_path / "o"), methods=["source", "append"],
                        backends=["tiny"], limit=2, scorers="tiny", scorer_names=["clip_score", "ci"])
    r1 = CountingRenderer()
    ev.evaluate(cfg, renderer=r1)
    assert len(r1.calls) == 4
    cfg.limit = 3
    r2 = CountingRenderer()
    res = ev.evaluate(cfg, renderer=r2)
    assert len(r2.calls) == 2 and res["table"][0]["n"] == 3
    assert res["table"][0]["pickscore"] is None  # not asked for


def test_ranks_and_tables():
    assert ev.ranks({"a": 2.0, "b": 1.0, "c": 2.0, "d": None}) == {"a": 1.5, "c": 1.5, "b": 3.0}
    table = [{"method": "a", "backend": "x", "n": 2, "clip_score": 30.0, "ci": 0.5},
             {"method": "b", "backend": "x", "n": 2, "clip_score": 20.0, "ci": 0.9},
             {"method": "a", "backend": "y", "n": 2, "clip_score": 10.0, "ci": 0.1},
             {"method": "b", "backend": "y", "n": 2, "clip_score": 20.0, "ci": None}]
    avg = ev.average_block(table, ["a", "b"], ["x", "y"], ["clip_score", "ci"])
    assert avg[0]["clip_score"] == 20.0 and avg[1]["ci"] == 0.9
    # a: ranks 1, 2 (x) and 2, 1 (y: b has no CI) -> 1.5; b: 2, 1, 1 -> 4/3
    assert avg[0]["avg_rank"] == pytest.approx(1.5) and avg[1]["avg_rank"] == pytest.approx(4 / 3)
    lines = ev.markdown_table(avg, ["clip_score", "ci"], extra="avg_rank")
    assert lines[2] == "| a | **20.00** | 0.300 | 1.50 |"  # ties are both bold
    assert lines[3] == "| b | **20.00** | **0.900** | **1.33** |"


def test_bad_arguments(test_file, tmp_path):
    base = dict(test_file=str(test_file), out=str(tmp_path / "o"), scorers="tiny")
    with pytest.raises(InvalidInput, match="Unknown method"):
        ev.evaluate(ev.EvalConfig(**base, methods=["source", "magic"]))
    with pytest.raises(InvalidInput, match="Test file not found"):
        ev.evaluate(ev.EvalConfig(**{**base, "test_file": str(tmp_path / "none.jsonl")}, methods=["source"]))
    with pytest.raises(BackendError):
        ev.evaluate(ev.EvalConfig(**base, methods=["source"], backends=["no-such-backend"]))
    with pytest.raises(InvalidInput, match="Unknown scorer"):
        ev.evaluate(ev.EvalConfig(**base, methods=["source"], scorer_names=["pickscore", "vibes"]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "a cat"}\n')
    with pytest.raises(InvalidInput, match="bad.jsonl"):
        ev.evaluate(ev.EvalConfig(**{**base, "test_file": str(bad)}, methods=["source"]))
    assert ev.main(["--test-file", str(test_file), "--out", str(tmp_path / "o"), "--methods", "nope"]) == 2


def test_two_processes_under_accelerate_write_what_one_process_writes(test_file, tmp_path, tiny_lm_dir):
    """`accelerate launch` with 2 processes (CPU here: --multi_gpu starts them, gloo joins them) splits
    editing, rendering and scoring, and the main process writes what `python -m train.evaluate` writes.
    Prompts, images, items and the Markdown table are byte-identical; results.csv may differ in its
    6th decimal (an embedding computed in another batch rounds differently in float32)."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    args = ["-m", "train.evaluate", "--test-file", str(test_file), "--methods",
            f"source,append,editor:{tiny_lm_dir},ip2p", "--backends", "tiny", "--limit", "3", "--seed", "7",
            "--scorers", "tiny", "--batch-size", "2"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(ev.__file__).parents[1])}
    one, two = tmp_path / "one", tmp_path / "two"
    single = subprocess.run([sys.executable, *args, "--out", str(one)], env=env, capture_output=True, text=True,
                            timeout=800)
    assert single.returncode == 0, single.stderr[-3000:]
    with socket.socket() as s:  # not the default port 29500: another run may hold it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    accelerate = Path(sys.executable).parent / "accelerate"
    run = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                          "--main_process_port", str(port), "--mixed_precision", "no", "--dynamo_backend", "no",
                          *args, "--out", str(two)], env=env, capture_output=True, text=True, timeout=800)
    assert run.returncode == 0, run.stderr[-3000:]
    for k in (1, 2):  # both processes did a share of every stage
        share = re.search(rf"process {k} of 2: edited (\d+) prompts, rendered (\d+) images, scored (\d+) items",
                          run.stderr)
        assert share and all(int(n) > 0 for n in share.groups()), run.stderr[-3000:]
    assert run.stdout == single.stdout  # only the main process prints the table: the same one
    for name in ("results.md", "prompts.jsonl", "compare/items.jsonl"):
        assert (one / name).read_text() == (two / name).read_text(), name
    for a, b in zip(sorted((one / "compare").rglob("*.png")), sorted((two / "compare").rglob("*.png")), strict=True):
        assert a.relative_to(one) == b.relative_to(two) and a.read_bytes() == b.read_bytes()
    rows = [list(csv.reader((d / "results.csv").open())) for d in (one, two)]
    assert [r[:3] for r in rows[0]] == [r[:3] for r in rows[1]]  # method, backend, n
    for r1, r2 in zip(rows[0][1:], rows[1][1:]):
        assert [v == "" for v in r1[3:]] == [v == "" for v in r2[3:]]
        assert all(abs(float(x) - float(y)) <= 2e-6 for x, y in zip(r1[3:], r2[3:]) if x), (r1, r2)
