"""The app in a real browser: a three-turn chat with undo, and two annotators voting at once.
Skipped (by the `browser` fixture) only where /usr/bin/chromium is missing."""
import io
import json
import re
import sqlite3

import numpy as np
from PIL import Image

TIMEOUT_MS = 240_000  # first edit waits for the editor to load; the CPU may be busy


def open_app(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#instruction textarea")
    return page


def pixels(page, selector) -> np.ndarray:
    """The image an <img> shows, fetched from the app and decoded."""
    src = page.get_attribute(f"{selector} img", "src")
    return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))


def thumbnails(page) -> int:
    return page.locator("#history .thumbnail-item").count()


def send(page, text):
    """Type a message, send it and wait for the new history thumbnail (the rendered image)."""
    n = thumbnails(page)
    page.fill("#instruction textarea", text)
    page.click("#send")
    page.wait_for_function(f"document.querySelectorAll('#history .thumbnail-item').length > {n}")
    page.wait_for_function("document.querySelector('#instruction textarea').value === ''")


def test_chat_three_turns_with_undo(browser, app_server, screenshot_dir):
    url, _ = app_server
    page = open_app(browser, url)

    send(page, "a cat sitting on a bench in a park")
    user = page.locator("#chat [data-testid=user]").last
    assert user.inner_text().strip() == "a cat sitting on a bench in a park"  # the start, as typed
    first = pixels(page, "#current-image")
    assert first.shape == (64, 64, 3)

    send(page, "make it snowy")
    diff = page.locator("#chat [data-testid=bot]").last
    assert diff.locator("ins, del").count() > 0  # what changed is highlighted
    assert np.array_equal(pixels(page, "#before-image"), first)  # before / after side by side
    second = pixels(page, "#current-image")
    prompt_2 = page.input_value("#prompt textarea")

    send(page, "add a red umbrella")
    assert thumbnails(page) == 3
    captions = page.locator("#history").inner_text()
    assert re.search(r"▶ 2 · add a red umbrella", captions)
    assert np.array_equal(pixels(page, "#before-image"), second)
    assert "noise" in page.inner_text("#backend-note")  # the tiny backend's images are labelled

    page.click("#undo")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Went back to')")
    page.wait_for_function("document.querySelector('#history').innerText.includes('▶ 1 ·')")
    assert page.input_value("#prompt textarea") == prompt_2
    assert np.array_equal(pixels(page, "#current-image"), second)
    assert thumbnails(page) == 3  # undo keeps the turn (redo can bring it back)

    page.locator("#history .thumbnail-item").nth(1).click()  # back to turn 1, then branch from it
    page.wait_for_function("document.querySelector('#chat').innerText.includes('Back to:')")
    send(page, "as a watercolor painting")
    assert thumbnails(page) == 4 and "▶ 3 ← 1 · as a watercolor painting" in page.inner_text("#history")
    page.wait_for_function("!document.querySelector('#editor-status').innerText.includes('Loading')")
    page.screenshot(path=str(screenshot_dir / "screenshot-chat.png"), full_page=True)

    page.click("#start-over")  # undoable: the chat comes back whole
    page.wait_for_function("document.querySelectorAll('#history .thumbnail-item').length === 0")
    assert "press Undo to go back" in page.inner_text("#chat")
    page.click("#undo")
    page.wait_for_function("document.querySelectorAll('#history .thumbnail-item').length === 4")
    assert "Back to the chat before Start over" in page.inner_text("#chat")
    page.click("#chat button[aria-label=Clear]")  # the chat's trash icon is Start over too: undoable
    page.wait_for_function("document.querySelector('#chat').innerText.includes('press Undo to go back')")
    assert thumbnails(page) == 0
    page.click("#undo")
    page.wait_for_function("document.querySelectorAll('#history .thumbnail-item').length === 4")

    other = open_app(browser, url)  # another browser user has a session of their own
    assert thumbnails(other) == 0 and other.locator("#chat [data-testid=user]").count() == 0
    other.close()
    page.close()


def start_annotating(context, url, name):
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 860})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#instruction textarea")
    page.click("#compare-tab-button")
    page.fill("#annotator textarea", name)
    page.click("#annotator-start")
    page.wait_for_selector("#compare-left img")
    return page


