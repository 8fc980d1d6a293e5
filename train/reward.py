"""Rewards for DiffChat's PPO stage.

Text reward models (the paper's "RMs" stage): a causal LM with a regression head reads a prompt and
predicts the PickScore and aesthetic score its image would get, so PPO needs no rendering per step.
They learn from the rows the evaluation harness writes (JSONL with `prompt`, `pickscore`, `aesthetic`):

    python -m train.reward --config train/configs/reward-cpu.yaml --data runs/eval/scores.jsonl

The PPO reward is  w_pref * z(PickScore) + w_aes * z(aesthetic)  when the content-integrity score of
the new prompt reaches the threshold (0.7 in the paper), and `low_ci_reward` otherwise; z() is the
score standardised with the training rows' mean and standard deviation. `kind: image` scores
rendered images instead (diffchat.render + diffchat.scoring; a GPU is advisable).

`kind: reference` needs no image scores at all: the reward is built from the dataset's reference
target prompt alone, with the text metrics of train/evaluate_text.py,

    w_ci * CI + w_removal * removal + w_chrf * chrF/100 - w_leak * leak    (same CI gate)

This is not the paper's reward; it is what can be trained offline (no PickScore or aesthetic
weights here) and it teaches the behaviour the paper's CI gate protects: apply the edit, drop what
it replaces, keep the rest. The reference terms can also be added to the `text` and `image` kinds.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from diffchat.errors import InvalidInput, ModelLoadError
from train.config import config_from_yaml

TARGETS = ("pickscore", "aesthetic")
HEAD_FILE = "reward_head.pt"
META_FILE = "reward_model.json"
# Typical score ranges of Stable Diffusion images (see /shared/API-NOTES.md): the standardisation
# used for image scores when no reward-model statistics are at hand.
IMAGE_SCORE_STATS = {"pickscore": (20.5, 1.0), "aesthetic": (5.75, 0.5)}


# ---------------------------------------------------------------------------------------------
# causal LMs: the tiny random one for tests and smoke runs, and the real ones


def build_tiny_lm(folder: str | Path, texts: list[str], vocab_size: int = 600, hidden_size: int = 64,
                  num_layers: int = 2, num_heads: int = 4, seed: int = 0) -> Path:
    """A tiny random Llama + a byte-level BPE tokenizer trained on `texts`, saved to `folder`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(texts, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", eos_token="<eos>", model_max_length=512)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_lm_folder(texts: list[str], **kwargs) -> Path:
    """`build_tiny_lm` once into the cache, keyed by the texts and sizes."""
    from diffchat.paths import cache_dir

    key = hashlib.sha256(json.dumps([texts, sorted(kwargs.items())]).encode()).hexdigest()[:12]
    folder = cache_dir() / "tiny" / f"tiny-llama-{key}"
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        tmp = folder.with_name(folder.name + f".tmp{random.randrange(1 << 30)}")
        build_tiny_lm(tmp, texts, **kwargs)
        try:
            tmp.rename(folder)
        except OSError:  # built by another process meanwhile
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_causal_lm(spec: str, *, device=None, dtype=None, texts: list[str] | None = None):
    """(model, tokenizer, template) for a policy or reward-model backbone.

    `spec`: "tiny" (tiny random Llama, needs `texts` for its tokenizer), or anything
    `diffchat.editor.load_editor` takes ("default", "base", a folder, a LoRA adapter, a Hub id).
    A LoRA adapter is merged into its base, so training sees a plain causal LM.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if spec == "tiny":
        if not texts:
            raise InvalidInput("The tiny model needs training texts for its tokenizer.")
        folder = tiny_lm_folder(texts)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        template = "diffchat"
    else:
        from diffchat.editor import PromptEditor, load_editor

        editor = load_editor(spec, runtime="transformers", device=device, dtype=dtype)
        if not isinstance(editor, PromptEditor):
            raise InvalidInput(f"'{spec}' is a remote editor; training needs local weights.")
        model, tokenizer, template = editor.model, editor.tokenizer, editor.template
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if device is not None:
        model.to(device)
    return model.train(), tokenizer, template


# ---------------------------------------------------------------------------------------------
# text reward model


def _hidden_size(config) -> int:
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return text.hidden_size


class TextRewardModel:
    """A causal LM backbone + Linear(h, len(targets)) on the hidden state of the final (EOS) token.

    The head predicts standardised scores; `predict` maps them back to the scorer's scale.
    """

    def __init__(self, lm, tokenizer, targets=TARGETS, mean=None, std=None, max_length: int = 128, head=None):
        import torch

        self.lm, self.tokenizer, self.targets = lm, tokenizer, tuple(targets)
        self.mean = list(mean or [0.0] * len(self.targets))
        self.std = list(std or [1.0] * len(self.targets))
        self.max_length = max_length
        self.head = head or torch.nn.Linear(_hidden_size(lm.config), len(self.targets))
        self.head.to(next(lm.parameters()).device)

    @property
    def device(self):
        return next(self.lm.parameters()).device

    def parameters(self):
        return list(self.lm.parameters()) + list(self.head.parameters())

    def train(self, mode: bool = True):
        self.lm.train(mode)
        self.head.train(mode)
        return self

    def encode(self, prompts: list[str]) -> dict:
        """Right-padded ids of each prompt followed by EOS (the pooled token)."""
        import torch

        eos = self.tokenizer.eos_token_id
        ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"][: self.max_length - 1] + [eos] for p in prompts]
        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=self.device)
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=self.device)
        return {"input_ids": input_ids, "attention_mask": mask}

    def forward(self, input_ids, attention_mask):
        """Standardised scores, shape (batch, len(targets))."""
        import torch

        out = self.lm(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        hidden = out.hidden_states[-1]
        last = attention_mask.sum(1) - 1
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return self.head(pooled.to(self.head.weight.dtype))

    __call__ = forward

    def predict(self, prompts: list[str], batch_size: int = 16) -> dict[str, list[float]]:
        """Predicted scores on the scorers' own scale: {target: [score per prompt]}."""
        import torch

        out = {t: [] for t in self.targets}
        was_training = self.lm.training
        self.train(False)
        with torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                z = self.forward(**self.encode(prompts[start:start + batch_size])).float().cpu()
                for j, t in enumerate(self.targets):
                    out[t] += (z[:, j] * self.std[j] + self.mean[j]).tolist()
        self.train(was_training)
        return out

    def standardised(self, prompts: list[str], batch_size: int = 16) -> dict[str, list[float]]:
        raw = self.predict(prompts, batch_size)
        return {t: [(v - self.mean[j]) / self.std[j] for v in raw[t]] for j, t in enumerate(self.targets)}

    def save_pretrained(self, folder: str | Path) -> Path:
        import torch

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.lm.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        torch.save(self.head.state_dict(), folder / HEAD_FILE)
        meta = {"targets": list(self.targets), "mean": self.mean, "std": self.std, "max_length": self.max_length}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, device=None) -> "TextRewardModel":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(folder)
        if not (folder / META_FILE).is_file() or not (folder / HEAD_FILE).is_file():
            raise ModelLoadError(f"'{folder}' is not a DiffChat reward model (no {META_FILE} / {HEAD_FILE}). "
                                 "Train one with: python -m train.reward --config train/configs/reward-cpu.yaml")
        meta = json.loads((folder / META_FILE).read_text())
        try:
            lm = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(folder)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"Could not load the reward model '{folder}': {exc}") from exc
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if device is not None:
            lm.to(device)
        head = torch.nn.Linear(_hidden_size(lm.config), len(meta["targets"]))
        head.load_state_dict(torch.load(folder / HEAD_FILE, map_location="cpu"))
        return cls(lm, tokenizer, meta["targets"], meta["mean"], meta["std"], meta["max_length"], head=head)


