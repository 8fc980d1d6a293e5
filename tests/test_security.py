"""What the security and reliability review of the public app found (issue 13): memory per upload
and per session, a hanging editor endpoint, damaged and junk-filled zips, untrusted text in the
chat, the backend box, server paths and temp folders, over-long prompts, control characters."""
import gc
import json
import struct
import tempfile
import threading
import time
import zipfile
import zlib
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gradio as gr
import psutil
import pytest
from PIL import Image

from diffchat.chat import ChatController
from diffchat.errors import EditorNetworkError, InvalidInput, SessionFileError
from diffchat.remote import OpenAIEditor
from diffchat.session import ChatSession
from diffchat.editor.templates import clean_output, clean_text
from diffchat.ui import BackgroundLoader, ChatApp, ChatState
from diffchat.ui.chat_tab import STATE_TTL, LazyEditor, build_chat_tab, check_upload
from diffchat.ui.session_zip import pack_session, unpack_session

C = ["tiny", "fixed", 7, 4, 5.0, "", "backend default", 0.6]  # backend, seed mode, seed, steps, guidance, ...


class Editor:
    """A stand-in editor for the app's plumbing under test: appends the instruction."""
    name = "stub"

    def __init__(self, answer=None):
        self.answer = answer

    def edit(self, prompt, instruction, **_):
        return self.answer if self.answer is not None else f"{prompt}, {instruction}"


class Renderer:
    """Records what it was asked to render; returns a small image."""

    def __init__(self):
        self.calls = []

    def render(self, prompt, **kwargs):
        self.calls.append(prompt)
        return Image.new("RGB", (64, 64), (len(self.calls) * 40 % 255, 0, 0))


def make_app(editor=None, **kw):
    return ChatApp(BackgroundLoader(lambda: editor or Editor()).start(), Renderer(), None, "tiny", **kw)


def session_zip(path: Path, turns: int, size=(64, 64), instruction="make it red") -> Path:
    s = ChatSession()
    s.start("a cat on a mat", seed=1, backend="tiny", image=Image.new("RGB", size, (10, 20, 30)))
    for i in range(1, turns):
        s.add_turn(f"{instruction} {i}", f"a cat on a mat, {i}", image=Image.new("RGB", size, (i, 20, 30)))
    return pack_session(s, path)


def tmp_folders(prefix: str) -> set:
    return {p for p in Path(tempfile.gettempdir()).glob(prefix + "*")}


# ---- 1. memory -----------------------------------------------------------------------------------

def test_three_loads_of_a_session_of_huge_images_stay_small(tmp_path):
    """The review's zip: solid 4096x4096 turns. Loaded three times (three browser sessions kept
    alive), the process grows by far less than the ~48 MB a turn that decoding them all would take."""
    app = make_app()
    zip_path = session_zip(tmp_path / "big.zip", 8, size=(4096, 4096))
    assert zip_path.stat().st_size < 200_000
    gc.collect()
    proc = psutil.Process()
    before = proc.memory_info().rss
    states = []
    for _ in range(3):
        out = app.load(str(zip_path), ChatState())
        states.append(out[0])
        assert len(out[0].session) == 8 and len(out[4]) == 8
        assert all(isinstance(img, Path) for img, _ in out[4]) and isinstance(out[3], Path)  # files, not pixels
    gc.collect()
    grown = (proc.memory_info().rss - before) / 2**20
    assert grown < 150, f"three loads grew the process by {grown:.0f} MB"
    assert states[0].session.image_of(3).size == (4096, 4096)  # still there, read when needed


def test_loaded_images_live_with_the_session_and_are_saved_again(tmp_path):
    session = unpack_session(session_zip(tmp_path / "s.zip", 3))
    folder = session.image_file(0).parent.parent
    assert folder.name.startswith("diffchat-chat-") and folder.is_dir()
    pack_session(session, tmp_path / "again.zip")  # lazy images are copied into a new download
    again = unpack_session(tmp_path / "again.zip")
    assert [t.prompt_after for t in again.history()] == [t.prompt_after for t in session.history()]
    assert again.image_of(2).getpixel((0, 0)) == (2, 20, 30)
    del session
    gc.collect()
    assert not folder.exists()  # removed with the session


def test_session_pixel_budget_is_checked_before_extracting(tmp_path, monkeypatch):
    """33 images of 4096x4096 are over the 512-megapixel budget: refused from the PNG headers."""
    src = session_zip(tmp_path / "s.zip", 1)
    big = _png(4096, 4096)
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        for i in range(33):
            zout.writestr(f"images/extra-{i}.png", big)
    written = _count_writes(monkeypatch)
    with pytest.raises(SessionFileError, match="too large together"):
        unpack_session(path)
    assert written == []


