"""The Gradio app: a chat tab (create an image by chatting), a compare tab (annotators vote)
and a results tab. `build_demo(...)` returns the Blocks; `LAUNCH` holds theme, css and head."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

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
    db: str | Path = "data/votes.sqlite"
    items: str | Path | None = None   # items.jsonl (or its folder) for the compare tab
    device: str | None = None


def editor_loader(spec: str | None, runtime: str = "auto") -> BackgroundLoader:
    from ..editor import load_editor

    return BackgroundLoader(lambda: load_editor(spec, runtime=runtime), name="editor")


def captioner_loader(spec: str) -> BackgroundLoader:
    from ..caption import Captioner

    return BackgroundLoader(lambda: Captioner.from_pretrained(spec), name="captioner")


def build_demo(config: AppConfig, *, editor: BackgroundLoader | None = None, seed: int | None = None) -> gr.Blocks:
    """The whole app. The editor loads in the background (started here); the UI is ready at once."""
    from ..render import Renderer
    from ..storage import VoteStore, load_items
    from ..storage.items import items_file

    preload_libraries()
    editor = (editor or editor_loader(config.model, config.runtime)).start()
    chat = ChatApp(editor, Renderer(device=config.device), captioner_loader(config.captioner), config.backend)
    items, items_error = None, None
    if config.items:
        try:
            items = load_items(config.items)
        except Exception as e:  # noqa: BLE001 - shown in the tab instead of failing the app
            items_error = str(e)
    compare = CompareApp(VoteStore(config.db), items, seed=seed)

    with gr.Blocks(title="DiffChat") as demo:
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
                results = build_results_tab(compare)
        results_tab.select(compare.results, None, results)
    demo.chat_app, demo.compare_app = chat, compare
    demo.allowed_paths_for_items = [str(items_file(config.items).resolve().parent)] if config.items else []
    return demo


def launch_kwargs(demo: gr.Blocks) -> dict:
    """What `demo.launch` needs besides host and port: theme, css, the vote shortcuts, item paths."""
    return dict(theme=gr.themes.Soft(primary_hue="indigo", secondary_hue="pink"), css=CSS, head=SHORTCUTS_JS,
                allowed_paths=getattr(demo, "allowed_paths_for_items", []), max_file_size="25mb")


__all__ = ["AppConfig", "BackgroundLoader", "ChatApp", "ChatState", "CompareApp", "build_demo", "launch_kwargs"]