def shown(page, items) -> tuple[str, str]:
    """(item id, method on the left): the item by its instruction, the method by comparing the left
    image with that item's files; the image URL tells neither."""
    src = page.get_attribute("#compare-left img", "src")
    assert not re.search(r"(diffchat|base|raw)_\d", src)
    left = np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))
    text = page.inner_text("#compare-instruction")
    [row] = [r for r in map(json.loads, (items / "items.jsonl").read_text().splitlines())
             if f"“{r['instruction']}”" in text]
    [method] = [m for m, f in row["images"].items()
                if np.array_equal(np.asarray(Image.open(items / f).convert("RGB")), left)]
    return row["id"], method


def wait_votes(page, n):
    page.wait_for_function(f"document.querySelector('#compare-status').innerText.includes('{n} voted')")


def test_two_annotators_vote_at_once(browser, app_server, screenshot_dir):
    url, db = app_server
    alice_ctx, bob_ctx = browser.new_context(), browser.new_context()
    alice, bob = start_annotating(alice_ctx, url, "alice"), start_annotating(bob_ctx, url, "bob")
    bob.screenshot(path=str(screenshot_dir / "screenshot-compare.png"))

    seen = {"alice": {}, "bob": {}}
    for k in range(1, 4):
        for name, page in (("alice", alice), ("bob", bob)):
            item, left = shown(page, db.parent / "items")
            seen[name][item] = left
        alice.keyboard.press("1")  # keyboard shortcut: left is better
        bob.click("#vote-right")  # both votes in flight at once
        wait_votes(alice, k)
        wait_votes(bob, k)
    assert "All items are done" in alice.inner_text("#compare-status")

    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT annotator, item, left_method, vote, winner FROM votes").fetchall()
    assert len(rows) == 6
    for annotator, item, left_method, vote, winner in rows:
        assert left_method == seen[annotator][item]  # the stored sides are the ones shown
        assert vote == ("left" if annotator == "alice" else "right")
        other = ({"diffchat", "base"} - {left_method}).pop()
        assert winner == (left_method if vote == "left" else other)

    alice.click("#vote-back")  # change the last vote: the row is updated, not duplicated
    alice.wait_for_selector("#compare-left img")
    item, _ = shown(alice, db.parent / "items")
    alice.click("#vote-tie")
    wait_votes(alice, 3)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 6
        assert con.execute("SELECT vote FROM votes WHERE annotator='alice' AND item=?", (item,)).fetchone() == ("tie",)

    alice.click("#results-tab-button")
    alice.wait_for_function("document.querySelector('#results-table').innerText.includes('diffchat vs base')")
    alice.wait_for_timeout(1000)  # the bar chart draws after the table
    alice.screenshot(path=str(screenshot_dir / "screenshot-results.png"), full_page=True)
    alice_ctx.close()
    bob_ctx.close()


def test_untrusted_text_is_shown_as_text_and_fetches_nothing(browser, app_server, tmp_path, screenshot_dir):
    """Markdown images and HTML in a typed message and in a shared session zip are shown as typed;
    the browser never asks the address in them for anything."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from diffchat.session import ChatSession
    from diffchat.ui.session_zip import pack_session

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    spy = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=spy.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{spy.server_address[1]}"
    hostile = f"![t](http://{host}/md.png) <img src=http://{host}/tag.png> **bold**"
    try:
        url, _ = app_server
        page = open_app(browser, url)
        send(page, "a lighthouse " + hostile)
        user = page.locator("#chat [data-testid=user]").last
        assert user.inner_text().strip() == "a lighthouse " + hostile
        assert user.locator("img, strong").count() == 0

        shared = ChatSession()
        shared.start("a quiet harbour", seed=3, backend="tiny", image=Image.new("RGB", (64, 64), (20, 60, 120)))
        shared.add_turn("add " + hostile, "a quiet harbour, boats", image=Image.new("RGB", (64, 64), (30, 70, 130)))
        zip_path = pack_session(shared, tmp_path / "shared.zip")
        page.click("#files")
        page.set_input_files("#load-session input[type=file]", str(zip_path))
        page.wait_for_function("document.querySelector('#chat').innerText.includes('Loaded a chat of 2 turns')")
        assert page.locator("#chat [data-testid=user]").last.inner_text().strip() == "add " + hostile
        assert page.locator("#chat .message-wrap img, #chat strong").count() == 0
        page.screenshot(path=str(screenshot_dir / "screenshot-chat-untrusted.png"), full_page=True)
        page.wait_for_timeout(1000)
        assert hits == [], f"the browser fetched {hits} from an address in untrusted text"
        page.close()
    finally:
        spy.shutdown()
