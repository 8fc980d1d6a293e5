"""The web app's command line (`diffchat serve`, `python app.py`): flags, then build and launch.

On a ZeroGPU Space the default backend's pipeline is placed on the GPU before launch and renders
run under `@spaces.GPU` (diffchat/ui/zerogpu.py); elsewhere the same code serves on a GPU or CPU.
"""
from __future__ import annotations

import argparse
import os
import sys

from .editor.loading import RUNTIMES
from .storage import default_db

DESCRIPTION = """DiffChat web app: create images by chatting, and compare edits as an annotator.

    diffchat serve                     # shipped editor; sdxl on a GPU, sd-turbo on a CPU
    diffchat serve --backend tiny      # fully offline (tiny random pipeline)
    diffchat serve --items runs/eval/items.jsonl --db votes.sqlite
    diffchat serve --items runs/eval/compare --db postgresql://user:password@host:5432/db \\
        --annotators tokens.txt --admin-token-file admin.txt   # a campaign with annotator tokens
"""


def add_serve_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    env = os.environ.get
    p.add_argument("--model", default=env("DIFFCHAT_MODEL"),
                   help="editor: a Hub id, folder, .gguf, 'base', 'openai:MODEL' (default: the shipped editor)")
    p.add_argument("--runtime", default=env("DIFFCHAT_EDITOR_RUNTIME", "auto"), choices=RUNTIMES,
                   help="editor runtime: auto (CTranslate2 on a CPU, transformers on a GPU), ctranslate2, transformers")
    p.add_argument("--backend", default=env("DIFFCHAT_BACKEND"),
                   help="default text-to-image backend (default: sdxl with a GPU, else sd-turbo; tiny: offline)")
    p.add_argument("--captioner", default=env("DIFFCHAT_CAPTIONER"),
                   help="image captioner id or folder (default: tiny with --backend tiny, else BLIP base)")
    p.add_argument("--db", default=default_db(),
                   help="votes: a SQLite file or postgresql://user:password@host:port/db (env DIFFCHAT_DB, "
                        "DATABASE_URL; default: votes.sqlite in the data folder)")
    p.add_argument("--annotators", help="annotator tokens file, 'TOKEN NAME' a line (env DIFFCHAT_ANNOTATORS); "
                                        "without it anyone votes under a name they type")
    p.add_argument("--admin-token-file", help="file holding the admin token for results and exports "
                                              "(env DIFFCHAT_ADMIN_TOKEN); needed with --annotators")
    p.add_argument("--items", default=env("DIFFCHAT_ITEMS"), help="items.jsonl (or its folder) for the compare tab")
    p.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--concurrency", type=int, default=2, help="renders run at once, across users")
    p.add_argument("--allow-backend", action="append", default=(env("DIFFCHAT_ALLOW_BACKENDS") or "").split(),
                   metavar="ID", help="a backend users may pick besides the registry's: a Hub id or a server folder "
                   "(repeat it; env DIFFCHAT_ALLOW_BACKENDS, space-separated); '*' allows any, only on your machine")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_serve_args(p).parse_args(argv)


def serve(args: argparse.Namespace) -> None:
    from .ui.zerogpu import GPURenderer, on_zerogpu  # imports `spaces` (when installed) before CUDA starts

    import torch

    from .caption import DEFAULT_CAPTIONER
    from .errors import DiffChatError
    from .render import Renderer
    from .storage import load_annotators
    from .ui import AppConfig, build_demo, launch_kwargs

    backend = args.backend or ("sdxl" if torch.cuda.is_available() else "sd-turbo")
    captioner = args.captioner or ("tiny" if backend.startswith("tiny") else DEFAULT_CAPTIONER)
    renderer, text_device = None, None
    if on_zerogpu():  # GPU only inside @spaces.GPU: place the pipeline now, text models on the CPU
        renderer, text_device = GPURenderer(Renderer(device="cuda", attention_slicing=False)), "cpu"
        try:
            renderer.place(backend)
        except DiffChatError as e:  # the app still starts; the first render says what is wrong
            print(f"warning: could not place '{backend}' on the GPU at startup: {e}")
    try:
        config = AppConfig(model=args.model, runtime=args.runtime, backend=backend, captioner=captioner, db=args.db,
                           items=args.items, text_device=text_device, allowed_backends=tuple(args.allow_backend),
                           annotators=load_annotators(args.annotators, args.admin_token_file))
        demo = build_demo(config, renderer=renderer)
    except DiffChatError as e:
        sys.exit(f"error: {e}")
    demo.queue(default_concurrency_limit=args.concurrency, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs(demo))


def main(argv=None) -> None:
    serve(parse_args(argv))
