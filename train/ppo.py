"""PPO for DiffChat (the paper's RL stage), with ADM and VCI. Short and self-contained.

    python -m train.ppo --config train/configs/ppo-smoke.yaml --output-dir runs/ppo-smoke   # tiny, CPU, 1 min
    python -m train.ppo --config train/configs/ppo-cpu.yaml                                 # shipped SFT model, CPU
    accelerate launch -m train.ppo --config train/configs/ppo-paper.yaml                   # the paper's, GPUs

One step: sample prompts, generate edits with the policy, score them (reward.py), compute per-token
rewards (-kl_coef * KL to the frozen reference, plus the score on the last token), advantages by
GAE, then `ppo_epochs` passes of clipped policy + clipped value updates over mini-batches.

- ADM+ (`adm_positive`): rollouts use locally typical sampling (typical_p = 0.97).
- ADM- (`adm_negative`): ~4 % of the batch's target prompts get one keyword removed or replaced
  (train/adm.py); they join the batch as extra off-policy trajectories with their own reward.
- VCI (`vci`): GAE uses V(s_t) + alpha * CI(s_t), CI of the partial output y_1..y_t; the value head
  learns the rest (its target is advantage + V(s_t)).

Logs one line per step to metrics.jsonl (reward, kl, value_loss, entropy, ci, ...), plots them to
metrics.png, checkpoints the trainable weights + optimizer every `save_every` steps (`--resume`).
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import time
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import yaml

from diffchat.editor.templates import target_text
from diffchat.errors import InvalidInput
from train.config import config_from_yaml

METRICS = "metrics.jsonl"
CKPT_DIR = "checkpoints"


@dataclass
class PPOConfig:
    # policy and data
    model: str = "default"          # "tiny", "default" (shipped SFT adapter), "base", a folder, an adapter, a Hub id
    data: list[str] = field(default_factory=lambda: ["../shared/data/human-written-edits.jsonl"])
    source_field: str = "beautified_source_prompt"  # InstructPE files: which field is the source
    val_fraction: float = 0.0       # > 0: hold out this share by source prompt (as train/sft.py does with
    split_seed: int = 0             # the same fraction and seed) and train on the rest only
    reward: dict = field(default_factory=lambda: {"kind": "text", "model": None})  # reward.RewardConfig fields
    output_dir: str = "runs/ppo"
    # schedule
    steps: int = 100                # PPO iterations (rollout + updates)
    batch_size: int = 8             # rollouts per process per step
    mini_batch_size: int = 4
    ppo_epochs: int = 4
    max_prompt_tokens: int = 256
    max_new_tokens: int = 64
    temperature: float = 1.0
    # optimiser: AdamW + cosine annealing to lr_min
    lr: float = 1e-5
    lr_min: float = 0.0
    weight_decay: float = 1e-6
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    max_grad_norm: float = 1.0
    # PPO
    init_kl_coef: float = 0.05
    kl_target: float | None = 6.0   # adaptive KL controller; None = fixed coefficient
    kl_horizon: int = 10000
    gamma: float = 0.99
    lam: float = 0.95
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.5            # value loss = vf_coef * clipped squared error
    ent_coef: float = 0.0
    score_clip: float | None = None
    num_layers_unfrozen: int = 8    # train the last N decoder blocks (-1: all)
    lora_r: int = 0                 # > 0: train a LoRA of this rank instead
    lora_alpha: int = 16
    # the paper's additions (each can be switched off for the ablations)
    adm_positive: bool = True
    typical_p: float = 0.97
    adm_negative: bool = True
    negative_rate: float = 0.04
    vci: bool = True
    vci_alpha: float = 0.05
    # running
    seed: int = 0
    save_every: int = 50
    keep_checkpoints: int = 2
    device: str | None = None       # None: GPU if there is one; "cpu" forces the CPU
    mixed_precision: str = "no"     # "no" | "bf16" | "fp16" (accelerate)

    @classmethod
    def from_yaml(cls, path, **overrides) -> "PPOConfig":
        return config_from_yaml(cls, path, overrides)


# ---------------------------------------------------------------------------------------------
# the pieces


class AdaptiveKLController:
    """Ziegler et al. (2019): move the KL coefficient so the measured KL tracks `target`."""

    def __init__(self, init: float, target: float | None, horizon: int):
        self.value, self.target, self.horizon = init, target, horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        if self.target is None:
            return
        error = max(-0.2, min(0.2, current_kl / self.target - 1))
        self.value *= 1 + error * n_steps / self.horizon


class ValueHead(nn.Module):
    """Linear(h, 2h) -> ReLU -> Linear(2h, 1), as in trlx."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, 1))

    def forward(self, h):
        return self.net(h).squeeze(-1)


