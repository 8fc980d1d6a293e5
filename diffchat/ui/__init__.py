"""The Gradio app: a chat tab (create an image by chatting), a compare tab (annotators vote)
and a results tab. `build_demo(...)` returns the Blocks; `LAUNCH` holds theme, css and head."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..errors import DiffChatError
from ..storage.annotators import Annotators
from .chat_tab import ChatApp, ChatState, build_chat_tab
from .compare_tab import SHORTCUTS_JS, CompareApp, build_compare_tab, build_results_tab
from .loader import BackgroundLoader, preload_libraries

CSS = """
.gradio-container { max-width: 1280px !important; margin: auto; }
#chat del { background: #fde2e2; color: #b42318; text-decoration: line-through; border-radius: 3px; padding: 0 2px; }
#chat ins { background: #d9f5e3; color: #146c34; text-decoration: none; font-weight: 600; border-radius: 3px; padding: 0 2px; }
#before-image img, #current-image img, #compare-raw img, #compare-left img, #compare-right img {
    width: 100%; height: 100%; object-fit: contain; }
#history .grid-container { grid-template-columns: repeat(auto-fill, minmax(112px, 128px)) !important;
                           grid-auto-rows: 128px !important; grid-template-rows: none !important; }
#history .grid-wrap { padding-top: 30px; }
#history .caption-label { white-space: normal !important; max-width: none !important; left: 3px; right: 3px;
                          bottom: 3px !important; font-size: 11px !important; line-height: 1.2;
                          padding: 2px 4px !important; max-height: 70%; opacity: 0.92 !important; }
#compare-instruction h3 { margin-bottom: 0.2em; }
#vote-left, #vote-tie, #vote-right { min-height: 52px; font-size: 1.05em; }
"""


@dataclass
class AppConfig:
    model: str | None = None          # editor spec for diffchat.editor.load_editor (None: shipped editor)
    runtime: str = "auto"             # editor runtime: auto | ctranslate2 | transformers
    backend: str = "tiny"             # default text-to-image backend
    captioner: str = "tiny"           # captioner id or folder ("tiny": built locally)
    db: str | Path | None = None      # votes: SQLite file or postgresql:// URL (None: diffchat.storage.default_db())
    items: str | Path | None = None   # items.jsonl, its folder, or an evaluation --out folder, for the compare tab
    annotators: Annotators | None = None  # annotator tokens and admin token (None: open campaign)
    device: str | None = None         # renderer device (None: cuda when available)
    text_device: str | None = None    # editor and captioner device (None: cuda when available; cpu on ZeroGPU)
    # backends the chat offers besides the registry's and `backend` (ids or server folders);
    # ("*",): anything, as the library's get_backend accepts (only for an app on your own machine)
    allowed_backends: tuple[str, ...] = ()


def editor_loader(spec: str | None, runtime: str = "auto", device: str | None = None) -> BackgroundLoader:
    from ..editor import lexicon, load_editor

    def load():
        editor = load_editor(spec, runtime=runtime, **kwargs)
        lexicon.warm_up()  # WordNet for the rule edits (kinds, places), loaded while the user types
        return editor

    kwargs = {"device": device} if device else {}
    return BackgroundLoader(load, name="editor")


def captioner_loader(spec: str, device: str | None = None) -> BackgroundLoader:
    from ..caption import Captioner

    return BackgroundLoader(lambda: Captioner.from_pretrained(spec, device=device), name="captioner")


def build_demo(config: AppConfig, *, editor: BackgroundLoader | None = None, renderer=None,
               seed: int | None = None) -> gr.Blocks:
    """The whole app. The editor loads in the background (started here); the UI is ready at once.
    `renderer` replaces the default `Renderer(device=config.device)` (the ZeroGPU app passes its own)."""
    from ..render import Renderer
    from ..storage import PostgresVoteStore, default_db, load_items, open_store

    store = open_store(config.db or default_db())  # a bad --db stops the app before anything loads
    if isinstance(store, PostgresVoteStore):
        try:
            store.setup()
            print(f"Votes go to {store}.", flush=True)
        except DiffChatError as e:  # the app starts; each vote says so until the server answers
            print(f"Warning: {store} cannot be reached yet: {e}", flush=True)
    preload_libraries()
    editor = (editor or editor_loader(config.model, config.runtime, config.text_device)).start()
    renderer = renderer or Renderer(device=config.device)
    chat = ChatApp(editor, renderer, captioner_loader(config.captioner, config.text_device), config.backend,
                   allowed_backends=tuple(config.allowed_backends))
    items, items_error = None, None
    if config.items:
        try:
            items = load_items(config.items)
        except Exception as e:  # noqa: BLE001 - shown in the tab instead of failing the app
            items_error = str(e)
    compare = CompareApp(store, items, seed=seed, annotators=config.annotators)

    # Gradio's copies of shown images and downloads: removed after a day (checked every hour)
    with gr.Blocks(title="DiffChat", delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# DiffChat · create images by chatting\n"
                    "Describe a picture, then say what to change. A small language model rewrites the "
                    "prompt and the image is rendered again with the same seed, so only what you asked "
                    "for changes.")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab", elem_id="chat-tab"):
                build_chat_tab(chat)
            with gr.Tab("Compare", id="compare-tab", elem_id="compare-tab"):
                if items_error:
                    gr.Markdown(f"\u26a0 Could not load the comparison items: {items_error}")
                elif not items:
                    gr.Markdown("No comparison items are loaded. Make some with `python -m train.evaluate "
                                "--test-file assets/examples/edits.jsonl --methods source,append,sft --backends tiny "
                                "--scorers tiny --out runs/eval`, then start the app with `--items runs/eval` "
                                "(an `items.jsonl`, its folder, or the evaluation's `--out` folder).")
                build_compare_tab(compare)
            with gr.Tab("Results", id="results-tab", elem_id="results-tab") as results_tab:
                results_inputs, results = build_results_tab(compare)
        results_tab.select(compare.results, results_inputs, results)
    demo.chat_app, demo.compare_app = chat, compare
    return demo


def launch_kwargs(demo: gr.Blocks) -> dict:
    """What `demo.launch` needs besides host and port: theme, css, the vote shortcuts. No
    allowed_paths: item images reach the browser as copies in Gradio's cache (compare_tab.served_copy)."""
    return dict(theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="pink"), css=CSS, head=SHORTCUTS_JS,
                max_file_size="25mb")


__all__ = ["AppConfig", "BackgroundLoader", "ChatApp", "ChatState", "CompareApp", "build_demo", "launch_kwargs"]
