"""OpenAIEditor: the same job as PromptEditor, done by any OpenAI-compatible chat endpoint.

This is the DiffChat paper's ChatGPT competitor, and the way to use a local vLLM, llama.cpp or
Ollama server. Settings come from arguments or the environment:
OPENAI_BASE_URL (default https://api.openai.com/v1), OPENAI_API_KEY, DIFFCHAT_OPENAI_MODEL,
DIFFCHAT_OPENAI_TIMEOUT (seconds a try may wait for the answer, default 20),
DIFFCHAT_OPENAI_RETRIES (tries after the first on HTTP 429/5xx, default 2) and
DIFFCHAT_OPENAI_BACKOFF (seconds before the first retry, doubled for each next one, default 1).
A try that times out is not repeated (a hanging endpoint would hang again), so one edit waits at
most about `timeout` for a silent endpoint. The editor holds no lock: users' edits run at once.
"""
from __future__ import annotations

import os
import time

import httpx
from tqdm.auto import tqdm

from .editor.common import validate_pair
from .editor.templates import chat_messages, clean_output
from .errors import EditorNetworkError, InvalidInput

MAX_BACKOFF = 30.0  # seconds: the longest wait between tries, also for a server's Retry-After


def _setting(value, env: str, default: float, kind=float, low: float = 0.0, high: float = 3600.0):
    """An argument, else the environment variable `env`, else `default`; checked to lie in [low, high]."""
    raw = value if value is not None else os.environ.get(env) or default
    try:
        number = kind(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"{env} must be a number, not {raw!r}.") from None
    if not low <= number <= high:
        raise InvalidInput(f"{env} must be from {low:g} to {high:g}, not {raw!r}.")
    return number


class OpenAIEditor:
    concurrent = True  # safe to call from several threads at once (see diffchat.ui.chat_tab.LazyEditor)

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | None = None, temperature: float = 0.0, max_tokens: int = 160,
                 retries: int | None = None, backoff: float | None = None):
        self.model = model or os.environ.get("DIFFCHAT_OPENAI_MODEL", "gpt-4o-mini")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout = _setting(timeout, "DIFFCHAT_OPENAI_TIMEOUT", 20.0, low=0.01, high=600)
        self.retries = _setting(retries, "DIFFCHAT_OPENAI_RETRIES", 2, kind=int, high=10)
        self.backoff = _setting(backoff, "DIFFCHAT_OPENAI_BACKOFF", 1.0, high=MAX_BACKOFF)
        self.temperature, self.max_tokens = temperature, max_tokens
        self.name = f"openai:{self.model}"
        self._client = httpx.Client(timeout=self.timeout)  # thread-safe; its connection pool is shared

    def _wait(self, attempt: int, resp: httpx.Response | None = None) -> None:
        """Sleep before retry number `attempt` (1, 2, ...): the backoff, doubled each time, or the
        server's Retry-After when it asks for longer; never more than MAX_BACKOFF."""
        delay = self.backoff * 2 ** (attempt - 1)
        try:
            delay = max(delay, float(resp.headers.get("retry-after", 0))) if resp is not None else delay
        except ValueError:  # an HTTP date: keep our own backoff
            pass
        time.sleep(min(delay, MAX_BACKOFF))

    def _post(self, messages: list[dict], **options) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": messages,
                "temperature": options.get("temperature", self.temperature),
                "max_tokens": options.get("max_new_tokens", self.max_tokens)}
        url = f"{self.base_url}/chat/completions"
        last, last_resp = None, None
        for attempt in range(self.retries + 1):
            if attempt:
                self._wait(attempt, last_resp)
            last_resp = None
            try:
                resp = self._client.post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                raise EditorNetworkError(f"The editor endpoint {url} gave no answer within {self.timeout:g} s. "
                                         "Try again later, or raise DIFFCHAT_OPENAI_TIMEOUT.") from None
            except httpx.HTTPError as exc:
                raise EditorNetworkError(f"Cannot reach the editor endpoint {url}: {exc}. "
                                         "Check OPENAI_BASE_URL and your network.") from exc
            if resp.status_code in (429, 500, 502, 503, 504):
                last, last_resp = f"{url} answered HTTP {resp.status_code}", resp
                continue
            if resp.status_code >= 400:
                hint = " (check OPENAI_API_KEY)" if resp.status_code in (401, 403) else ""
                raise EditorNetworkError(f"The editor endpoint refused the request: HTTP {resp.status_code}"
                                         f"{hint}: {resp.text[:200]}")
            try:
                return resp.json()["choices"][0]["message"]["content"] or ""
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise EditorNetworkError(f"The editor endpoint sent an answer that is not an OpenAI chat "
                                         f"completion: {resp.text[:200]}") from exc
        raise EditorNetworkError(f"The editor endpoint failed after {self.retries + 1} tries: {last}.")

    def edit(self, prompt: str, instruction: str, **options) -> str:
        prompt, instruction = validate_pair(prompt, instruction)
        out = clean_output(self._post(chat_messages(prompt, instruction), **options))
        if not out:
            raise EditorNetworkError("The editor endpoint returned an empty prompt.")
        return out

    def edit_batch(self, pairs, batch_size: int = 8, progress: bool = True, **options) -> list[str]:
        pairs = [validate_pair(p, i) for p, i in pairs]
        return [clean_output(self._post(chat_messages(p, i), **options))
                for p, i in tqdm(pairs, desc="Editing prompts", disable=not progress)]
