"""Supervised fine-tuning of the prompt editor (the DiffChat paper's first stage), with trl's SFTTrainer.

    python -m train.sft --config train/configs/sft-cpu.yaml            # embedded SmolLM2, CPU, LoRA
    accelerate launch -m train.sft --config train/configs/sft-paper.yaml  # BLOOM-1.1B, the paper's recipe

The loss is on the output tokens only (prompt/completion dataset). Checkpoints go to output_dir,
`--resume` continues from the last one, and the loss curve is saved as loss.png.
"""
from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from diffchat.editor import EDITOR_META, EMBEDDED_BASE
from diffchat.editor.templates import build_prompt, target_text
from train.config import config_from_yaml
from train.data import load_rows, split_by_source, write_jsonl


@dataclass
class SFTRunConfig:
    model: str = "embedded"            # "embedded" (SmolLM2 from the wheel), a Hub id or a folder
    template: str = "diffchat"         # "diffchat" (the paper's), "chat" (the model's chat template), or
                                       # "script" (the model writes only the change: diffchat/editor/edit_script.py)
    data: list[str] = field(default_factory=lambda: ["../shared/data/human-written-edits.jsonl"])
    train_only: list[str] = field(default_factory=list)  # more triplets for the train split only (e.g. the
                                       # LLM-written train/instructpe/checked.jsonl.gz); a row whose source prompt
                                       # is in the validation split is dropped, so validation stays unseen
    source_field: str = "beautified_source_prompt"  # InstructPE only; "source_prompt" for raw prompts
    skip_bad: bool = False
    val_fraction: float = 0.1
    synthetic: int = 0                 # rule-made replace/remove/swap edits added to the train split (train/augment.py)
    implied: int = 0                   # rule-made medium/artist swaps whose instruction names only the new thing
    seed: int = 0
    output_dir: str = "runs/sft"
    lora: dict | None = None           # e.g. {r: 16, alpha: 32, dropout: 0.05}; None = full fine-tuning;
                                       # layers: [14, 15, ...] puts it on those layers only (cheaper backward)
    epochs: float = 3
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 2e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    scheduler: str = "cosine"
    max_length: int = 384
    bf16: bool = False
    use_cpu: bool = False
    gradient_checkpointing: bool = False
    logging_steps: int = 5
    save_steps: int = 50
    save_total_limit: int = 2
    max_steps: int = -1
    group_by_length: bool = False      # batches of similar lengths: less padding
    ship_to: str | None = None         # copy the final model/adapter here (e.g. assets/...)

    @classmethod
    def from_yaml(cls, path, **overrides) -> "SFTRunConfig":
        return config_from_yaml(cls, path, overrides)


def load_model_and_tokenizer(cfg: SFTRunConfig):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.model == "embedded":
        from diffchat.editor.embedded import embedded_base_folder

        source = embedded_base_folder()
    else:
        source = cfg.model
    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    return model, tokenizer


def build_datasets(cfg: SFTRunConfig, tokenizer):
    from datasets import Dataset

    rows = []
    for path in cfg.data:
        part, report = load_rows(path, source_field=cfg.source_field, skip_bad=cfg.skip_bad)
        print(f"{path}: {report}")
        rows += part
    train, val = split_by_source(rows, cfg.val_fraction, cfg.seed)
    held = {r.source.lower() for r in val}
    for path in cfg.train_only:
        part, report = load_rows(path, source_field=cfg.source_field, skip_bad=cfg.skip_bad)
        kept = [r for r in part if r.source.lower() not in held]
        print(f"{path} (train only): {report}; {len(part) - len(kept)} dropped (source prompt in validation)")
        train = train + kept
    if cfg.synthetic or cfg.implied:
        from train.augment import implied_edits, synthetic_edits

        for n, make, what in ((cfg.synthetic, synthetic_edits, "replace/remove/swap edits"),
                              (cfg.implied, implied_edits, "medium/artist swaps")):
            if n:
                extra = make(train, n, cfg.seed)
                print(f"added {len(extra)} rule-made {what} made from training prompts")
                train = train + extra
    out = Path(cfg.output_dir)
    write_jsonl(train, out / "data" / "train.jsonl")
    write_jsonl(val, out / "data" / "val.jsonl")
    print(f"split by source prompt: {len(train)} train, {len(val)} validation")

    def to_records(part):
        return [{"prompt": build_prompt(tokenizer, r.source, r.instruction, cfg.template),
                 "completion": " " + target_text(r.source, r.target, cfg.template)}
                for r in part]

    return Dataset.from_list(to_records(train)), (Dataset.from_list(to_records(val)) if val else None)