# ---------------------------------------------------------------------------------------------
# training the reward models


@dataclass
class RewardModelConfig:
    model: str = "base"            # backbone: "base" (embedded SmolLM2), "tiny", a folder or Hub id
    data: str = "runs/eval/scores.jsonl"  # the evaluation harness's rows: prompt, pickscore, aesthetic
    output_dir: str = "runs/reward"
    targets: list[str] = field(default_factory=lambda: list(TARGETS))
    epochs: float = 1              # the paper's RMs stage: 1 epoch, lr 5e-6, weight decay 1e-3
    lr: float = 5e-6
    weight_decay: float = 1e-3
    batch_size: int = 8
    max_length: int = 128
    warmup_ratio: float = 0.0
    val_fraction: float = 0.1
    seed: int = 0
    device: str | None = None
    log_every: int = 1

    @classmethod
    def from_yaml(cls, path, **overrides) -> "RewardModelConfig":
        return config_from_yaml(cls, path, overrides)


def load_score_rows(path: str | Path, targets=TARGETS) -> list[dict]:
    """Rows with a non-empty `prompt` and a number for every target; others are skipped."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"Score file not found: {path}. Run the evaluation harness (train/evaluate.py) first.")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        prompt = row.get("prompt") if isinstance(row, dict) else None
        if isinstance(prompt, str) and prompt.strip() and all(
                isinstance(row.get(t), (int, float)) and math.isfinite(row[t]) for t in targets):
            rows.append(row)
    if not rows:
        raise InvalidInput(f"{path} has no rows with a prompt and {', '.join(targets)} scores.")
    return rows


def _batches(rows, size, rng=None):
    order = list(range(len(rows)))
    if rng is not None:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        yield [rows[i] for i in order[start:start + size]]


def reward_model_loss(rm: TextRewardModel, rows: list[dict], batch_size: int = 16) -> float:
    """Mean squared error (standardised scores) over `rows`, no gradients."""
    import torch

    total, n = 0.0, 0
    rm.train(False)
    with torch.no_grad():
        for batch in _batches(rows, batch_size):
            pred = rm(**rm.encode([r["prompt"] for r in batch])).float()
            total += torch.nn.functional.mse_loss(pred, _targets(rm, batch), reduction="sum").item()
            n += pred.numel()
    return total / max(n, 1)


def _targets(rm: TextRewardModel, batch):
    import torch

    y = torch.tensor([[float(r[t]) for t in rm.targets] for r in batch], device=rm.device)
    return (y - torch.tensor(rm.mean, device=rm.device)) / torch.tensor(rm.std, device=rm.device)


def train_reward_model(cfg: RewardModelConfig, rows: list[dict] | None = None, progress: bool = True) -> dict:
    """Fine-tune backbone + head on (prompt -> scores); saves to cfg.output_dir. Returns losses."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    rows = rows if rows is not None else load_score_rows(cfg.data, cfg.targets)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    n_val = int(len(shuffled) * cfg.val_fraction)
    val, train = (shuffled[:n_val], shuffled[n_val:]) if n_val else (shuffled, shuffled)
    mean = [sum(r[t] for r in train) / len(train) for t in cfg.targets]
    std = [max(math.sqrt(sum((r[t] - m) ** 2 for r in train) / len(train)), 1e-3) for t, m in zip(cfg.targets, mean)]

    texts = [r["prompt"] for r in rows]
    lm, tokenizer, _ = load_causal_lm(cfg.model, device=cfg.device, dtype="float32", texts=texts)
    rm = TextRewardModel(lm, tokenizer, cfg.targets, mean, std, cfg.max_length)
    params = [p for p in rm.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = max(1, math.ceil(cfg.epochs * steps_per_epoch))
    sched = get_cosine_schedule_with_warmup(opt, int(cfg.warmup_ratio * total), total)

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_config.yaml").write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
    before = reward_model_loss(rm, val, cfg.batch_size)
    losses, step = [], 0
    bar = tqdm(total=total, desc="Reward model", unit="step", disable=not progress)
    with (out / "metrics.jsonl").open("w") as log:
        while step < total:
            for batch in _batches(train, cfg.batch_size, rng):
                rm.train(True)
                pred = rm(**rm.encode([r["prompt"] for r in batch])).float()
                loss = torch.nn.functional.mse_loss(pred, _targets(rm, batch))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                losses.append(loss.item())
                if step % cfg.log_every == 0:
                    log.write(json.dumps({"step": step, "loss": loss.item(), "lr": sched.get_last_lr()[0]}) + "\n")
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
                if step >= total:
                    break
    bar.close()
    after = reward_model_loss(rm, val, cfg.batch_size)
    rm.save_pretrained(out / "final")
    result = {"val_loss_before": before, "val_loss_after": after, "train_losses": losses,
              "rows": len(rows), "path": str(out / "final")}
    (out / "result.json").write_text(json.dumps({k: v for k, v in result.items() if k != "train_losses"}, indent=2))
    return result


# ---------------------------------------------------------------------------------------------
# the PPO reward


@dataclass
class RewardConfig:
    kind: str = "text"              # "text": reward models on the prompt; "image": render and score;
                                    # "reference": only the reference-based text terms below
    model: str | None = None        # text: a trained reward-model folder, or "tiny" (random, smoke runs)
    w_pref: float = 1.0             # weight of the (standardised) PickScore
    w_aes: float = 1.0              # weight of the (standardised) aesthetic score
    ci_threshold: float = 0.7       # the paper's content-integrity gate
    low_ci_reward: float = -1.0     # the reward below the gate (and for an empty prompt)
    w_ci: float = 0.0               # reference terms (any kind): CI score in [0, 1]
    w_removal: float = 0.0          #   share of the source keywords the reference dropped that are gone
    w_chrf: float = 0.0             #   sentence chrF against the reference, / 100
    w_leak: float = 0.0             #   penalty when an editing command word leaked into the prompt
    backend: str = "tiny"           # image: text-to-image backend
    seed: int = 0                   # image: render seed
    steps: int | None = None        # image: denoising steps (None: the backend's default)
    scorers: str = "default"        # image: "default" (PickScore v1 + LAION aesthetic) or "tiny" (tests)
    device: str | None = None


@dataclass
class RewardOutput:
    reward: list[float]
    ci: list[float]
    scores: dict[str, list[float]] = field(default_factory=dict)  # standardised scores per target


class ImageScorer:
    """Standardised PickScore and aesthetic score of the image rendered from each prompt."""

    def __init__(self, cfg: RewardConfig):
        from diffchat.render import Renderer
        from diffchat.scoring import ScorerConfig, load_scorer

        if cfg.scorers == "tiny":
            from diffchat.paths import cache_dir
            from diffchat.scoring import tiny_scorer_config

            scorer_cfg = tiny_scorer_config(cache_dir() / "tiny", device=cfg.device)
        else:
            scorer_cfg = ScorerConfig(device=cfg.device)
        self.cfg, self.renderer = cfg, Renderer(device=cfg.device)
        self.pick, self.aes = load_scorer("pickscore", scorer_cfg), load_scorer("aesthetic", scorer_cfg)

    def __call__(self, prompts: list[str]) -> dict[str, list[float]]:
        images = [self.renderer.render(p, backend=self.cfg.backend, seed=self.cfg.seed, steps=self.cfg.steps)
                  for p in prompts]
        (pm, ps), (am, as_) = IMAGE_SCORE_STATS["pickscore"], IMAGE_SCORE_STATS["aesthetic"]
        picks = self.pick.score(images=images, prompts=prompts)
        aes = self.aes.score(images=images)
        return {"pickscore": [(s - pm) / ps for s in picks], "aesthetic": [(s - am) / as_ for s in aes]}


class Reward:
    """reward(sources, instructions, references, predictions) -> RewardOutput (see the module docstring).

    `scorer(prompts) -> {"pickscore": [...], "aesthetic": [...]}` (standardised) may be passed in;
    otherwise it comes from `cfg`: a text reward model or rendered images.
    """

    def __init__(self, cfg: RewardConfig | None = None, scorer: Callable | None = None, texts: list[str] | None = None):
        self.cfg = cfg or RewardConfig()
        if scorer is None:
            if self.cfg.kind == "text":
                if not self.cfg.model:
                    raise InvalidInput("The text reward needs `model`: a reward-model folder (python -m train.reward) "
                                       "or 'tiny'.")
                if self.cfg.model == "tiny":
                    lm, tok, _ = load_causal_lm("tiny", texts=texts)
                    rm = TextRewardModel(lm, tok)
                else:
                    rm = TextRewardModel.from_pretrained(self.cfg.model, device=self.cfg.device)
                rm.lm.requires_grad_(False)
                scorer = rm.standardised
            elif self.cfg.kind == "image":
                scorer = ImageScorer(self.cfg)
            elif self.cfg.kind == "reference":
                if not any((self.cfg.w_ci, self.cfg.w_removal, self.cfg.w_chrf, self.cfg.w_leak)):
                    raise InvalidInput("The reference reward needs at least one of w_ci, w_removal, w_chrf, w_leak.")
                scorer = lambda prompts: {}  # noqa: E731  (no image scores)
            else:
                raise InvalidInput(f"Unknown reward kind {self.cfg.kind!r}; use 'text', 'image' or 'reference'.")
        self.scorer = scorer

    def __call__(self, sources, instructions, references, predictions) -> RewardOutput:
        from diffchat.scoring.ci import ci_score

        n = len(predictions)
        ci = [ci_score(s, i, r, p) if p.strip() else 0.0
              for s, i, r, p in zip(sources, instructions, references, predictions)]
        keep = [k for k, p in enumerate(predictions) if p.strip()]
        raw = self.scorer([predictions[k] for k in keep]) if keep else {}
        scores = {t: [0.0] * n for t in raw}
        for t, values in raw.items():
            for k, v in zip(keep, values):
                scores[t][k] = float(v)
        scores.update(reference_terms(self.cfg, sources, instructions, references, predictions, ci))
        c = self.cfg
        weights = {"pickscore": c.w_pref, "aesthetic": c.w_aes, "ci": c.w_ci, "removal": c.w_removal,
                   "chrf": c.w_chrf, "leak": -c.w_leak}
        reward = []
        for k, p in enumerate(predictions):
            if not p.strip() or ci[k] < c.ci_threshold:
                reward.append(c.low_ci_reward)
            else:
                reward.append(sum(w * scores[t][k] for t, w in weights.items() if w and t in scores))
        return RewardOutput(reward, ci, scores)


def reference_terms(cfg: RewardConfig, sources, instructions, references, predictions, ci) -> dict[str, list[float]]:
    """The reference-based reward terms that have a non-zero weight: ci, removal, chrf (0-1), leak (0/1)."""
    from train.data import EditRow
    from train.evaluate_text import leaks, removal_counts

    terms = {}
    if cfg.w_ci:
        terms["ci"] = list(ci)
    if cfg.w_removal:
        terms["removal"] = []
        for s, i, r, p in zip(sources, instructions, references, predictions):
            gone, dropped = removal_counts(EditRow(s, i, r), p)
            terms["removal"].append(gone / dropped if dropped else 1.0)
    if cfg.w_chrf:
        from sacrebleu.metrics import CHRF

        chrf = CHRF()
        terms["chrf"] = [chrf.sentence_score(p, [r]).score / 100 for r, p in zip(references, predictions)]
    if cfg.w_leak:
        terms["leak"] = [float(leaks(s, p)) for s, p in zip(sources, predictions)]
    return terms


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Train DiffChat's text reward models (PickScore + aesthetic from the prompt).")
    p.add_argument("--config", required=True, help="YAML config (train/configs/reward-*.yaml)")
    p.add_argument("--data", help="override data: the evaluation harness's score rows (JSONL)")
    p.add_argument("--output-dir", help="override output_dir")
    a = p.parse_args(argv)
    cfg = RewardModelConfig.from_yaml(a.config, data=a.data, output_dir=a.output_dir)
    start = time.perf_counter()
    result = train_reward_model(cfg)
    print(f"validation MSE {result['val_loss_before']:.4f} -> {result['val_loss_after']:.4f} "
          f"({result['rows']} rows, {time.perf_counter() - start:.0f} s); saved to {result['path']}")


if __name__ == "__main__":
    main()
