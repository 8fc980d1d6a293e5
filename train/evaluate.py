"""The paper's automatic image evaluation: edit, render, score, tabulate, chart, and build a compare set.

    python -m train.evaluate --test-file test.jsonl --methods source,append,base,sft,ip2p \\
        --backends sd15,sdxl --limit 100 --seed 0 --out runs/eval [--scorers tiny|real]

Test rows (train.data.load_rows): InstructPix2Pix-style {input, edit, output} or InstructPE records;
each is (raw prompt, instruction, reference target prompt).

Methods: `source` (the raw prompt unchanged), `append` (raw prompt + ", " + instruction), `base`
(the embedded base editor, zero-shot), `sft` (the shipped DiffChat editor, or --editor-model),
`editor:<spec>` (any `diffchat.editor.load_editor` spec: a folder, a PPO checkpoint, `openai:MODEL`),
`ip2p` (InstructPix2Pix edits the raw image directly; `tiny-ip2p` for tiny backends).

For each backend, the raw image is rendered from the raw prompt and every method's target image from
its prompt, with the same seed (--seed + row index). Each target image is scored against the
reference target prompt (PickScore, aesthetic, HPS v2.1, CLIP score), directional CLIP compares the
raw -> target change of image and text, and CI checks the method's prompt against the reference
(empty for ip2p). An editor that returns an empty prompt scores CI 0 and its image is rendered
from the raw prompt.

Written under --out:
    results.csv          one row per method x backend: method, backend, n, pickscore, aesthetic,
                         hps (HPS v2.1 x 100), clip_score, dclip, ci (mean over rows)
    results.md           laid out like the paper's Table 1: a block per backend, then the average
                         over backends with each method's average rank (1 = best)
    charts/<metric>.png  grouped bar charts, one per metric
    prompts.jsonl        every method's prompt per row; scores.jsonl: every item's scores
    compare/items.jsonl  the compare tab's item set (diffchat.storage.items), one object a line:
                         {"id": "<backend>-<row>", "raw_image": "images/<backend>/<row>/raw.png",
                          "instruction": ..., "raw_prompt": ..., "backend": ...,
                          "images": {"<method>": "images/<backend>/<row>/<method>.png", ...},
                          "prompts": {"<method>": "<its prompt>", ...}}
                         with image paths relative to compare/ and the images inside it
    cache/               editor outputs, images by content key, scores (SQLite): a re-run with the
                         same settings only does what is missing

Several processes / GPUs: `accelerate launch --multi_gpu --num_processes 8 -m train.evaluate ...`.
Each process edits, renders and scores its share (batches of rows x methods x backends, images by
content key) into the shared cache; the main process then gathers from the cache and writes the same
files as a single run. (`accelerate launch --cpu` starts one process whatever --num_processes says;
on a machine without CUDA, `--multi_gpu` starts the processes and they talk over gloo.)
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from diffchat.errors import DiffChatError, InvalidInput
from diffchat.scoring.cli import parse_names, scorer_config
from diffchat.scoring.scorers import SCORER_NAMES, fingerprint, require_weights

METRICS = ("pickscore", "aesthetic", "hps", "clip_score", "dclip", "ci")
LABELS = {"pickscore": "PickScore", "aesthetic": "Aesthetic", "hps": "HPS v2.1", "clip_score": "CLIP score",
          "dclip": "Dir. CLIP", "ci": "CI"}
DIGITS = {"pickscore": 2, "aesthetic": 3, "hps": 2, "clip_score": 2, "dclip": 4, "ci": 3}
SCALE = {"hps": 100.0}  # HPS v2.1 is reported x100
BUILTIN_METHODS = ("source", "append", "base", "sft", "ip2p")


@dataclass
class EvalConfig:
    test_file: str
    out: str
    methods: list[str] = field(default_factory=lambda: ["source", "append", "base", "sft"])
    backends: list[str] = field(default_factory=lambda: ["tiny"])
    limit: int | None = None
    seed: int = 0
    scorers: str = "real"  # "real" weights or "tiny" random models
    scorer_names: list[str] = field(default_factory=lambda: list(SCORER_NAMES))
    scorer_options: list[str] = field(default_factory=list)  # KEY=VALUE ScorerConfig overrides
    editor_model: str | None = None  # the `sft` method's editor (default: the shipped model)
    ip2p_backend: str | None = None  # default: tiny-ip2p for tiny backends, else instruct-pix2pix
    steps: int | None = None  # override every backend's step count
    batch_size: int = 8
    device: str | None = None
    compare: bool = True


def _sha(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "x"


class Shard:
    """This process's share of the work under `accelerate launch` (WORLD_SIZE > 1), else all of it."""

    def __init__(self, state=None):
        self.state = state
        self.rank = state.process_index if state else 0
        self.world = state.num_processes if state else 1
        self.counts = {"edited": 0, "rendered": 0, "scored": 0}

    @classmethod
    def from_env(cls) -> "Shard":
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return cls()
        import torch
        from accelerate import PartialState

        return cls(PartialState(cpu=not torch.cuda.is_available()))  # CPU processes: gloo

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mine(self, unit: int) -> bool:
        return unit % self.world == self.rank

    def barrier(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()


SINGLE = Shard()


def load_test_rows(path: str | Path, limit: int | None = None):
    """(source, instruction, target) rows from an InstructPix2Pix-style or InstructPE file."""
    from train.data import DataError, load_rows

    if not Path(path).is_file():
        raise InvalidInput(f"Test file not found: {path}")
    try:
        rows, _ = load_rows(path)
    except DataError as e:
        raise InvalidInput(str(e)) from None
    if limit is not None:
        if limit < 1:
            raise InvalidInput(f"--limit must be at least 1 (got {limit}).")
        rows = rows[:limit]
    if not rows:
        raise InvalidInput(f"{path} holds no usable test rows.")
    return rows


def check_methods(methods: list[str]) -> list[str]:
    bad = [m for m in methods if m not in BUILTIN_METHODS and not (m.startswith("editor:") and len(m) > 7)]
    if bad or not methods:
        raise InvalidInput(f"Unknown method(s) {', '.join(bad) or '(none)'}: use {', '.join(BUILTIN_METHODS)} "
                           "or editor:<model spec>.")
    if len(set(methods)) != len(methods):
        raise InvalidInput("A method is listed twice.")
    return methods


def editor_spec(method: str, sft_model: str | None = None) -> str | None:
    """The `load_editor` spec behind an evaluation method; None for methods that use no editor."""
    if method == "base":
        return "base"
    if method in ("sft", "default"):
        return sft_model or "default"
    if method.startswith("editor:"):
        return method.split(":", 1)[1]
    return None


def _editor_identity(spec: str) -> str:
    if spec == "default":
        from diffchat.editor import SHIPPED_ADAPTER

        return f"default@{fingerprint(str(SHIPPED_ADAPTER))}"
    return fingerprint(spec)


class PromptCache:
    """Editor outputs by (editor identity, source, instruction), appended to a JSONL file; process r
    of several appends to edits.rank<r>.jsonl beside it, and every file is read."""

    def __init__(self, path: Path, rank: int = 0):
        self.folder, self.name = path.parent, path.name
        self.path = path if rank == 0 else path.with_name(f"{path.stem}.rank{rank}{path.suffix}")
        self.data: dict[str, str] = {}
        self.reload()

    def reload(self) -> None:
        for path in sorted(self.folder.glob(f"{Path(self.name).stem}*{Path(self.name).suffix}")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    self.data[rec["key"]] = rec["output"]

    def put_many(self, items: dict[str, str]) -> None:
        self.data.update(items)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            for k, v in items.items():
                f.write(json.dumps({"key": k, "output": v}, ensure_ascii=False) + "\n")


def method_outputs(method: str, rows, cfg: EvalConfig, cache: PromptCache, shard: Shard = SINGLE) -> list[str | None]:
    """What `method` outputs for each row: a prompt (possibly empty, for a failing editor), None for ip2p."""
    if method == "source":
        return [r.source for r in rows]
    if method == "append":
        return [f"{r.source}, {r.instruction}" for r in rows]
    if method == "ip2p":
        return [None] * len(rows)
    spec = editor_spec(method, cfg.editor_model)
    ident = _editor_identity(spec)
    keys = [_sha("edit", ident, r.source, r.instruction) for r in rows]
    todo = [i for i, k in enumerate(keys) if k not in cache.data]
    if not todo:
        return [cache.data[k] for k in keys]
    shard.barrier()  # every process has its to-do list before any of them writes
    batches = [todo[j:j + cfg.batch_size] for j in range(0, len(todo), cfg.batch_size)]
    mine = [i for n, batch in enumerate(batches) if shard.mine(n) for i in batch]  # same batches as one process
    if mine:
        import gc

        from diffchat.editor import load_editor

        editor = load_editor(spec)
        outs = editor.edit_batch([(rows[i].source, rows[i].instruction) for i in mine], batch_size=cfg.batch_size,
                                 progress=True)
        cache.put_many({keys[i]: out for i, out in zip(mine, outs)})
        shard.counts["edited"] += len(mine)
        del editor
        gc.collect()
    shard.barrier()
    cache.reload()
    return [cache.data[k] for k in keys]


class ImageStore:
    """PNG images by content key under one folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.png"

    def save(self, key: str, image) -> Path:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.png")
        image.save(tmp)
        tmp.replace(path)
        return path


def _backend_identity(name: str, steps: int | None) -> str:
    from diffchat.backends import get_backend

    spec = get_backend(name)
    if spec.tiny:
        from diffchat.tiny import TINY_VERSION

        return _sha(asdict(spec), steps, TINY_VERSION)
    return _sha(asdict(spec), steps, fingerprint(spec.model_id))


def _ip2p_backend(backend: str, cfg: EvalConfig) -> str:
    from diffchat.backends import get_backend

    return cfg.ip2p_backend or ("tiny-ip2p" if get_backend(backend).tiny else "instruct-pix2pix")


def render_all(rows, outputs: dict, cfg: EvalConfig, store: ImageStore, renderer=None, shard: Shard = SINGLE) -> dict:
    """Render (or find in the store) the raw and target images: {(backend, method|'raw', i): path}.
    Several processes: each renders the keys it is dealt (every world-th distinct key), text-to-image
    first, then, once every raw image is there, the InstructPix2Pix edits."""
    jobs = []  # (slot, key, render kwargs); ip2p jobs come after the raw image they edit
    for b in cfg.backends:
        ident = _backend_identity(b, cfg.steps)
        raw_keys = []
        for i, r in enumerate(rows):
            seed = cfg.seed + i
            raw_keys.append(_sha("t2i", ident, r.source, seed))
            jobs.append(((b, "raw", i), raw_keys[i], dict(prompt=r.source, backend=b, seed=seed)))
        for m, outs in outputs.items():
            for i, r in enumerate(rows):
                seed = cfg.seed + i
                if m == "ip2p":
                    ib = _ip2p_backend(b, cfg)
                    key = _sha("ip2p", _backend_identity(ib, cfg.steps), raw_keys[i], r.instruction, seed)
                    kw = dict(prompt=r.instruction, backend=ib, seed=seed, instruction=r.instruction,
                              init_image=("raw", b, i))
                else:
                    prompt = outs[i].strip() or r.source  # an empty edit leaves the prompt as it was
                    key = _sha("t2i", ident, prompt, seed)
                    kw = dict(prompt=prompt, backend=b, seed=seed)
                jobs.append(((b, m, i), key, kw))
    dealt = {key for n, key in enumerate(dict.fromkeys(key for _, key, _ in jobs)) if shard.mine(n)}
    paths = {slot: store.path(key) for slot, key, _ in jobs}
    for phase in (False, True):  # text-to-image, then the edits of raw images (which must exist by then)
        todo = [(key, kw) for _, key, kw in jobs
                if ("init_image" in kw) == phase and key in dealt and not store.path(key).is_file()]
        todo = list({key: (key, kw) for key, kw in todo}.values())  # one render per distinct key
        for key, kw in tqdm(todo, desc="rendering", unit="img", disable=not todo):
            if renderer is None:
                from diffchat.render import Renderer

                renderer = Renderer(device=cfg.device)
            kw = dict(kw)
            if "init_image" in kw:
                kw["init_image"] = paths[(kw["init_image"][1], "raw", kw["init_image"][2])]
            if cfg.steps is not None:
                kw["steps"] = cfg.steps
            store.save(key, renderer.render(**kw, progress=lambda step, total: None))  # one bar: ours
            shard.counts["rendered"] += 1
        shard.barrier()
    return paths


def score_all(rows, outputs: dict, paths: dict, cfg: EvalConfig, cache_dir: Path,
              shard: Shard = SINGLE) -> list[dict] | None:
    """Per-item scores: one dict per (backend, method, row). Several processes: each scores its
    batches of rows (the same batches a single run scores) into the shared score cache; then the
    main process reads them all back and returns the items, the others return None."""
    from diffchat.scoring.suite import ScoreSuite

    suite = ScoreSuite(cfg.scorer_names, scorer_config(cfg.scorers, cfg.scorer_options, cfg.device),
                       cache=cache_dir / "scores.sqlite")
    items = []
    try:
        if shard.world > 1:
            unit = 0
            for b in cfg.backends:
                for m, outs in outputs.items():
                    for j in range(0, len(rows), cfg.batch_size):
                        if shard.mine(unit):
                            idx = range(j, min(j + cfg.batch_size, len(rows)))
                            suite.score([str(paths[(b, m, i)]) for i in idx], [rows[i].target for i in idx],
                                        raw_images=[str(paths[(b, "raw", i)]) for i in idx],
                                        raw_prompts=[rows[i].source for i in idx],
                                        instructions=[rows[i].instruction for i in idx],
                                        predictions=[outs[i] for i in idx], batch_size=cfg.batch_size, progress=False)
                            shard.counts["scored"] += len(idx)
                        unit += 1
            shard.barrier()
            if not shard.main:
                return None
        for b in cfg.backends:
            raws = [paths[(b, "raw", i)] for i in range(len(rows))]
            for m, outs in outputs.items():
                imgs = [paths[(b, m, i)] for i in range(len(rows))]
                scores = suite.score(
                    [str(p) for p in imgs], [r.target for r in rows], raw_images=[str(p) for p in raws],
                    raw_prompts=[r.source for r in rows], instructions=[r.instruction for r in rows],
                    predictions=outs, batch_size=cfg.batch_size, progress=True)
                for i, r in enumerate(rows):
                    item = {"backend": b, "method": m, "row": i, "prompt": outs[i], "image": str(imgs[i])}
                    for k in METRICS:
                        v = scores.get(k, [None] * len(rows))[i]
                        item[k] = None if v is None else v * SCALE.get(k, 1.0)
                    items.append(item)
    finally:
        suite.cache.close()
    return items


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def aggregate(items: list[dict], methods: list[str], backends: list[str]) -> list[dict]:
    """One row per (method, backend): n and the mean of each metric."""
    table = []
    for b in backends:
        for m in methods:
            sel = [it for it in items if it["backend"] == b and it["method"] == m]
            table.append({"method": m, "backend": b, "n": len(sel), **{k: _mean([it[k] for it in sel]) for k in METRICS}})
    return table


def ranks(values: dict[str, float | None]) -> dict[str, float]:
    """Rank 1 = highest value; ties share their average rank; None is not ranked."""
    present = sorted(((v, m) for m, v in values.items() if v is not None), key=lambda t: -t[0])
    out, i = {}, 0
    while i < len(present):
        j = i
        while j + 1 < len(present) and math.isclose(present[j + 1][0], present[i][0], rel_tol=1e-9, abs_tol=1e-12):
            j += 1
        for _, m in present[i : j + 1]:
            out[m] = (i + j) / 2 + 1
        i = j + 1
    return out


def average_block(table: list[dict], methods: list[str], backends: list[str], metrics: list[str]) -> list[dict]:
    """Per method: the mean of each metric over backends, and the mean rank over (backend, metric)."""
    per = {(r["backend"], r["method"]): r for r in table}
    all_ranks = {m: [] for m in methods}
    for b in backends:
        for k in metrics:
            for m, rk in ranks({m: per[(b, m)][k] for m in methods}).items():
                all_ranks[m].append(rk)
    return [{"method": m, "backend": "average", "n": sum(per[(b, m)]["n"] for b in backends),
             **{k: _mean([per[(b, m)][k] for b in backends]) for k in metrics},
             "avg_rank": _mean(all_ranks[m])} for m in methods]


def _fmt(v, k):
    return "–" if v is None else f"{v:.{DIGITS.get(k, 2)}f}"


def markdown_table(rows: list[dict], metrics: list[str], extra: str | None = None) -> list[str]:
    cols = metrics + ([extra] if extra else [])
    best = {}
    for k in metrics:
        vals = [r[k] for r in rows if r[k] is not None]
        best[k] = max(vals) if len(vals) > 1 else None
    if extra:
        vals = [r[extra] for r in rows if r.get(extra) is not None]
        best[extra] = min(vals) if len(vals) > 1 else None
    head = "| Method | " + " | ".join(LABELS.get(c, "Avg. rank") for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for r in rows:
        cells = []
        for c in cols:
            s = _fmt(r.get(c), c)
            cells.append(f"**{s}**" if best[c] is not None and r.get(c) == best[c] else s)
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    return lines


def write_results(out: Path, table: list[dict], cfg: EvalConfig, n_rows: int) -> list[dict]:
    metrics = [k for k in METRICS if any(r[k] is not None for r in table)]
    with (out / "results.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["method", "backend", "n", *METRICS])
        w.writeheader()
        for r in table:
            w.writerow({k: ("" if r[k] is None else round(r[k], 6) if isinstance(r[k], float) else r[k]) for k in w.fieldnames})
    avg = average_block(table, cfg.methods, cfg.backends, metrics)
    lines = ["# DiffChat automatic evaluation", "",
             f"{n_rows} test rows from `{cfg.test_file}`, seed {cfg.seed}, {cfg.scorers} scorers. "
             "Higher is better everywhere; HPS v2.1 is x100; best per column in bold.", ""]
    for b in cfg.backends:
        lines += [f"## {b}", "", *markdown_table([r for r in table if r["backend"] == b], metrics), ""]
    lines += ["## Average over backends", "", *markdown_table(avg, metrics, extra="avg_rank"), "",
              "Avg. rank: each method's rank (1 = best) averaged over every backend and metric.", ""]
    (out / "results.md").write_text("\n".join(lines), encoding="utf-8")
    return avg


def write_charts(out: Path, table: list[dict], avg: list[dict], cfg: EvalConfig) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = out / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    groups = list(cfg.backends) + (["average"] if len(cfg.backends) > 1 else [])
    rows = table + (avg if len(cfg.backends) > 1 else [])
    written = []
    for k in METRICS:
        if not any(r[k] is not None for r in rows):
            continue
        fig, ax = plt.subplots(figsize=(max(5.0, 1.5 + 0.45 * len(groups) * len(cfg.methods)), 3.8), dpi=110)
        width = 0.8 / len(cfg.methods)
        for j, m in enumerate(cfg.methods):
            vals = [next((r[k] for r in rows if r["backend"] == g and r["method"] == m), None) for g in groups]
            xs = [g + (j - (len(cfg.methods) - 1) / 2) * width for g in range(len(groups))]
            ax.bar(xs, [0 if v is None else v for v in vals], width, label=m)
        ax.set_xticks(range(len(groups)), groups)
        ax.set_title(LABELS[k] + (" (x100)" if k == "hps" else ""))
        ax.legend(fontsize=8, ncol=min(len(cfg.methods), 4), loc="upper center", bbox_to_anchor=(0.5, -0.1),
                  frameon=False)
        ax.grid(axis="y", alpha=0.3)
        ax.axhline(0, color="#444", linewidth=0.8)
        path = folder / f"{k}.png"
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def write_compare(out: Path, rows, outputs: dict, paths: dict, cfg: EvalConfig) -> Path | None:
    """The compare tab's item set (see the module docstring); needs two methods or more."""
    if len(outputs) < 2:
        return None
    root = out / "compare"
    lines = []
    for b in cfg.backends:
        for i, r in enumerate(rows):
            rel = Path("images") / safe_name(b) / f"{i:04d}"
            (root / rel).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths[(b, "raw", i)], root / rel / "raw.png")
            images = {}
            for m in outputs:
                dst = rel / f"{safe_name(m)}.png"
                shutil.copyfile(paths[(b, m, i)], root / dst)
                images[m] = dst.as_posix()
            lines.append(json.dumps({
                "id": f"{safe_name(b)}-{i:04d}", "raw_image": (rel / "raw.png").as_posix(),
                "instruction": r.instruction, "raw_prompt": r.source, "backend": b, "images": images,
                "prompts": {m: outs[i] for m, outs in outputs.items() if outs[i] is not None},
            }, ensure_ascii=False))
    path = root / "items.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def evaluate(cfg: EvalConfig, renderer=None, shard: Shard = SINGLE) -> dict:
    """Run the whole evaluation; returns {"table", "average", "items", "files"} (empty in a process
    other than the main one of several: `shard`)."""
    check_methods(cfg.methods)
    cfg.scorer_names = parse_names(",".join(cfg.scorer_names))
    require_weights(cfg.scorer_names, scorer_config(cfg.scorers, cfg.scorer_options, cfg.device))  # offline: now
    if not cfg.backends:
        raise InvalidInput("Give at least one backend.")
    from diffchat.backends import get_backend

    for b in cfg.backends:
        get_backend(b)  # unknown names fail now, not after the editing
    rows = load_test_rows(cfg.test_file, cfg.limit)
    out = Path(cfg.out)
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)

    prompt_cache = PromptCache(cache / "edits.jsonl", shard.rank)
    outputs = {m: method_outputs(m, rows, cfg, prompt_cache, shard) for m in cfg.methods}
    paths = render_all(rows, outputs, cfg, ImageStore(cache / "images"), renderer, shard)
    items = score_all(rows, outputs, paths, cfg, cache, shard)
    if shard.world > 1:
        print(f"process {shard.rank + 1} of {shard.world}: edited {shard.counts['edited']} prompts, rendered "
              f"{shard.counts['rendered']} images, scored {shard.counts['scored']} items", file=sys.stderr, flush=True)
    if not shard.main:
        return {}
    with (out / "prompts.jsonl").open("w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"row": i, "input": r.source, "edit": r.instruction, "output": r.target,
                                "predictions": {m: outputs[m][i] for m in cfg.methods}}, ensure_ascii=False) + "\n")
    with (out / "scores.jsonl").open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    table = aggregate(items, cfg.methods, cfg.backends)
    avg = write_results(out, table, cfg, len(rows))
    files = [out / "results.csv", out / "results.md", *write_charts(out, table, avg, cfg)]
    if cfg.compare:
        compare = write_compare(out, rows, outputs, paths, cfg)
        if compare:
            files.append(compare)
    return {"table": table, "average": avg, "items": items, "files": files}


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--test-file", required=True, help="JSONL test rows (input/edit/output or InstructPE)")
    p.add_argument("--methods", default="source,append,base,sft",
                   help="comma-separated: source, append, base, sft, ip2p, editor:<spec>")
    p.add_argument("--backends", default="tiny", help="comma-separated backend names or ids (e.g. sd15,sdxl)")
    p.add_argument("--limit", type=int, help="use the first N test rows")
    p.add_argument("--seed", type=int, default=0, help="row i renders with seed S + i")
    p.add_argument("--out", required=True, help="output folder (re-runs resume from its cache)")
    p.add_argument("--scorers", choices=("real", "tiny"), default="real",
                   help="real scorer weights, or tiny random scorer models (offline smoke runs)")
    p.add_argument("--scorer-names", default=",".join(SCORER_NAMES), help="which scores to compute")
    p.add_argument("--scorer-option", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scorer setting, e.g. hps_checkpoint=/path/HPS_v2.1_compressed.pt")
    p.add_argument("--editor-model", help="the editor behind the `sft` method (default: the shipped model)")
    p.add_argument("--ip2p-backend", help="InstructPix2Pix backend for `ip2p` (default by backend)")
    p.add_argument("--steps", type=int, help="override the denoising steps of every backend")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device")
    p.add_argument("--no-compare", action="store_true", help="do not write the compare item set")
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    cfg = EvalConfig(test_file=a.test_file, out=a.out, methods=_csv(a.methods), backends=_csv(a.backends),
                     limit=a.limit, seed=a.seed, scorers=a.scorers, scorer_names=_csv(a.scorer_names),
                     scorer_options=a.scorer_option, editor_model=a.editor_model, ip2p_backend=a.ip2p_backend,
                     steps=a.steps, batch_size=a.batch_size, device=a.device, compare=not a.no_compare)
    try:
        shard = Shard.from_env()
        result = evaluate(cfg, shard=shard)
    except DiffChatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not shard.main:
        return 0
    print((Path(cfg.out) / "results.md").read_text(encoding="utf-8"))
    print("Wrote: " + ", ".join(str(p) for p in result["files"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
