"""How much a running app grows when users load a session zip of huge images (issue 13, item 1).

Starts `python app.py --backend tiny` (an OpenAI-compatible editor name, so no model loads), makes
a session zip of solid 4096x4096 PNG turns (about 13 KB), loads it from three browser sessions
(gradio_client clients, each kept open) and prints the server's resident memory after each load.

    python bench/bench_session_memory.py                  # this checkout
    python bench/bench_session_memory.py --app /old/app.py --turns 20
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_zip(folder: Path, turns: int, side: int) -> Path:
    from diffchat.session import ChatSession
    from diffchat.ui.session_zip import pack_session

    s = ChatSession()
    s.start("a grey wall", seed=1, backend="tiny", image=Image.new("RGB", (side, side), (128, 128, 128)))
    for i in range(1, turns):
        s.add_turn(f"make it {i}", f"a grey wall {i}", image=Image.new("RGB", (side, side), (i, 128, 128)))
    return pack_session(s, folder / f"session-{turns}x{side}.zip")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(proc: psutil.Process) -> float:
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app", default=str(ROOT / "app.py"))
    p.add_argument("--turns", type=int, default=20)
    p.add_argument("--side", type=int, default=4096)
    p.add_argument("--loads", type=int, default=3)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    big, small = make_zip(tmp, a.turns, a.side), make_zip(tmp, 1, 64)
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    server = subprocess.Popen([sys.executable, a.app, "--backend", "tiny", "--model", "openai:none",
                               "--port", str(port), "--db", str(tmp / "votes.sqlite")],
                              cwd=Path(a.app).parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            try:
                Client(url, verbose=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(1)
        proc = psutil.Process(server.pid)
        Client(url, verbose=False).predict(handle_file(str(small)), api_name="/load")  # warm-up
        time.sleep(2)
        base = rss_mb(proc)
        print(f"app: {a.app}\nzip: {big.name}, {big.stat().st_size / 1024:.0f} KB; server at start {base:.0f} MB")
        clients = []
        for i in range(a.loads):
            clients.append(Client(url, verbose=False))
            t = time.perf_counter()
            out = clients[-1].predict(handle_file(str(big)), api_name="/load")
            took = time.perf_counter() - t
            time.sleep(1)
            print(f"load {i + 1}: {len(out[3]) if out and out[3] else 0} thumbnails in {took:.1f} s, "
                  f"server {rss_mb(proc):.0f} MB (+{rss_mb(proc) - base:.0f} MB)")
        print(f"growth after {a.loads} loads: {rss_mb(proc) - base:.0f} MB (bar: 300 MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