class PolicyWithValue(nn.Module):
    """The policy LM and a value head on its last hidden states (one module, for DDP)."""

    def __init__(self, policy):
        super().__init__()
        config = policy.config.get_text_config() if hasattr(policy.config, "get_text_config") else policy.config
        self.policy = policy
        self.value_head = ValueHead(config.hidden_size)

    def forward(self, input_ids, attention_mask, position_ids):
        out = self.policy(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                          output_hidden_states=True, use_cache=False)
        hidden = out.hidden_states[-1]
        return out.logits, self.value_head(hidden.to(self.value_head.net[0].weight.dtype))


def masked_mean(x, mask, dim=None):
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def whiten(x, mask, shift_mean: bool = True):
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    return (out if shift_mean else out + mean) * mask


def gae(values, rewards, mask, gamma: float, lam: float):
    """Generalised advantage estimation over right-padded rows: (advantages, returns = adv + values)."""
    values, rewards = values * mask, rewards * mask
    T = values.shape[1]
    adv = torch.zeros_like(values)
    last = torch.zeros_like(values[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    adv = adv * mask
    return adv, adv + values


def vci_values(values, ci_prefix, alpha: float):
    """VCI: the value GAE uses is V(s_t) + alpha * CI(s_t)."""
    return values + alpha * ci_prefix


def decoder_layers(model) -> nn.ModuleList:
    """The largest ModuleList of the model: its stack of decoder blocks."""
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not lists:
        raise InvalidInput("Could not find the decoder blocks of this model to freeze.")
    return max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))


def freeze_bottom(model, num_unfrozen: int) -> None:
    """Train only the last `num_unfrozen` blocks and the final norm (-1: everything)."""
    if num_unfrozen < 0:
        model.requires_grad_(True)
        return
    model.requires_grad_(False)
    layers = decoder_layers(model)
    for layer in list(layers)[len(layers) - num_unfrozen:] if num_unfrozen else []:
        layer.requires_grad_(True)
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    for name, module in decoder.named_children():
        if "norm" in name.lower():
            module.requires_grad_(True)


def load_training_rows(cfg: PPOConfig):
    """(source, instruction, target) rows from the data files (train/data.py), less the held-out split."""
    from train.data import load_rows, split_by_source

    rows = []
    for path in cfg.data:
        part, _ = load_rows(path, source_field=cfg.source_field, skip_bad=True)
        rows += part
    if cfg.val_fraction > 0:
        rows, _ = split_by_source(rows, cfg.val_fraction, cfg.split_seed)
    if not rows:
        raise InvalidInput(f"No usable training rows in {cfg.data}.")
    return rows


@dataclass
class Trajectory:
    row: object                     # EditRow: source, instruction, target
    query: list[int]
    response: list[int]
    text: str = ""
    negative: bool = False
    score: float = 0.0
    ci: float = 0.0
    terms: dict = field(default_factory=dict)  # the reward's parts (reward.RewardOutput.scores)


# ---------------------------------------------------------------------------------------------
# the trainer