def test_uploads_are_shrunk_to_what_a_backend_renders(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (4096, 3072), "white").save(path)
    image = check_upload(str(path))
    assert image.size == (2048, 1536) and image.mode == "RGB"


def test_chat_state_has_a_time_to_live_and_is_cleaned_when_dropped():
    with gr.Blocks() as demo:
        build_chat_tab(make_app())
    [state] = [b for b in demo.blocks.values() if isinstance(b, gr.State) and isinstance(b.value, ChatState)]
    assert state.time_to_live == STATE_TTL
    chat = ChatState()
    folder = chat.folder()
    assert folder.is_dir()
    left = ChatSession()  # a chat left by Start over, kept for Undo: dropped with the state too
    left.start("a cat", seed=0, backend="tiny", image=Image.new("RGB", (8, 8)))
    chat.earlier.append((left, []))
    state.delete_callback(chat)  # what Gradio calls when the state expires
    assert not folder.exists() and chat.session.is_empty
    assert left.is_empty and chat.earlier == [] and chat.later == []


# ---- 2. a hanging editor endpoint ----------------------------------------------------------------

class Endpoint:
    """An OpenAI-compatible server on loopback: `delay` seconds per answer, or queued statuses."""

    def __init__(self, delay=0.0):
        self.delay, self.queue, self.times = delay, [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.times.append(time.monotonic())
                time.sleep(outer.delay)
                status, headers = outer.queue.pop(0) if outer.queue else (200, {})
                data = json.dumps({"choices": [{"message": {"content": "a red cat"}}]}).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.httpd.shutdown()


def test_a_hanging_endpoint_fails_after_one_timeout_not_three(endpoint):
    endpoint.delay = 5
    editor = OpenAIEditor(base_url=endpoint.url, timeout=0.5, retries=2)
    start = time.monotonic()
    with pytest.raises(EditorNetworkError, match="no answer within 0.5 s"):
        editor.edit("a cat", "make it red")
    assert time.monotonic() - start < 1.2 and len(endpoint.times) == 1


def test_retries_back_off_and_follow_retry_after(endpoint):
    endpoint.queue += [(503, {}), (429, {"Retry-After": "0.6"})]
    editor = OpenAIEditor(base_url=endpoint.url, retries=2, backoff=0.2)
    assert editor.edit("a cat", "make it red") == "a red cat"
    t = endpoint.times
    assert len(t) == 3 and t[1] - t[0] >= 0.2 and t[2] - t[1] >= 0.6


def test_timeout_retries_and_backoff_from_the_environment(monkeypatch):
    monkeypatch.setenv("DIFFCHAT_OPENAI_TIMEOUT", "7.5")
    monkeypatch.setenv("DIFFCHAT_OPENAI_RETRIES", "0")
    monkeypatch.setenv("DIFFCHAT_OPENAI_BACKOFF", "0.1")
    editor = OpenAIEditor(base_url="http://127.0.0.1:9/v1")
    assert (editor.timeout, editor.retries, editor.backoff) == (7.5, 0, 0.1)
    assert OpenAIEditor(base_url="http://127.0.0.1:9/v1", timeout=3, retries=4).retries == 4
    monkeypatch.setenv("DIFFCHAT_OPENAI_TIMEOUT", "soon")
    with pytest.raises(InvalidInput, match="DIFFCHAT_OPENAI_TIMEOUT must be a number"):
        OpenAIEditor(base_url="http://127.0.0.1:9/v1")


def test_two_users_wait_for_a_slow_endpoint_at_the_same_time(endpoint):
    """No lock across the network call: two edits through the app's editor overlap."""
    endpoint.delay = 1.0
    lazy = LazyEditor(BackgroundLoader(lambda: OpenAIEditor(base_url=endpoint.url, timeout=5)).start())
    out = []
    threads = [threading.Thread(target=lambda: out.append(lazy.edit("a cat", "make it red"))) for _ in range(2)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert out == ["a red cat"] * 2 and time.monotonic() - start < 1.8


def test_send_is_not_queued_behind_edits_and_gradio_files_are_cleaned(tmp_path):
    """The send event has no concurrency limit of its own (a starting prompt, a command or a
    question never waits for other users' edits); renders keep the queue's limit. Gradio's copies
    of shown images and downloads are deleted after a day."""
    from diffchat.ui import AppConfig, build_demo

    demo = build_demo(AppConfig(backend="tiny", db=tmp_path / "v.sqlite"),
                      editor=BackgroundLoader(lambda: Editor()))
    fns = {fn.name: fn for fn in demo.fns.values()}
    assert fns["send"].concurrency_limit is None
    assert fns["render"].concurrency_limit == "default"
    assert demo.delete_cache == (3600, 86400)


# ---- 5/6. damaged and junk-filled zips -------------------------------------------------------------

def test_a_zip_with_a_crc_error_is_a_message(tmp_path):
    path = session_zip(tmp_path / "s.zip", 2)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("session.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 5] ^= 0xFF  # damage the compressed bytes of session.json
    path.write_bytes(bytes(data))
    with pytest.raises(SessionFileError, match="damaged"):
        unpack_session(path)
    app = make_app()
    state = ChatState()
    app.load(str(path), state)  # a warning; the chat stays as it was
    assert state.session.is_empty


def test_junk_entries_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    path = session_zip(tmp_path / "s.zip", 2)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("junk/0001.bin", b"\0" * 1_000_000)
    written = _count_writes(monkeypatch)
    with pytest.raises(SessionFileError, match="does not have: 'junk/0001.bin'"):
        unpack_session(path)
    assert written == []  # nothing extracted, though the junk comes after the real entries


def test_a_zip_with_images_that_are_not_png_is_refused_before_extracting(tmp_path, monkeypatch):
    path = tmp_path / "fake.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("session.json", "{}")
        zf.writestr("images/turn-0.png", b"\0" * 100_000)
    written = _count_writes(monkeypatch)
    with pytest.raises(SessionFileError, match="not a PNG"):
        unpack_session(path)
    assert written == []


def _count_writes(monkeypatch) -> list:
    import shutil

    calls = []
    real = shutil.copyfileobj
    monkeypatch.setattr(shutil, "copyfileobj", lambda *a, **k: (calls.append(a), real(*a, **k)))
    return calls


def _png(width: int, height: int) -> bytes:
    """A valid header of a width x height PNG (the pixel data does not matter here)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(  # noqa: E731
        ">I", zlib.crc32(kind + body))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


# ---- 7. untrusted text is shown as text ------------------------------------------------------------

HOSTILE = "![t](http://127.0.0.1:9/x.png) <img src=http://127.0.0.1:9/y.png> **bold**"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _shown(message: dict) -> tuple[set, str]:
    """(the HTML tags in a chat message, its text as the browser shows it)."""
    parser = _Tags()
    parser.feed(message["content"])
    return set(parser.tags), "".join(parser.text)


def test_a_typed_message_and_a_shared_session_show_markdown_and_html_as_text(tmp_path):
    """The chat renders HTML (for the word diff) but no Markdown; untrusted text is escaped, so
    the only tags are the app's own and the text shows exactly as typed."""
    app = make_app()
    with gr.Blocks() as demo:
        build_chat_tab(app)
    [chatbot] = [b for b in demo.blocks.values() if isinstance(b, gr.Chatbot)]
    assert chatbot.render_markdown is False and chatbot.latex_delimiters == []
    state = ChatState()
    app.send(HOSTILE, state, *C)
    app.render(state, state.pending["proposal"], False, *C)
    app.send("add " + HOSTILE, state, *C)
    loaded = app.load(str(session_zip(tmp_path / "s.zip", 2, instruction=HOSTILE)), ChatState())[0]
    for messages in (state.messages, loaded.messages):
        tags, _ = zip(*map(_shown, messages))
        assert set().union(*tags) <= {"del", "ins", "b", "em"}
    assert _shown(state.messages[1]) == (set(), HOSTILE)
    assert _shown(loaded.messages[2]) == (set(), HOSTILE + " 1")


# ---- 8. the backend box ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["/etc", "/no/such/folder", "someone/any-model", "stabilityai/sd-turbo-x"])
def test_the_backend_box_offers_only_the_registry_and_allowed_ids(value):
    app = make_app()
    state = ChatState()
    app.send("a cat", state, *C)
    app.render(state, "a cat", False, value, *C[1:])
    assert state.session.is_empty and app.renderer.calls == []
    message = state.messages[-1]["content"]
    assert "is not offered here" in message and "pipeline folder" not in message and "Unknown" not in message
    allowed = make_app(allowed_backends=("someone/any-model",))
    assert allowed.check_backend("someone/any-model") == "someone/any-model"
    assert make_app(allowed_backends=("*",)).allowed_backends is None


# ---- 9/10. no server paths in messages, no temp folders left -----------------------------------------

def test_session_errors_name_the_file_not_a_server_path(tmp_path):
    path = tmp_path / "mine.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("session.json", json.dumps({"format": "diffchat-session", "version": 1}))
    with pytest.raises(SessionFileError) as err:
        unpack_session(path)
    assert "mine.zip" in str(err.value) and tempfile.gettempdir() not in str(err.value)
    assert str(tmp_path) not in str(err.value)


def test_downloads_leave_no_temp_folders(tmp_path):
    app = make_app()
    before = tmp_folders("diffchat-")
    state = ChatState()
    app.send("a cat", state, *C)
    app.render(state, "a cat", False, *C)
    first, second = app.download(state), app.download(state)
    assert first == second and Path(first).is_file()
    app.load(first, ChatState())  # a loaded session's folder goes with its state
    with pytest.MonkeyPatch.context() as mp:  # a failed download is a warning naming no server path
        mp.setattr("diffchat.ui.chat_tab.pack_session", _disk_full)
        with pytest.warns(UserWarning, match="Could not prepare the download") as warned:
            assert app.download(state) is None
        assert tempfile.gettempdir() not in str(warned[0].message)
    new = tmp_folders("diffchat-") - before
    assert len(new) <= 1
    del state
    gc.collect()
    assert tmp_folders("diffchat-") - before == set()


def _disk_full(*_):
    raise OSError(28, "No space left on device", "/tmp/diffchat-download-x/diffchat-session.zip")


# ---- 11. over-long prompts are refused before rendering ----------------------------------------------

def test_an_over_long_prompt_is_refused_before_it_is_rendered():
    app = make_app()
    state = ChatState()
    app.render_prompt(state, "a cat " * 20_000, *C)
    assert app.renderer.calls == [] and state.session.is_empty
    app.send("x" * 100_000, state, *C)
    assert app.renderer.calls == [] and state.pending is None
    ctl = ChatController(Editor(), app.renderer)
    assert ctl.handle("a cat " * 20_000).kind == "error" and app.renderer.calls == []
    ctl.handle("a cat")
    ctl.editor = Editor(answer="a dog " * 20_000)
    reply = ctl.handle("make it a dog")
    assert reply.kind == "error" and "too long" in reply.text and len(app.renderer.calls) == 1


# ---- 12. control and bidi characters -----------------------------------------------------------------

def test_control_and_bidi_characters_are_stripped_from_input_and_output():
    assert clean_text("make it \x01\x07\x1b[31m red \u202e") == "make it red"
    assert clean_output("a red cat" + "\x17" * 90) == "a red cat"
    assert clean_output("Output: \"a \u2066cat\u2069\u200b on a\tmat\"") == "a cat on a mat"
    assert clean_text("👩\u200d👩\u200d👧 café") == "👩\u200d👩\u200d👧 café"  # joiners in emoji stay
    app = make_app(editor=Editor(answer="a red cat" + "\x17" * 90))
    state = ChatState()
    app.send("a cat\u202e", state, *C)
    app.render(state, state.pending["proposal"], False, *C)
    assert state.session.current_prompt == "a cat"
    app.send("make it \x01\x07\x1b[31m red \u202e", state, *C)
    assert state.pending["proposal"] == "a red cat" and state.pending["instruction"] == "make it red"


def test_a_hanging_endpoint_does_not_stall_other_users(endpoint, monkeypatch, tmp_path):
    """The review's scene on a running app (queue limit 2): users A and B wait for an endpoint that
    takes 4 s; B does not wait for A, and C, who only types a starting prompt, waits for neither."""
    import socket

    from gradio_client import Client

    from diffchat.ui import AppConfig, build_demo

    endpoint.delay = 4.0
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint.url)
    monkeypatch.setenv("DIFFCHAT_OPENAI_TIMEOUT", "20")
    demo = build_demo(AppConfig(model="openai:slow", backend="tiny", db=tmp_path / "v.sqlite"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.queue(default_concurrency_limit=2, max_size=64).launch(server_port=port, prevent_thread_lock=True,
                                                                 quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        a, b, c = (Client(url, verbose=False) for _ in range(3))
        for user in (a, b):
            user.predict("a cat", api_name="/send")
            user.predict("a cat", False, api_name="/render")
        start = time.monotonic()
        jobs = [user.submit("make it red", api_name="/send") for user in (a, b)]
        time.sleep(0.5)
        c.predict("a dog in the snow", api_name="/send")
        c_waited = time.monotonic() - start - 0.5
        [job.result(timeout=30) for job in jobs]
        both = time.monotonic() - start
        assert c_waited < 2.0, f"a starting prompt waited {c_waited:.1f} s behind other users' edits"
        assert both < 7.0, f"two 4-s edits took {both:.1f} s: they ran one after the other"
        assert len(endpoint.times) == 2 and abs(endpoint.times[1] - endpoint.times[0]) < 1.5
    finally:
        demo.close()
