"""Real-browser fixtures: `python app.py --backend tiny` on a free loopback port in a subprocess,
and Debian's Chromium driven headless by Playwright."""
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_TIMEOUT_S = 300


def _scene(kind: str, variant: str) -> Image.Image:
    """Small drawn scenes for the compare items: `variant` is raw, good (diffchat) or off (base)."""
    night = variant != "raw" and kind == "night"
    im = Image.new("RGB", (256, 256), (24, 32, 72) if night else (150, 200, 245))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 190, 256, 256), fill=(60, 110, 60) if night else (110, 190, 90))
    if kind == "night":
        d.ellipse((180, 24, 228, 72), fill=(245, 240, 200) if night else (255, 210, 60))
        house = (200, 80, 70) if variant != "off" else (90, 90, 160)
        x = 60 if variant != "off" else 110
        d.rectangle((x, 120, x + 100, 200), fill=house)
        d.polygon([(x - 10, 120), (x + 50, 76), (x + 110, 120)], fill=(110, 60, 50))
        d.rectangle((x + 38, 150, x + 62, 200), fill=(80, 50, 30))
        d.rectangle((x + 70, 135, x + 90, 155), fill=(250, 220, 120) if night else (200, 230, 255))
        if night:
            for sx, sy in ((30, 30), (80, 50), (130, 20), (150, 70), (20, 90)):
                d.ellipse((sx, sy, sx + 4, sy + 4), fill=(255, 255, 255))
    else:  # "autumn": a tree whose leaves turn orange
        d.rectangle((118, 130, 138, 200), fill=(100, 70, 40))
        leaves = (60, 150, 60) if variant == "raw" else (230, 130, 40) if variant == "good" else (200, 60, 160)
        box = (70, 50, 186, 150) if variant != "off" else (50, 40, 206, 170)
        d.ellipse(box, fill=leaves)
    return im


def write_items(folder: Path) -> Path:
    """An items.jsonl in the evaluation harness's format; file names say which method made them."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = [("night", "make it night", "a red house on a sunny meadow"),
             ("autumn", "make it autumn", "a green tree on a hill"),
             ("night", "turn the day into night", "a small house under a blue sky")]
    rows = []
    for i, (kind, instruction, prompt) in enumerate(specs):
        for variant, name in (("raw", "raw"), ("good", "diffchat"), ("off", "base")):
            _scene(kind, variant).save(folder / f"{name}_{i}.png")
        rows.append({"id": f"item-{i}", "raw_image": f"raw_{i}.png", "instruction": instruction,
                     "raw_prompt": prompt, "images": {"diffchat": f"diffchat_{i}.png", "base": f"base_{i}.png"}})
    (folder / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(root: Path, *args: str, env: dict | None = None):
    """`python app.py --backend tiny ...args` on a free loopback port; yields (url, process). Its
    output goes to root/server.log (appended: a restarted app keeps the earlier log)."""
    log = root / "server.log"
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    for var in ("DIFFCHAT_DB", "DATABASE_URL", "DIFFCHAT_ANNOTATORS", "DIFFCHAT_ADMIN_TOKEN"):
        env.pop(var, None)  # the flags given decide
    cmd = [sys.executable, "app.py", "--backend", "tiny", "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer within {STARTUP_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(f"--- app.py log ---\n{log.read_text()[-2000:]}")


@pytest.fixture
def app_launcher():
    """(running_app, write_items), for tests that start the app with flags of their own."""
    return running_app, write_items


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real app (`python app.py`) with the tiny backend and the shipped editor; yields
    (url, db path)."""
    root = tmp_path_factory.mktemp("app")
    items, db = write_items(root / "items"), root / "votes.sqlite"
    with running_app(root, "--db", str(db), "--items", str(items)) as (url, _):
        yield url, db


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """assets/ when DIFFCHAT_UPDATE_SCREENSHOTS=1 (to refresh the README's pictures), else a temp folder."""
    return REPO / "assets" if os.environ.get("DIFFCHAT_UPDATE_SCREENSHOTS") == "1" else tmp_path