class PPOTrainer:
    """PPO on a causal LM policy. `reward_fn(sources, instructions, references, predictions)` returns
    a `train.reward.RewardOutput` (reward + ci) or a plain list of rewards."""

    def __init__(self, cfg: PPOConfig, policy, tokenizer, reward_fn: Callable, rows, *, template: str = "diffchat",
                 ref_model=None, accelerator=None, output_dir: str | Path | None = None):
        from accelerate import Accelerator

        self.cfg, self.tokenizer, self.reward_fn, self.rows, self.template = cfg, tokenizer, reward_fn, list(rows), template
        if not self.rows:
            raise InvalidInput("PPO needs at least one training row.")
        self.out = Path(output_dir or cfg.output_dir)
        self.acc = accelerator or Accelerator(cpu=cfg.device == "cpu", mixed_precision=cfg.mixed_precision)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        torch.manual_seed(cfg.seed)  # the value head's initial weights

        self.ref = ref_model if ref_model is not None else deepcopy(policy)
        self.ref.requires_grad_(False)
        self.ref.eval().to(self.acc.device)
        if cfg.lora_r > 0:
            from peft import LoraConfig, get_peft_model

            policy = get_peft_model(policy, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                                                       target_modules="all-linear", task_type="CAUSAL_LM"))
        else:
            freeze_bottom(policy, cfg.num_layers_unfrozen)
        model = PolicyWithValue(policy)
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim >= 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                                lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
        n_mini = math.ceil(cfg.batch_size / cfg.mini_batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.steps * cfg.ppo_epochs * n_mini),
                                                           eta_min=cfg.lr_min)
        self.model, self.opt, self.sched = self.acc.prepare(model, opt, sched)
        self.kl = AdaptiveKLController(cfg.init_kl_coef, cfg.kl_target, cfg.kl_horizon)
        self.step_done = 0
        self.order = list(range(len(self.rows)))
        random.Random(cfg.seed).shuffle(self.order)
        self.stop_ids = self._stop_ids()
        self.negatives = None
        if cfg.adm_negative:
            from train.adm import NegativeSampler

            self.negatives = NegativeSampler([r.target for r in self.rows[:20000]], rate=cfg.negative_rate,
                                             seed=cfg.seed)

    # ---- helpers -----------------------------------------------------------------------------
    @property
    def unwrapped(self) -> PolicyWithValue:
        return self.acc.unwrap_model(self.model)

    def _stop_ids(self) -> list[int]:
        """EOS and every token whose text holds a newline: an edit is one line."""
        tok = self.tokenizer
        pieces = tok.batch_decode([[i] for i in range(len(tok))])
        ids = {i for i, p in enumerate(pieces) if "\n" in p}
        return sorted(ids | {tok.eos_token_id})

    def _prompt(self, row) -> str:
        from diffchat.editor.templates import build_prompt

        return build_prompt(self.tokenizer, row.source, row.instruction, self.template)

    def _encode_query(self, row) -> list[int]:
        ids = self.tokenizer(self._prompt(row), add_special_tokens=self.template != "chat")["input_ids"]
        return ids[-self.cfg.max_prompt_tokens:]

    def _decode(self, ids: list[int]) -> str:
        from diffchat.editor.templates import clean_output

        return clean_output(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _output(self, row, ids: list[int], partial: bool = False) -> str:
        """The prompt a response stands for, which the reward scores: the text itself, or for an edit
        script the source with the script applied ('' when it cannot be; for a partial script, the
        source with as much of the script as applies: all of it, its finished replacements, or none)."""
        text = self._decode(ids)
        if self.template != "script":
            return text
        from diffchat.editor.edit_script import SEP, apply_script

        applied = apply_script(row.source, text) if text else None
        if partial and applied is None:
            done = text.rpartition(SEP.strip())[0]
            applied = (apply_script(row.source, done) if done.strip() else None) or row.source
        return applied or ""

    def _batch_rows(self, step: int) -> list:
        P, B = self.acc.num_processes, self.cfg.batch_size
        start = (step * P + self.acc.process_index) * B
        return [self.rows[self.order[(start + k) % len(self.order)]] for k in range(B)]

    def _seed(self, step: int) -> int:
        return self.cfg.seed * 1_000_003 + step * self.acc.num_processes + self.acc.process_index

    # ---- rollout -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, queries: list[list[int]], seed: int) -> list[list[int]]:
        cfg, tok, dev = self.cfg, self.tokenizer, self.acc.device
        width = max(len(q) for q in queries)
        ids = torch.tensor([[tok.pad_token_id] * (width - len(q)) + q for q in queries], device=dev)
        mask = torch.tensor([[0] * (width - len(q)) + [1] * len(q) for q in queries], device=dev)
        kwargs = dict(do_sample=True, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_k=0,
                      top_p=1.0, eos_token_id=self.stop_ids, pad_token_id=tok.pad_token_id)
        if cfg.adm_positive:
            kwargs["typical_p"] = cfg.typical_p
        policy = self.unwrapped.policy
        policy.eval()
        torch.manual_seed(seed)
        out = policy.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, width:].tolist()
        stops = set(self.stop_ids)
        responses = []
        for seq in out:
            end = next((k + 1 for k, t in enumerate(seq) if t in stops), len(seq))
            responses.append(seq[:end])
        return responses

    def rollout(self, step: int) -> list[Trajectory]:
        rows = self._batch_rows(step)
        queries = [self._encode_query(r) for r in rows]
        trajs = [Trajectory(r, q, resp, self._output(r, resp))
                 for r, q, resp in zip(rows, queries, self.generate(queries, self._seed(step)))]
        if self.negatives is not None:  # ADM-: perturbed targets as extra off-policy trajectories
            rng = random.Random(self._seed(step))
            eos = self.tokenizer.eos_token_id
            for i, neg in self.negatives.sample([r.target for r in rows], rng):
                text = target_text(rows[i].source, neg.text, self.template)
                if not text:  # the perturbation undid the edit: no script to write
                    continue
                resp = self.tokenizer(" " + text, add_special_tokens=False)["input_ids"]
                resp = resp[: self.cfg.max_new_tokens - 1] + [eos]
                trajs.append(Trajectory(rows[i], queries[i], resp, self._output(rows[i], resp), negative=True))
        self._score(trajs)
        return trajs

    def _score(self, trajs: list[Trajectory]) -> None:
        from diffchat.scoring.ci import ci_score

        args = ([t.row.source for t in trajs], [t.row.instruction for t in trajs],
                [t.row.target for t in trajs], [t.text for t in trajs])
        out = self.reward_fn(*args)
        rewards = getattr(out, "reward", out)
        cis = getattr(out, "ci", None) or [ci_score(s, i, r, p) if p.strip() else 0.0 for s, i, r, p in zip(*args)]
        parts = getattr(out, "scores", None) or {}
        for k, (t, r, c) in enumerate(zip(trajs, rewards, cis)):
            t.score, t.ci = float(r), float(c)
            t.terms = {name: float(values[k]) for name, values in parts.items() if name != "ci"}
            if self.cfg.score_clip is not None:
                t.score = max(-self.cfg.score_clip, min(self.cfg.score_clip, t.score))

    def prefix_ci(self, trajs: list[Trajectory], width: int) -> torch.Tensor:
        """CI(s_t) for every response position t: the score of the partial output y_1..y_t."""
        from diffchat.scoring.ci import ci_score

        out = torch.zeros(len(trajs), width)
        for b, t in enumerate(trajs):
            for k in range(len(t.response)):
                text = self._output(t.row, t.response[:k], partial=True)
                out[b, k] = ci_score(t.row.source, t.row.instruction, t.row.target, text) if text else 0.0
        return out

    # ---- tensors -----------------------------------------------------------------------------
    def collate(self, trajs: list[Trajectory]) -> dict:
        """[left pad | query | response | right pad]; response tokens start at column Q."""
        pad = self.tokenizer.pad_token_id
        Q = max(len(t.query) for t in trajs)
        R = max(len(t.response) for t in trajs)
        ids, mask, rmask = [], [], []
        for t in trajs:
            lq, lr = Q - len(t.query), R - len(t.response)
            ids.append([pad] * lq + t.query + t.response + [pad] * lr)
            mask.append([0] * lq + [1] * (len(t.query) + len(t.response)) + [0] * lr)
            rmask.append([1] * len(t.response) + [0] * lr)
        dev = self.acc.device
        ids, mask = torch.tensor(ids, device=dev), torch.tensor(mask, device=dev)
        return {"input_ids": ids, "attention_mask": mask, "position_ids": (mask.cumsum(-1) - 1).clamp(min=0),
                "response_mask": torch.tensor(rmask, device=dev, dtype=torch.float32), "Q": Q, "R": R}

    def forward(self, model, batch, rows=None):
        """(log-probs of the response tokens, values, logits) for the rows of `batch`."""
        from trl.trainer.utils import selective_log_softmax

        sel = slice(None) if rows is None else rows
        ids = batch["input_ids"][sel]
        Q, R = batch["Q"], batch["R"]
        logits, values = model(ids, batch["attention_mask"][sel], batch["position_ids"][sel])
        logits = logits[:, Q - 1:Q + R - 1].float()
        logp = selective_log_softmax(logits, ids[:, Q:Q + R])
        return logp, values[:, Q - 1:Q + R - 1].float(), logits

    # ---- one PPO iteration -------------------------------------------------------------------
    def step(self) -> dict:
        from trl.trainer.utils import entropy_from_logits, selective_log_softmax

        cfg, step, start = self.cfg, self.step_done, time.perf_counter()
        trajs = self.rollout(step)
        batch = self.collate(trajs)
        mask = batch["response_mask"]
        self.model.eval()
        with torch.no_grad():
            old_logp, old_values, _ = self.forward(self.model, batch)
            ref_logits = self.ref(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  position_ids=batch["position_ids"], use_cache=False).logits
            Q, R = batch["Q"], batch["R"]
            ref_logp = selective_log_softmax(ref_logits[:, Q - 1:Q + R - 1].float(), batch["input_ids"][:, Q:Q + R])
            kl = (old_logp - ref_logp) * mask
            rewards = -self.kl.value * kl
            last = mask.sum(1).long() - 1
            scores = torch.tensor([t.score for t in trajs], device=mask.device)
            rewards[torch.arange(len(trajs), device=mask.device), last] += scores
            values_for_gae = old_values
            if cfg.vci:
                values_for_gae = vci_values(old_values, self.prefix_ci(trajs, R).to(mask.device), cfg.vci_alpha)
            adv, _ = gae(values_for_gae, rewards, mask, cfg.gamma, cfg.lam)
            returns = adv + old_values * mask  # the value head's target (VCI's bonus stays outside it)
            adv = whiten(adv, mask)

        self.model.train()
        stats = {k: [] for k in ("policy_loss", "value_loss", "entropy", "clipfrac", "approx_kl")}
        # a fixed number of mini-batches per epoch, whatever the number of ADM- extras, so every
        # process makes the same number of optimiser steps (DDP) and the schedule length is known
        n_mini = math.ceil(cfg.batch_size / cfg.mini_batch_size)
        for _ in range(cfg.ppo_epochs):
            for idx in torch.randperm(len(trajs)).tensor_split(n_mini):
                idx = idx.to(mask.device)
                m = mask[idx]
                logp, values, logits = self.forward(self.model, batch, idx)
                ratio = torch.exp(logp - old_logp[idx])
                pg = torch.max(-adv[idx] * ratio, -adv[idx] * ratio.clamp(1 - cfg.cliprange, 1 + cfg.cliprange))
                pg_loss = masked_mean(pg, m)
                v_clip = old_values[idx] + (values - old_values[idx]).clamp(-cfg.cliprange_value, cfg.cliprange_value)
                vf = torch.max((values - returns[idx]) ** 2, (v_clip - returns[idx]) ** 2)
                vf_loss = masked_mean(vf, m)
                entropy = masked_mean(entropy_from_logits(logits), m)
                loss = pg_loss + cfg.vf_coef * vf_loss - cfg.ent_coef * entropy
                self.acc.backward(loss)
                if cfg.max_grad_norm:
                    self.acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                self.opt.step()
                self.sched.step()
                self.opt.zero_grad(set_to_none=True)
                with torch.no_grad():
                    stats["policy_loss"].append(pg_loss.item())
                    stats["value_loss"].append(vf_loss.item())
                    stats["entropy"].append(entropy.item())
                    stats["clipfrac"].append(masked_mean(((ratio - 1).abs() > cfg.cliprange).float(), m).item())
                    stats["approx_kl"].append(masked_mean(0.5 * (logp - old_logp[idx]) ** 2, m).item())

        pos = [t for t in trajs if not t.negative]
        neg = [t for t in trajs if t.negative]
        seq_kl = kl.sum(1)[: len(pos)]
        local = {
            "reward": sum(t.score for t in pos) / len(pos),
            "kl": seq_kl.mean().item(),
            "ci": sum(t.ci for t in pos) / len(pos),
            "response_len": sum(len(t.response) for t in pos) / len(pos),
            **{f"reward_{name}": sum(t.terms[name] for t in pos) / len(pos) for name in pos[0].terms},
            **{k: sum(v) / len(v) for k, v in stats.items()},
        }
        metrics = {k: self._mean(v) for k, v in local.items()}
        n_neg = int(self.acc.reduce(torch.tensor(float(len(neg)), device=self.acc.device), "sum").item())
        neg_sum = self.acc.reduce(torch.tensor(sum(t.score for t in neg), device=self.acc.device), "sum").item()
        self.kl.update(metrics["kl"], cfg.batch_size * self.acc.num_processes)
        self.step_done += 1
        return {"step": self.step_done, **metrics, "reward_negative": neg_sum / n_neg if n_neg else None,
                "n_negative": n_neg, "kl_coef": self.kl.value, "lr": self.sched.get_last_lr()[0],
                "seconds": time.perf_counter() - start,
                "example": {"instruction": pos[0].row.instruction, "output": pos[0].text}}

    def _mean(self, value: float) -> float:
        t = torch.tensor(float(value), device=self.acc.device)
        return self.acc.reduce(t, "mean").item() if self.acc.num_processes > 1 else t.item()

    # ---- loop, checkpoints -------------------------------------------------------------------
    def train(self, steps: int | None = None, progress: bool = True) -> list[dict]:
        from tqdm.auto import tqdm

        steps = steps if steps is not None else self.cfg.steps
        self.out.mkdir(parents=True, exist_ok=True)
        log_path = self.out / METRICS
        history = []
        bar = tqdm(total=steps, initial=self.step_done, desc="PPO", unit="step",
                   disable=not progress or not self.acc.is_main_process)
        while self.step_done < steps:
            metrics = self.step()
            history.append(metrics)
            if self.acc.is_main_process:
                with log_path.open("a") as f:
                    f.write(json.dumps(metrics) + "\n")
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward']:.3f}", kl=f"{metrics['kl']:.3f}", ci=f"{metrics['ci']:.2f}")
            if self.cfg.save_every and self.step_done % self.cfg.save_every == 0:
                self.save_checkpoint()
        bar.close()
        return history

    def save_checkpoint(self) -> Path:
        folder = self.out / CKPT_DIR / f"step-{self.step_done:06d}"
        self.acc.wait_for_everyone()
        if self.acc.is_main_process:
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            model = self.unwrapped
            trainable = {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}
            torch.save(trainable, tmp / "trainable.pt")
            torch.save(self.opt.state_dict(), tmp / "optimizer.pt")
            torch.save(self.sched.state_dict(), tmp / "scheduler.pt")
            (tmp / "state.json").write_text(json.dumps({"step": self.step_done, "kl_coef": self.kl.value}))
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
            old = sorted((self.out / CKPT_DIR).glob("step-??????"))
            for stale in old[: max(0, len(old) - self.cfg.keep_checkpoints)]:
                shutil.rmtree(stale, ignore_errors=True)
        self.acc.wait_for_everyone()
        return folder

    def load_checkpoint(self, folder: str | Path) -> None:
        folder = Path(folder)
        if not (folder / "state.json").is_file():
            raise InvalidInput(f"'{folder}' is not a PPO checkpoint (no state.json).")
        trainable = torch.load(folder / "trainable.pt", map_location="cpu")
        model = self.unwrapped
        params = dict(model.named_parameters())
        missing = [n for n, p in params.items() if p.requires_grad and n not in trainable]
        if missing:
            raise InvalidInput(f"Checkpoint {folder} does not match this model/config (missing {missing[:3]}...).")
        with torch.no_grad():
            for name, value in trainable.items():
                params[name].copy_(value)
        self.opt.load_state_dict(torch.load(folder / "optimizer.pt", map_location="cpu"))
        self.sched.load_state_dict(torch.load(folder / "scheduler.pt", map_location="cpu"))
        state = json.loads((folder / "state.json").read_text())
        self.step_done, self.kl.value = state["step"], state["kl_coef"]
        log = self.out / METRICS
        if self.acc.is_main_process and log.is_file():  # drop steps logged after this checkpoint
            keep = [ln for ln in log.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= self.step_done]
            log.write_text("".join(ln + "\n" for ln in keep))

    def latest_checkpoint(self) -> Path | None:
        found = sorted((self.out / CKPT_DIR).glob("step-??????"))
        return found[-1] if found else None

    def save_final(self, meta: dict | None = None) -> Path:
        """The trained policy as a loadable model folder (diffchat.editor.load_editor takes it)."""
        from diffchat.editor import EDITOR_META

        folder = self.out / "final"
        self.acc.wait_for_everyone()
        if self.acc.is_main_process:
            policy = self.unwrapped.policy
            if hasattr(policy, "merge_and_unload"):
                policy = deepcopy(policy).merge_and_unload()
            policy.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
            torch.save(self.unwrapped.value_head.state_dict(), folder / "value_head.pt")
            (folder / EDITOR_META).write_text(json.dumps({"template": self.template, "stage": "ppo", **(meta or {})},
                                                         indent=2))
        self.acc.wait_for_everyone()
        return folder


