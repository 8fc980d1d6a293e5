"""InstructPE collection (the DiffChat paper's Figure 2) against any OpenAI-compatible chat endpoint.

For each InstructPix2Pix triplet (input caption, edit, output caption):
  1. a prompt-beautification model turns the input caption into a detailed prompt;
  2. keyword retention = the share of the caption's keywords (diffchat.scoring.ci.keywords) that
     the beautified prompt keeps;
  3. retention >= threshold: the LLM writes the beautified target from the beautified source (T_A);
     otherwise the output caption is beautified and the LLM writes the source from it (T_B).
Records are InstructPE's: source_prompt, instruction, beautified_source_prompt, beautified_target_prompt.

    OPENAI_API_KEY=... python -m train.collect --input pix2pix.jsonl --output instructpe.jsonl \\
        --base-url https://api.openai.com/v1 --model gpt-4o-mini --rate 2

Resumable (ids already in the output are skipped; records are appended as they are made), every
LLM answer is cached (output + ".cache.jsonl"), requests are rate-limited, and 429 / 5xx / timeouts
are retried with exponential backoff (Retry-After honoured).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from diffchat.errors import EditorNetworkError, InvalidInput

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}

BEAUTIFY_SYSTEM = ("You are an expert prompt engineer for text-to-image models such as Stable Diffusion. "
                   "Turn a plain image caption into one detailed, high-quality drawing prompt: keep every "
                   "object, attribute and count of the caption, add style, lighting, composition and quality "
                   "words. Reply with the prompt only, on one line.")
BEAUTIFY_USER = "Caption: {caption}\nPrompt:"
# The local beautifier's template (BeautifulPrompt-style causal LMs).
BEAUTIFY_LOCAL = ("Instruction: Give a simple description of the image to generate a drawing prompt.\n"
                  "Input: {caption}\nOutput:")

EDIT_SYSTEM = ("You edit detailed text-to-image prompts. Reply with the new prompt only, on one line, in the "
               "same detailed style as the given prompt.")
T_A = ("An image caption was turned into a detailed prompt. Apply the edit instruction to the detailed "
       "prompt: change what the instruction asks (the edited caption shows the result), keep everything "
       "else, including the style words.\n"
       "Caption: {source}\nEdited caption: {target}\nDetailed prompt: {beautified}\nInstruction: {instruction}\n"
       "Edited detailed prompt:")
T_B = ("An edit instruction turned an image caption into the edited caption, and the edited caption was "
       "turned into a detailed prompt. Write the detailed prompt of the image before the edit: undo what the "
       "instruction changed (the caption shows the original), keep everything else, including the style words.\n"
       "Caption: {source}\nEdited caption: {target}\nDetailed edited prompt: {beautified}\n"
       "Instruction: {instruction}\nDetailed prompt before the edit:")


@dataclass
class CollectStats:
    written: int = 0
    skipped_existing: int = 0
    skipped_bad: int = 0
    failed: int = 0
    route_a: int = 0
    route_b: int = 0
    errors: list[str] = field(default_factory=list)


class ChatClient:
    """POST /chat/completions with a cache, a requests-per-second limit, and retries with backoff."""

    def __init__(self, base_url: str | None = None, model: str = "gpt-4o-mini", api_key: str | None = None, *,
                 rate: float = 2.0, max_retries: int = 5, backoff: float = 1.0, max_backoff: float = 60.0,
                 timeout: float = 60.0, cache_path: str | Path | None = None):
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")).rstrip("/")
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        if rate <= 0:
            raise InvalidInput("The request rate must be positive (requests per second).")
        self.interval, self.max_retries, self.backoff, self.max_backoff = 1.0 / rate, max_retries, backoff, max_backoff
        self.timeout = timeout
        self.http = httpx.Client(timeout=timeout)
        self.requests = self.retries = self.cache_hits = 0
        self._next_slot = 0.0
        self._lock = threading.Lock()
        self.cache_path = Path(cache_path) if cache_path else None
        self.cache: dict[str, str] = {}
        if self.cache_path and self.cache_path.is_file():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                    self.cache[item["key"]] = item["content"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash

    def _wait_for_slot(self) -> None:
        with self._lock:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self.interval
        if wait > 0:
            time.sleep(wait)

    def _delay(self, attempt: int, resp: httpx.Response | None) -> float:
        if resp is not None and resp.headers.get("retry-after"):
            try:
                return min(float(resp.headers["retry-after"]), self.max_backoff)
            except ValueError:
                pass
        return min(self.backoff * 2 ** attempt, self.max_backoff)

    def chat(self, messages: list[dict], *, temperature: float = 0.7, max_tokens: int = 256) -> str:
        body = {"model": self.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}
        key = hashlib.sha256(json.dumps([self.base_url, body], sort_keys=True).encode()).hexdigest()
        if key in self.cache:
            self.cache_hits += 1
            return self.cache[key]
        url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.retries += 1
            self._wait_for_slot()
            self.requests += 1
            resp = None
            try:
                resp = self.http.post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                last = f"no answer within {self.timeout:g} s"
            except httpx.TransportError as exc:
                last = f"connection failed ({exc})"
            else:
                if resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}"
                elif resp.status_code >= 400:
                    hint = " Check the API key (OPENAI_API_KEY / --api-key)." if resp.status_code in (401, 403) else ""
                    raise EditorNetworkError(f"The LLM endpoint {url} refused the request: HTTP {resp.status_code}: "
                                             f"{resp.text[:200]}.{hint}")
                else:
                    content = _content(resp, url)
                    self._remember(key, content)
                    return content
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, resp))
        raise EditorNetworkError(f"The LLM endpoint {url} failed after {self.max_retries + 1} tries (last: {last}). "
                                 "Check --base-url and your network, or lower --rate.")

    def _remember(self, key: str, content: str) -> None:
        self.cache[key] = content
        if self.cache_path:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with self.cache_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "content": content}, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.http.close()


def _content(resp: httpx.Response, url: str) -> str:
    try:
        content = resp.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise EditorNetworkError(f"{url} sent an answer that is not an OpenAI chat completion: {resp.text[:200]}") from exc
    if not isinstance(content, str):
        raise EditorNetworkError(f"{url} sent a chat completion without text content.")
    return content


# ---------------------------------------------------------------------------------------------
# beautifiers


class LLMBeautifier:
    """Beautification by the chat endpoint itself."""

    def __init__(self, client: ChatClient, temperature: float = 0.7):
        self.client, self.temperature = client, temperature

    def __call__(self, caption: str) -> str:
        from diffchat.editor.templates import clean_output

        messages = [{"role": "system", "content": BEAUTIFY_SYSTEM},
                    {"role": "user", "content": BEAUTIFY_USER.format(caption=caption)}]
        return clean_output(self.client.chat(messages, temperature=self.temperature))


class LocalBeautifier:
    """A local prompt-beautification causal LM (a folder or Hub id, e.g. a BeautifulPrompt model)."""

    def __init__(self, model: str, device: str | None = None, max_new_tokens: int = 96):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from diffchat.editor import pick_device_dtype
        from diffchat.errors import ModelLoadError

        self.device, dtype = pick_device_dtype(device, None)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype).to(self.device).eval()
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"Could not load the beautification model '{model}': {exc}. Pass a local folder "
                                 "or a Hub id you can reach.") from exc
        self.max_new_tokens, self._torch = max_new_tokens, torch

    def __call__(self, caption: str) -> str:
        from diffchat.editor.templates import clean_output

        enc = self.tokenizer(BEAUTIFY_LOCAL.format(caption=caption), return_tensors="pt").to(self.device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with self._torch.inference_mode():
            out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad)
        return clean_output(self.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))


# ---------------------------------------------------------------------------------------------
# the pipeline


def keyword_retention(caption: str, prompt: str) -> float:
    """Share of the caption's keywords found in the prompt (by lemma or WordNet synonym); 1 if none."""
    from diffchat.scoring.ci import keyword_match, keywords, lemma_set

    kws = keywords(caption)
    if not kws:
        return 1.0
    lemmas = lemma_set(prompt)
    return sum(keyword_match(k, lemmas) for k in kws) / len(kws)


