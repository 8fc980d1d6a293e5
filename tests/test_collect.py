"""InstructPE collection against a small OpenAI-protocol server on loopback: routes, retries, resume, cache."""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from diffchat.errors import EditorNetworkError
from train.collect import (T_A, T_B, ChatClient, Collector, LocalBeautifier, keyword_retention, main,
                           read_triplets, row_id)

MAX_REQUESTS = 200  # the server refuses anything beyond this: a runaway loop fails the test


class FakeOpenAI:
    """/v1/chat/completions: beautifies captions, applies T_A / T_B, and fails on demand."""

    def __init__(self):
        self.requests, self.bodies, self.fail = 0, [], []  # fail: statuses (or "slow") for the next requests
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.requests += 1
                    owner.bodies.append(body)
                    action = owner.fail.pop(0) if owner.fail else None
                    too_many = owner.requests > MAX_REQUESTS
                if self.path != "/v1/chat/completions" or too_many:
                    return self._send(404 if not too_many else 400, {"error": "no"})
                if self.headers.get("Authorization") != "Bearer test-key":
                    return self._send(401, {"error": {"message": "bad key"}})
                if action == "slow":
                    time.sleep(0.6)
                elif action is not None:
                    return self._send(action, {"error": "try again"}, {"Retry-After": "0"} if action == 429 else {})
                return self._send(200, {"id": "x", "object": "chat.completion", "model": body["model"],
                                        "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant",
                                                                 "content": owner.answer(body["messages"][-1]["content"])}}]})

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(text: str) -> str:
        field = lambda name: re.search(rf"^{name}: (.*)$", text, re.M).group(1)  # noqa: E731
        if text.startswith("Caption:") and text.rstrip().endswith("Prompt:"):  # beautify
            caption = field("Caption")
            if "abstract" in caption:  # a beautifier that loses the content: low keyword retention
                return "Prompt: swirling shapes, vivid colors, trending on artstation"
            return f'"{caption}, highly detailed, soft lighting, trending on artstation"'
        if text.endswith("Edited detailed prompt:"):  # T_A: edit the beautified source
            return field("Edited caption") + ", highly detailed, soft lighting, trending on artstation"
        if text.endswith("Detailed prompt before the edit:"):  # T_B: undo the edit on the beautified target
            return field("Caption") + ", highly detailed, trending on artstation"
        return "?"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    s = FakeOpenAI()
    yield s
    s.close()


TRIPLETS = [
    {"input": "a horse in a field", "edit": "turn the horse into a zebra", "output": "a zebra in a field"},
    {"input": "a red car on a street", "edit": "make the car blue", "output": "a blue car on a street"},
    {"input": "an abstract painting of a boat", "edit": "add a storm", "output": "an abstract painting of a boat in a storm"},
]


def write_input(tmp_path, rows):
    path = tmp_path / "pix2pix.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def client(server, tmp_path, **kw):
    return ChatClient(server.url, "fake-model", "test-key", rate=kw.pop("rate", 1000), backoff=0.01,
                      timeout=kw.pop("timeout", 5), cache_path=tmp_path / "cache.jsonl", **kw)


def test_templates_route_by_keyword_retention(server, tmp_path):
    c = client(server, tmp_path)
    stats = Collector(c, threshold=0.5).run([dict(r) for r in TRIPLETS], tmp_path / "out.jsonl", progress=False)
    recs = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert stats.written == 3 and (stats.route_a, stats.route_b) == (2, 1)
    assert set(recs[0]) >= {"source_prompt", "instruction", "beautified_source_prompt", "beautified_target_prompt"}
    a = recs[0]
    assert a["route"] == "A" and a["keyword_retention"] == 1.0
    assert a["beautified_source_prompt"] == "a horse in a field, highly detailed, soft lighting, trending on artstation"
    assert a["beautified_target_prompt"].startswith("a zebra in a field, highly detailed")
    b = recs[2]
    assert b["route"] == "B" and b["keyword_retention"] < 0.5
    assert b["beautified_source_prompt"] == "an abstract painting of a boat, highly detailed, trending on artstation"
    assert b["beautified_target_prompt"] == "swirling shapes, vivid colors, trending on artstation"  # "Prompt:" echo cleaned
    # the LLM saw the right template with the right fields
    users = [body["messages"][-1]["content"] for body in server.bodies]
    assert T_A.format(source=TRIPLETS[0]["input"], target=TRIPLETS[0]["output"], instruction=TRIPLETS[0]["edit"],
                      beautified=a["beautified_source_prompt"]) in users
    assert T_B.format(source=TRIPLETS[2]["input"], target=TRIPLETS[2]["output"], instruction=TRIPLETS[2]["edit"],
                      beautified=b["beautified_target_prompt"]) in users
    assert server.requests == 2 + 2 + 3  # A: beautify + T_A (x2); B: beautify src, beautify tgt, T_B
    # the records load as InstructPE training data
    from train.data import load_rows

    rows, _ = load_rows(tmp_path / "out.jsonl")
    assert rows[0].source == a["beautified_source_prompt"] and rows[0].target == a["beautified_target_prompt"]


