"""OpenAIEditor: the same job as PromptEditor, done by any OpenAI-compatible chat endpoint.

This is the DiffChat paper's ChatGPT competitor, and the way to use a local vLLM, llama.cpp or
Ollama server. Settings come from arguments or the environment:
OPENAI_BASE_URL (default https://api.openai.com/v1), OPENAI_API_KEY, DIFFCHAT_OPENAI_MODEL.
"""
from __future__ import annotations

import os

import httpx
from tqdm.auto import tqdm

from .editor.common import validate_pair
from .errors import EditorNetworkError
from .editor.templates import chat_messages, clean_output


class OpenAIEditor:
    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, temperature: float = 0.0, max_tokens: int = 160, retries: int = 2):
        self.model = model or os.environ.get("DIFFCHAT_OPENAI_MODEL", "gpt-4o-mini")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout, self.temperature, self.max_tokens, self.retries = timeout, temperature, max_tokens, retries
        self.name = f"openai:{self.model}"
        self._client = httpx.Client(timeout=timeout)

    def _post(self, messages: list[dict], **options) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": messages,
                "temperature": options.get("temperature", self.temperature),
                "max_tokens": options.get("max_new_tokens", self.max_tokens)}
        url = f"{self.base_url}/chat/completions"
        last = None
        for _ in range(self.retries + 1):
            try:
                resp = self._client.post(url, json=body, headers=headers)
            except httpx.TimeoutException:
                last = f"no answer from {url} within {self.timeout:.0f} s"
                continue
            except httpx.HTTPError as exc:
                raise EditorNetworkError(f"Cannot reach the editor endpoint {url}: {exc}. "
                                         "Check OPENAI_BASE_URL and your network.") from exc
            if resp.status_code in (429, 500, 502, 503, 504):
                last = f"{url} answered HTTP {resp.status_code}"
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