def row_id(row: dict) -> str:
    if row.get("id") is not None:
        return str(row["id"])
    return hashlib.sha1(f"{row['input']}\x1f{row['edit']}\x1f{row['output']}".encode()).hexdigest()[:16]


def read_triplets(path: str | Path) -> tuple[list[dict], int]:
    """(rows with input / edit / output text, number of unusable lines)."""
    from train.data import clean_text

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"Input file not found: {path}")
    rows, bad = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row = {**row, **{k: clean_text(row[k]) for k in ("input", "edit", "output")}}
        except (ValueError, KeyError, TypeError, AttributeError):
            bad += 1
            continue
        if row["input"] and row["edit"] and row["output"]:
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def done_ids(path: Path) -> set[str]:
    ids = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                ids.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash is redone
    return ids


class Collector:
    """Turns triplets into InstructPE records (see the module docstring)."""

    def __init__(self, client: ChatClient, beautify=None, threshold: float = 0.5, temperature: float = 0.7,
                 max_tokens: int = 256):
        self.client, self.threshold, self.temperature, self.max_tokens = client, threshold, temperature, max_tokens
        self.beautify = beautify or LLMBeautifier(client, temperature)

    def _llm(self, template: str, **fields) -> str:
        from diffchat.editor.templates import clean_output

        messages = [{"role": "system", "content": EDIT_SYSTEM}, {"role": "user", "content": template.format(**fields)}]
        return clean_output(self.client.chat(messages, temperature=self.temperature, max_tokens=self.max_tokens))

    def record(self, row: dict) -> dict:
        src, edit, tgt = row["input"], row["edit"], row["output"]
        b_src = self.beautify(src)
        retention = keyword_retention(src, b_src)
        if b_src and retention >= self.threshold:
            route = "A"
            b_tgt = self._llm(T_A, source=src, target=tgt, beautified=b_src, instruction=edit)
        else:
            route = "B"
            b_tgt = self.beautify(tgt)
            b_src = self._llm(T_B, source=src, target=tgt, beautified=b_tgt, instruction=edit)
        if not b_src or not b_tgt:
            raise EditorNetworkError("The LLM returned an empty prompt.")
        return {"id": row_id(row), "source_prompt": src, "instruction": edit, "target_prompt": tgt,
                "beautified_source_prompt": b_src, "beautified_target_prompt": b_tgt,
                "route": route, "keyword_retention": round(retention, 4)}

    def run(self, rows: list[dict], output: str | Path, limit: int | None = None, progress: bool = True,
            stop_on_error: bool = False) -> CollectStats:
        from tqdm.auto import tqdm

        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        stats, seen = CollectStats(), done_ids(output)
        todo = []
        for row in rows:
            if row_id(row) in seen:
                stats.skipped_existing += 1
            else:
                todo.append(row)
        todo = todo[:limit] if limit is not None else todo
        with output.open("a", encoding="utf-8") as f:
            for row in tqdm(todo, desc="Collecting InstructPE", unit="row", disable=not progress):
                try:
                    rec = self.record(row)
                except EditorNetworkError as exc:
                    if stop_on_error:
                        raise
                    stats.failed += 1
                    stats.errors.append(f"{row_id(row)}: {exc}")
                    continue
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()
                stats.written += 1
                stats.route_a += rec["route"] == "A"
                stats.route_b += rec["route"] == "B"
        return stats