def test_retries_500_429_and_timeouts_then_succeeds(server, tmp_path):
    c = client(server, tmp_path, timeout=0.3)
    server.fail = [500, 429, "slow"]
    msgs = [{"role": "user", "content": "Caption: a cat\nPrompt:"}]
    assert c.chat(msgs).startswith('"a cat, highly detailed')
    assert server.requests == 4 and c.retries == 3 and c.requests == 4


def test_gives_up_after_max_retries_and_refuses_bad_keys(server, tmp_path):
    c = client(server, tmp_path, max_retries=2)
    server.fail = [503, 503, 503, 503]
    with pytest.raises(EditorNetworkError, match="failed after 3 tries"):
        c.chat([{"role": "user", "content": "Caption: a dog\nPrompt:"}])
    assert server.requests == 3
    bad = ChatClient(server.url, "fake-model", "wrong", backoff=0.01)
    with pytest.raises(EditorNetworkError, match="API key"):
        bad.chat([{"role": "user", "content": "Caption: a dog\nPrompt:"}])
    assert server.requests == 4  # 401 is not retried
    dead = ChatClient("http://127.0.0.1:9/v1", "m", "k", max_retries=1, backoff=0.01, timeout=1)
    with pytest.raises(EditorNetworkError, match="connection failed"):
        dead.chat([{"role": "user", "content": "x"}])


def test_rate_limit_spaces_requests(server, tmp_path):
    c = client(server, tmp_path, rate=20)
    start = time.monotonic()
    for i in range(5):
        c.chat([{"role": "user", "content": f"Caption: cat {i}\nPrompt:"}])
    assert time.monotonic() - start >= 4 / 20 * 0.9


def test_resume_skips_done_rows_and_cache_avoids_requests(server, tmp_path):
    inp = write_input(tmp_path, TRIPLETS)
    out = tmp_path / "instructpe.jsonl"
    args = ["--input", str(inp), "--output", str(out), "--base-url", server.url, "--model", "fake-model",
            "--api-key", "test-key", "--rate", "1000"]
    server.fail = [500]  # the first request fails once, then succeeds
    stats = main(args + ["--limit", "1"])
    assert stats.written == 1 and stats.failed == 0 and server.requests == 3
    stats = main(args)  # resume: only the two rows not yet written
    assert stats.written == 2 and stats.skipped_existing == 1
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert ids == [row_id(r) for r in read_triplets(inp)[0]]
    before = server.requests
    assert main(args).written == 0 and server.requests == before  # all done: nothing asked
    out.unlink()
    assert main(args).written == 3 and server.requests == before  # every answer comes from the cache


def test_failed_rows_are_counted_and_retried_next_run(server, tmp_path):
    c = client(server, tmp_path, max_retries=0)
    server.fail = [500]
    stats = Collector(c).run([dict(TRIPLETS[0])], tmp_path / "o.jsonl", progress=False)
    assert stats.failed == 1 and stats.written == 0 and "HTTP 500" in stats.errors[0]
    assert Collector(c).run([dict(TRIPLETS[0])], tmp_path / "o.jsonl", progress=False).written == 1


def test_read_triplets_and_retention(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(TRIPLETS[0]) + "\nnot json\n" + json.dumps({"input": "x", "edit": ""}) + "\n"
                    + json.dumps({**TRIPLETS[1], "id": 7}) + "\n")
    rows, bad = read_triplets(path)
    assert len(rows) == 2 and bad == 2 and row_id(rows[1]) == "7"
    assert keyword_retention("a horse in a field", "a horse standing in a green field, 4k") == 1.0
    assert keyword_retention("a horse in a field", "a horse, oil painting") == 0.5
    assert keyword_retention("of the", "anything") == 1.0


def test_local_beautifier_runs_a_causal_lm(tmp_path):
    from train.reward import build_tiny_lm

    folder = build_tiny_lm(tmp_path / "lm", [r["input"] + " " + r["output"] for r in TRIPLETS] * 5)
    beautify = LocalBeautifier(str(folder), device="cpu", max_new_tokens=6)
    out = beautify("a horse in a field")
    assert isinstance(out, str) and out == beautify("a horse in a field")  # greedy: deterministic
