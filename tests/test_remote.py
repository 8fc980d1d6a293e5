"""OpenAIEditor against a small OpenAI-compatible HTTP server on loopback."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from diffchat.errors import EditorNetworkError, InvalidInput
from diffchat.remote import OpenAIEditor


class Server:
    """Answers /v1/chat/completions with the queued (status, body) pairs, then with a fixed answer."""

    def __init__(self):
        self.queue, self.requests = [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, self.headers.get("Authorization"), body))
                status, payload = outer.queue.pop(0) if outer.queue else (200, _answer('"a zebra in a field"'))
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def _answer(text):
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def test_edit_sends_chat_request_and_cleans_answer(server):
    editor = OpenAIEditor(model="local-model", base_url=server.url, api_key="sk-test")
    assert editor.edit("a horse in a field", "turn the horse into a zebra") == "a zebra in a field"
    path, auth, body = server.requests[0]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test"
    assert body["model"] == "local-model" and body["messages"][-1]["role"] == "user"
    assert "a horse in a field" in body["messages"][-1]["content"]
    assert editor.edit_batch([("a", "b"), ("c", "d")], progress=False) == ["a zebra in a field"] * 2


def test_retries_server_errors_then_succeeds(server):
    server.queue += [(500, {"error": "busy"}), (429, {"error": "slow down"})]
    assert OpenAIEditor(base_url=server.url, retries=2).edit("a cat", "make it red") == "a zebra in a field"
    assert len(server.requests) == 3


def test_clear_errors(server):
    server.queue += [(401, {"error": "bad key"})]
    with pytest.raises(EditorNetworkError, match="HTTP 401.*OPENAI_API_KEY"):
        OpenAIEditor(base_url=server.url).edit("a cat", "make it red")
    server.queue += [(200, "not json at all")]
    with pytest.raises(EditorNetworkError, match="not an OpenAI chat completion"):
        OpenAIEditor(base_url=server.url).edit("a cat", "make it red")
    server.queue += [(503, {})] * 3
    with pytest.raises(EditorNetworkError, match="failed after 3 tries"):
        OpenAIEditor(base_url=server.url, retries=2).edit("a cat", "make it red")
    with pytest.raises(InvalidInput):
        OpenAIEditor(base_url=server.url).edit("a cat", "")


def test_unreachable_endpoint():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(EditorNetworkError, match="Cannot reach"):
        OpenAIEditor(base_url=f"http://127.0.0.1:{port}/v1", timeout=2).edit("a cat", "make it red")


def test_timeout(server):
    import time

    class Slow(server.httpd.RequestHandlerClass):
        def do_POST(self):
            time.sleep(1.0)
            super().do_POST()

    server.httpd.RequestHandlerClass = Slow
    with pytest.raises(EditorNetworkError, match="no answer"):
        OpenAIEditor(base_url=server.url, timeout=0.2, retries=0).edit("a cat", "make it red")