def main(argv=None) -> CollectStats:
    p = argparse.ArgumentParser(description="Collect InstructPE records with an OpenAI-compatible LLM.")
    p.add_argument("--input", required=True, help="InstructPix2Pix-style JSONL: input, edit, output (optional id)")
    p.add_argument("--output", required=True, help="InstructPE JSONL (appended to; resumable)")
    p.add_argument("--base-url", help="endpoint base URL, e.g. http://localhost:8000/v1 (default $OPENAI_BASE_URL)")
    p.add_argument("--model", default=os.environ.get("DIFFCHAT_OPENAI_MODEL", "gpt-4o-mini"))
    p.add_argument("--api-key", help="default: $OPENAI_API_KEY")
    p.add_argument("--beautifier", default="llm", help="'llm' (the same endpoint) or a local causal LM folder / Hub id")
    p.add_argument("--threshold", type=float, default=0.5, help="keyword retention needed for template T_A")
    p.add_argument("--rate", type=float, default=2.0, help="requests per second")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--cache", help="answer cache (default: OUTPUT.cache.jsonl)")
    p.add_argument("--limit", type=int, help="at most this many new records")
    a = p.parse_args(argv)
    rows, bad = read_triplets(a.input)
    client = ChatClient(a.base_url, a.model, a.api_key, rate=a.rate, max_retries=a.retries, timeout=a.timeout,
                        cache_path=a.cache or a.output + ".cache.jsonl")
    beautify = None if a.beautifier == "llm" else LocalBeautifier(a.beautifier)
    try:
        stats = Collector(client, beautify, a.threshold, a.temperature).run(rows, a.output, a.limit)
    finally:
        client.close()
    stats.skipped_bad = bad
    print(f"wrote {stats.written} records (T_A {stats.route_a}, T_B {stats.route_b}); skipped "
          f"{stats.skipped_existing} already done, {bad} unusable; {stats.failed} failed; "
          f"{client.requests} requests, {client.retries} retries, {client.cache_hits} cache hits")
    for err in stats.errors[:5]:
        print("  failed:", err)
    return stats


if __name__ == "__main__":
    main()