def plot_loss(log_history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (output tokens)")
    ax.set_title("DiffChat SFT")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train(cfg: SFTRunConfig, resume: bool = False) -> Path:
    from peft import LoraConfig
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_config.yaml").write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
    model, tokenizer = load_model_and_tokenizer(cfg)
    train_ds, val_ds = build_datasets(cfg, tokenizer)
    peft_config = None
    if cfg.lora:
        peft_config = LoraConfig(r=cfg.lora.get("r", 16), lora_alpha=cfg.lora.get("alpha", 32),
                                 lora_dropout=cfg.lora.get("dropout", 0.05),
                                 target_modules=cfg.lora.get("target_modules", "all-linear"), task_type="CAUSAL_LM",
                                 layers_to_transform=cfg.lora.get("layers"))
    args = SFTConfig(
        output_dir=str(out / "checkpoints"), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr, weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio, lr_scheduler_type=cfg.scheduler, max_length=cfg.max_length,
        bf16=cfg.bf16, use_cpu=cfg.use_cpu, activation_checkpointing=cfg.gradient_checkpointing,
        logging_steps=cfg.logging_steps, save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit,
        eval_strategy="epoch" if val_ds is not None else "no", seed=cfg.seed, report_to="none",
        completion_only_loss=True, dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                         processing_class=tokenizer, peft_config=peft_config)
    last = get_last_checkpoint(args.output_dir) if resume and Path(args.output_dir).is_dir() else None
    if resume and last is None:
        print("No checkpoint to resume from; starting from scratch.")
    trainer.train(resume_from_checkpoint=last)

    final = out / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    meta = {"template": cfg.template, "base": cfg.model, "data": cfg.data, "train_only": cfg.train_only}
    (final / EDITOR_META).write_text(json.dumps(meta, indent=2))
    if cfg.lora and cfg.model == "embedded":  # the adapter belongs on the embedded (dequantised) base
        ac = final / "adapter_config.json"
        conf = json.loads(ac.read_text())
        conf["base_model_name_or_path"] = EMBEDDED_BASE
        ac.write_text(json.dumps(conf, indent=2))
    history = trainer.state.log_history
    (out / "log_history.json").write_text(json.dumps(history, indent=1))
    plot_loss(history, out / "loss.png")
    if cfg.ship_to:
        ship = Path(cfg.ship_to)
        shutil.rmtree(ship, ignore_errors=True)
        shutil.copytree(final, ship, ignore=shutil.ignore_patterns("tokenizer*", "special_tokens_map.json",
                                                                    "chat_template.jinja", "training_args.bin"))
        shutil.copy(out / "loss.png", ship / "loss.png")
    print(f"Saved to {final}" + (f" and shipped to {cfg.ship_to}" if cfg.ship_to else ""))
    return final


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="YAML config (see train/configs/)")
    p.add_argument("--output-dir", help="override output_dir")
    p.add_argument("--max-steps", type=int, help="override max_steps (for a quick try)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in output_dir")
    p.add_argument("--no-ship", action="store_true", help="do not copy the result to ship_to")
    a = p.parse_args(argv)
    cfg = SFTRunConfig.from_yaml(a.config, output_dir=a.output_dir, max_steps=a.max_steps)
    if a.no_ship:
        cfg.ship_to = None
    train(cfg, resume=a.resume)


if __name__ == "__main__":
    main()
