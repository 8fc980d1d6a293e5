"""The CTranslate2 runtime: the same editor, converted once and run with CTranslate2 on the CPU.

CTranslate2 has no LoRA support, so the adapter is merged into the base (transformers), saved, and
converted. The result is cached in the user cache beside the dequantised base, keyed by what it was
built from (base files, adapter contents, quantisation, CTranslate2 version): a new adapter converts
again, and a half-written or damaged cache is rebuilt. Later loads take well under a second.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from ..errors import InvalidInput, ModelLoadError
from ..paths import cache_dir
from .common import GenerationOptions, LocalEditor, cpu_cores

QUANTIZATIONS = ("int8", "int8_float32", "int16", "float32")
# int8: with the shipped editor (rules + both models) judged blind as good as float32 (= transformers) on
# held-out edits and chats (eval/judging/round-4, round-5) and 3-4x faster than transformers; float32 on request.
DEFAULT_QUANTIZATION = "int8"
MANIFEST = "diffchat_ct2.json"  # written last: a folder without it (or with other file sizes) is rebuilt


class CT2Editor(LocalEditor):
    """Turns (current prompt, instruction) into the target prompt with a CTranslate2 `Generator`."""

    runtime = "ctranslate2"

    def __init__(self, folder: Path, tokenizer, *, name: str, template: str, stop_tokens: list[str],
                 quantization: str, threads: int = 0, options: GenerationOptions | None = None):
        super().__init__(tokenizer, name=name, template=template, options=options)
        self.folder, self.stop_tokens, self.quantization, self.threads = folder, stop_tokens, quantization, threads
        self.generator = self._new_generator()

    @property
    def device(self):
        import torch

        return torch.device("cpu")

    def _new_generator(self):
        import ctranslate2

        # threads 0: every core of ours, at most 4 (CTranslate2's own default of 4 oversubscribes 2 cores)
        return ctranslate2.Generator(str(self.folder), device="cpu", compute_type=self.quantization,
                                     intra_threads=self.threads or min(4, cpu_cores()))

    @classmethod
    def from_pretrained(cls, model=None, *, gguf_file: str | None = None, adapter=None, template: str | None = None,
                        options: GenerationOptions | None = None, quantization: str | None = None,
                        threads: int = 0):
        """Convert (first use) or reuse the cached conversion of base + adapter, and load it."""
        from transformers import AutoTokenizer

        start = time.perf_counter()
        quantization = check_quantization(quantization)
        build = lambda: converted_folder(model, gguf_file=gguf_file, adapter=adapter,  # noqa: E731
                                         quantization=quantization, template=template)
        folder = build()
        manifest = json.loads((folder / MANIFEST).read_text())
        tokenizer = AutoTokenizer.from_pretrained(folder)
        make = lambda: cls(folder, tokenizer, name=manifest["name"], template=manifest["template"],  # noqa: E731
                           stop_tokens=manifest["stop_tokens"], quantization=quantization, threads=threads,
                           options=options)
        try:
            editor = make()
        except Exception as exc:  # noqa: BLE001 - damaged in a way the manifest cannot see: rebuild once
            if "compute type" in str(exc):  # e.g. int16 on a CPU backend without it: not the cache's fault
                raise ModelLoadError(f"CTranslate2 cannot run {quantization} here: {exc}") from exc
            shutil.rmtree(folder, ignore_errors=True)
            folder = build()
            try:
                editor = make()
            except Exception:  # noqa: BLE001
                raise ModelLoadError(f"CTranslate2 could not load the converted editor in {folder}: {exc}") from exc
        editor.load_seconds = time.perf_counter() - start
        return editor

    def _seed(self, opts: GenerationOptions) -> None:
        if opts.seed is not None:
            import ctranslate2

            ctranslate2.set_random_seed(opts.seed)
            # Each worker thread seeds its generator once, when it first samples: new workers, new seed.
            self.generator = self._new_generator()

    def _decode(self, texts, opts: GenerationOptions, num_return: int) -> list[list[str]]:
        if opts.do_sample and opts.typical_p is not None:
            raise InvalidInput("typical_p sampling is not available in the ctranslate2 runtime: use temperature / "
                               "top_p, or choose the transformers runtime (--runtime transformers).")
        tok = self.tokenizer
        start_tokens = [tok.convert_ids_to_tokens(tok(t, **self._tokenize_kwargs())["input_ids"]) for t in texts]
        kw = dict(max_length=opts.max_new_tokens, include_prompt_in_result=False, end_token=self.stop_tokens,
                  return_end_token=True, repetition_penalty=opts.repetition_penalty, num_hypotheses=num_return)
        if opts.do_sample:
            kw.update(sampling_topk=0, sampling_topp=opts.top_p, sampling_temperature=opts.temperature,
                      beam_size=1)
        else:
            kw.update(sampling_topk=1, beam_size=max(opts.num_beams, num_return))
        results = self.generator.generate_batch(start_tokens, **kw)
        return [[tok.decode(ids, skip_special_tokens=True) for ids in r.sequences_ids] for r in results]

    def _score(self, prefix: str, texts: list[str]) -> list[float]:
        tok, kw = self.tokenizer, self._tokenize_kwargs()
        n = len(tok(prefix, **kw)["input_ids"])
        results = self.generator.score_batch([tok.convert_ids_to_tokens(tok(t, **kw)["input_ids"]) for t in texts])
        return [sum(r.log_probs[n - 1:]) / max(1, len(r.log_probs) - n + 1) for r in results]


def check_quantization(quantization: str | None) -> str:
    quantization = quantization or os.environ.get("DIFFCHAT_CT2_QUANTIZATION") or DEFAULT_QUANTIZATION
    if quantization not in QUANTIZATIONS:
        raise InvalidInput(f"Unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}.")
    return quantization


# ---- conversion and its cache -------------------------------------------------------------------
def source_key(model=None, *, gguf_file=None, adapter=None, quantization: str, template=None) -> str:
    """A digest of what a conversion is built from. Base weights by name, size and modification time
    (hashing 500 MB would cost the warm load its second); adapter files by content."""
    import ctranslate2

    from .embedded import resolve_base

    base, _ = resolve_base(model)
    h = hashlib.sha256(f"ct2 {ctranslate2.__version__}|{quantization}|{gguf_file}|{template}".encode())
    base_path = Path(str(base))
    if base_path.exists():
        for f in sorted(p for p in base_path.iterdir() if p.is_file()):
            st = f.stat()
            h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    else:
        h.update(f"hub:{base}".encode())  # a Hub id
    if adapter is not None:
        for f in sorted(p for p in Path(adapter).iterdir() if p.is_file()):
            h.update(f.name.encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def converted_folder(model=None, *, gguf_file=None, adapter=None, quantization: str, template=None) -> Path:
    """The cached conversion of base + adapter, built now if missing, half-written or damaged."""
    key = source_key(model, gguf_file=gguf_file, adapter=adapter, quantization=quantization, template=template)
    folder = cache_dir() / "models" / "ct2" / f"{key}-{quantization}"
    if is_complete(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"DiffChat: converting the editor for CTranslate2 ({quantization}) once...", file=sys.stderr, flush=True)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert(model, tmp, gguf_file=gguf_file, adapter=adapter, quantization=quantization, template=template)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def is_complete(folder: Path) -> bool:
    try:
        files = json.loads((folder / MANIFEST).read_text())["files"]
        return all((folder / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def convert(model, out: Path, *, gguf_file=None, adapter=None, quantization: str, template=None) -> None:
    """Merge the adapter into the base, save it, convert it with CTranslate2, write the manifest last."""
    import torch
    from ctranslate2.converters import TransformersConverter

    from .embedded import plain_weights
    from .transformers_runtime import load_merged

    lm, tokenizer, name, template = load_merged(model, gguf_file=gguf_file, adapter=adapter, dtype=torch.float32,
                                                template=template)
    merged = out.with_name(out.name + ".merged")
    shutil.rmtree(merged, ignore_errors=True)
    try:
        plain_weights(lm).save_pretrained(merged)
        tokenizer.save_pretrained(merged)
        del lm
        TransformersConverter(str(merged)).convert(str(out), quantization=quantization, force=True)
    except Exception as exc:  # noqa: BLE001 - the caller falls back to transformers
        raise ModelLoadError(f"CTranslate2 could not convert '{name}': {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc
    finally:
        shutil.rmtree(merged, ignore_errors=True)
    tokenizer.save_pretrained(out)
    files = {f.name: f.stat().st_size for f in out.iterdir() if f.is_file()}
    manifest = {"name": name, "template": template, "quantization": quantization,
                "stop_tokens": stop_tokens(tokenizer), "files": files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))


def stop_tokens(tokenizer) -> list[str]:
    """Every vocabulary token whose text holds a line break, and the end-of-sequence token: the editor
    writes one line (transformers' runtime stops on the string "\\n" the same way)."""
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    stops = [t for t in vocab if t is not None and "\n" in tokenizer.convert_tokens_to_string([t])]
    if tokenizer.eos_token and tokenizer.eos_token not in stops:
        stops.append(tokenizer.eos_token)
    return stops
