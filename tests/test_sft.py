"""SFT on a tiny model: completion-only loss, LoRA adapter that loads as an editor, curve, resume, ship."""
import json

import pytest
import yaml

from diffchat.editor import load_editor
from diffchat.errors import InvalidInput
from train.sft import SFTRunConfig, build_datasets, train


@pytest.fixture
def run_config(tmp_path, tiny_lm_dir):
    rows = [{"input": f"a photo of a horse number {i}", "edit": "turn the horse into a zebra",
             "output": f"a photo of a zebra number {i}"} for i in range(24)]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    cfg = {"model": str(tiny_lm_dir), "data": str(data), "output_dir": str(tmp_path / "run"),
           "lora": {"r": 4, "alpha": 8}, "epochs": 1, "max_steps": 2, "batch_size": 4, "lr": 1e-3,
           "max_length": 64, "use_cpu": True, "logging_steps": 1, "save_steps": 2,
           "ship_to": str(tmp_path / "shipped")}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_config_rejects_unknown_keys(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lerning_rate: 1\n")
    with pytest.raises(InvalidInput, match="unknown config key"):
        SFTRunConfig.from_yaml(bad)


def test_shipped_configs_parse():
    cpu = SFTRunConfig.from_yaml("train/configs/sft-cpu.yaml")
    paper = SFTRunConfig.from_yaml("train/configs/sft-paper.yaml")
    assert cpu.use_cpu and cpu.lora and cpu.model == "embedded"
    assert (paper.epochs, paper.lr, paper.max_length, paper.bf16, paper.lora) == (3, 2e-5, 384, True, None)


def test_dataset_is_prompt_completion(run_config, tiny_lm_dir):
    from transformers import AutoTokenizer

    cfg = SFTRunConfig.from_yaml(run_config)
    train_ds, val_ds = build_datasets(cfg, AutoTokenizer.from_pretrained(tiny_lm_dir))
    row = train_ds[0]
    assert row["prompt"].endswith("\nOutput:") and row["completion"].startswith(" a photo of a zebra")
    assert len(train_ds) + (len(val_ds) if val_ds else 0) == 24


def test_rule_made_edits_join_the_train_split_only(run_config, tiny_lm_dir, tmp_path):
    from transformers import AutoTokenizer

    rows = [{"input": f"an oil painting of a harbour number {i} by Anna Berg", "edit": "make it snowy",
             "output": f"an oil painting of a snowy harbour number {i} by Anna Berg"} for i in range(20)]
    (tmp_path / "art.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    plain = SFTRunConfig.from_yaml(run_config, data=[str(tmp_path / "art.jsonl")], val_fraction=0.2)
    train_ds, val_ds = build_datasets(plain, tok)
    more = SFTRunConfig.from_yaml(run_config, data=[str(tmp_path / "art.jsonl")], val_fraction=0.2, implied=5)
    train_more, val_more = build_datasets(more, tok)
    assert len(train_more) == len(train_ds) + 5 and val_more["completion"] == val_ds["completion"]
    written = [json.loads(x) for x in (tmp_path / "run" / "data" / "train.jsonl").read_text().splitlines()]
    swaps = [r for r in written if "oil painting" not in r["output"] or "Anna Berg" not in r["output"]]
    assert len(written) == len(train_more) and len(swaps) == 5


def test_train_resume_and_ship(run_config, tmp_path):
    cfg = SFTRunConfig.from_yaml(run_config)
    final = train(cfg)
    assert (final / "adapter_config.json").is_file() and (final / "diffchat_editor.json").is_file()
    run = tmp_path / "run"
    history = json.loads((run / "log_history.json").read_text())
    assert [h["step"] for h in history if "loss" in h] == [1, 2]
    assert (run / "loss.png").stat().st_size > 1000
    shipped = tmp_path / "shipped"
    assert (shipped / "adapter_model.safetensors").is_file() and (shipped / "loss.png").is_file()
    editor = load_editor(str(shipped))
    assert "shipped" in editor.name and editor.template == "diffchat"
    assert isinstance(editor.edit_batch([("a horse", "make it a zebra")], progress=False, max_new_tokens=4)[0], str)

    cfg.max_steps = 3  # resume from checkpoint-2 and do one more step
    train(cfg, resume=True)
    history = json.loads((run / "log_history.json").read_text())
    assert [h["step"] for h in history if "loss" in h][-1] == 3
