"""The README's compare-items commands, offline: the shipped example edits -> train.evaluate (tiny
backend, tiny scorers) -> the app's --items given the evaluation's output folder."""
import pytest

from diffchat.paths import ASSETS_DIR
from diffchat.storage import load_items
from diffchat.storage.items import items_file
from diffchat.ui import AppConfig, BackgroundLoader, build_demo, launch_kwargs
from train import evaluate

EXAMPLES = ASSETS_DIR / "examples" / "edits.jsonl"


def test_example_edits_are_held_out_test_rows():
    from train.data import load_rows, split_by_source

    rows = evaluate.load_test_rows(EXAMPLES)
    assert len(rows) == 8 and all(r.source and r.instruction and r.target for r in rows)
    shared = ASSETS_DIR.parents[1] / "shared" / "data" / "human-written-edits.jsonl"
    if shared.is_file():  # the shipped editor's validation split (seed 0, 10 %): never trained on
        _, val = split_by_source(load_rows(shared)[0], 0.1, 0)
        assert {r.source for r in rows} <= {r.source for r in val}


def test_evaluation_folder_is_an_items_argument(tmp_path):
    out = tmp_path / "eval"
    code = evaluate.main(["--test-file", str(EXAMPLES), "--methods", "source,append", "--backends", "tiny",
                          "--scorers", "tiny", "--limit", "2", "--out", str(out)])
    assert code == 0
    assert items_file(out) == out / "compare" / "items.jsonl"
    items = load_items(out)  # the --out folder, as the README passes it
    assert [i.id for i in items] == ["tiny-0000", "tiny-0001"] and items[0].methods == ["append", "source"]
    demo = build_demo(AppConfig(db=tmp_path / "v.sqlite", items=out), editor=BackgroundLoader(lambda: "unused"))
    compare = (out / "compare").resolve()  # the item images, served as copies (no allowed_paths)
    assert all(p.resolve().is_relative_to(compare) for i in items for p in [i.raw_image, *i.images.values()])
    assert "allowed_paths" not in launch_kwargs(demo)
    assert len(demo.compare_app.tasks()) == 2


def test_items_argument_that_holds_nothing_says_what_to_pass(tmp_path):
    with pytest.raises(Exception, match="--out folder of `python -m train.evaluate`"):
        load_items(tmp_path)
