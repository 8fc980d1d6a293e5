"""DiffChat web app: create images by chatting, and compare edits as an annotator.

    python app.py                      # shipped editor, backend from $DIFFCHAT_BACKEND (sd-turbo on CPU, sdxl on GPU)
    python app.py --backend tiny       # fully offline (tiny random pipeline)
    python app.py --items runs/eval/items.jsonl --db data/votes.sqlite
"""
import argparse
import os

import torch

from diffchat.editor.loading import RUNTIMES
from diffchat.storage import default_db_path
from diffchat.ui import AppConfig, build_demo, launch_kwargs


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=env("DIFFCHAT_MODEL"),
                   help="editor: a Hub id, folder, .gguf, 'base', 'openai:MODEL' (default: the shipped editor)")
    p.add_argument("--runtime", default=env("DIFFCHAT_EDITOR_RUNTIME", "auto"), choices=RUNTIMES,
                   help="editor runtime: auto (CTranslate2 on a CPU, transformers on a GPU), ctranslate2, transformers")
    p.add_argument("--backend", default=env("DIFFCHAT_BACKEND") or ("sdxl" if torch.cuda.is_available() else "sd-turbo"),
                   help="default text-to-image backend (tiny: offline; sd-turbo: CPU; sdxl: GPU)")
    p.add_argument("--captioner", default=env("DIFFCHAT_CAPTIONER"),
                   help="image captioner id or folder (default: tiny with --backend tiny, else BLIP base)")
    p.add_argument("--db", default=str(default_db_path()), help="SQLite file for the votes (env DIFFCHAT_DB)")
    p.add_argument("--items", default=env("DIFFCHAT_ITEMS"), help="items.jsonl (or its folder) for the compare tab")
    p.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--concurrency", type=int, default=2, help="renders and edits run at once, across users")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    captioner = args.captioner or ("tiny" if args.backend.startswith("tiny") else "Salesforce/blip-image-captioning-base")
    config = AppConfig(model=args.model, runtime=args.runtime, backend=args.backend, captioner=captioner, db=args.db, items=args.items)
    demo = build_demo(config)
    demo.queue(default_concurrency_limit=args.concurrency, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs(demo))


if __name__ == "__main__":
    main()