def plot_metrics(path: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    keys = ["reward", "kl", "value_loss", "policy_loss", "entropy", "ci"]
    keys += sorted({k for r in rows for k in r if k.startswith("reward_") and k != "reward_negative"})[:3]
    fig, axes = plt.subplots(math.ceil(len(keys) / 3), 3, figsize=(11, 2.75 * math.ceil(len(keys) / 3)), squeeze=False)
    window = max(1, len(rows) // 10)  # a moving average: one step's batch is noisy
    for ax, key in zip(axes.flat, keys):
        steps, values = zip(*[(r["step"], r[key]) for r in rows if r.get(key) is not None]) if rows else ((), ())
        ax.plot(steps, values, marker="o" if len(rows) < 30 else None, alpha=0.35 if window > 1 else 1.0)
        if window > 1 and len(values) >= window:
            smooth = [sum(values[k - window + 1:k + 1]) / window for k in range(window - 1, len(values))]
            ax.plot(steps[window - 1:], smooth, color="C3", label=f"mean of {window}")
            ax.legend(fontsize=7, loc="best")
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle("DiffChat PPO")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def run(cfg: PPOConfig, resume: bool | str = False, progress: bool = True) -> Path:
    """Build everything from the config, train, save `final/`, plot. Returns the output folder."""
    from train.reward import Reward, RewardConfig, load_causal_lm

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = load_training_rows(cfg)
    texts = [t for r in rows for t in (r.source, r.target)]
    device = "cpu" if cfg.device == "cpu" else None
    policy, tokenizer, template = load_causal_lm(cfg.model, device=device, dtype="float32", texts=texts)
    reward = Reward(RewardConfig(**cfg.reward), texts=texts)
    trainer = PPOTrainer(cfg, policy, tokenizer, reward, rows, template=template, output_dir=out)
    if resume:
        ckpt = trainer.latest_checkpoint() if resume is True else Path(resume)
        if ckpt is None:
            print("No checkpoint to resume from; starting from scratch.")
        else:
            trainer.load_checkpoint(ckpt)
            print(f"Resumed from {ckpt} (step {trainer.step_done}).")
    elif trainer.acc.is_main_process:
        (out / METRICS).unlink(missing_ok=True)
    if trainer.acc.is_main_process:
        (out / "run_config.yaml").write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
    trainer.train(progress=progress)
    trainer.save_final({"base": cfg.model})
    if trainer.acc.is_main_process and (out / METRICS).is_file():
        plot_metrics(out / METRICS, out / "metrics.png")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="DiffChat PPO (ADM + VCI).")
    p.add_argument("--config", required=True, help="YAML config (train/configs/ppo-*.yaml)")
    p.add_argument("--output-dir", help="override output_dir")
    p.add_argument("--steps", type=int, help="override steps")
    p.add_argument("--resume", nargs="?", const=True, default=False,
                   help="continue from the latest checkpoint in output_dir (or from the given checkpoint folder)")
    a = p.parse_args(argv)
    cfg = PPOConfig.from_yaml(a.config, output_dir=a.output_dir, steps=a.steps)
    start = time.perf_counter()
    out = run(cfg, resume=a.resume)
    print(f"PPO done in {time.perf_counter() - start:.0f} s: metrics in {out / METRICS}, model in {out / 'final'}")


if __name__ == "__main__":
    main()
