"""Command line: diffchat (or python -m diffchat) edit | render | chat | score | serve.

Files a command makes without being told where (a chat session, a rendered image) go to the user
data folder (`diffchat.paths.data_dir()`: $DIFFCHAT_HOME, else ~/.local/share/diffchat)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .editor.loading import RUNTIMES
from .errors import DiffChatError, InvalidInput
from .serve import add_serve_args, serve


def _add_generation_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("decoding (greedy unless --sample or --num-beams)")
    g.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    g.add_argument("--typical-p", type=float, help="locally typical sampling mass, e.g. 0.97")
    g.add_argument("--temperature", type=float)
    g.add_argument("--top-p", type=float)
    g.add_argument("--num-beams", type=int)
    g.add_argument("--max-new-tokens", type=int)
    g.add_argument("--gen-seed", type=int, help="seed for sampling")


def _add_editor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="editor: default (shipped), base, a folder, a .gguf file, a Hub id, openai:MODEL")
    p.add_argument("--runtime", choices=RUNTIMES, help="editor runtime (env DIFFCHAT_EDITOR_RUNTIME; default auto: "
                   "CTranslate2 on a CPU, transformers on a GPU)")
    p.add_argument("--quantization", help="CTranslate2 weights: int8 (default), int8_float32, int16, float32")


def _load_editor(a):
    from .editor import load_editor

    runtime = a.runtime
    if getattr(a, "typical_p", None) is not None and runtime in (None, "auto") and \
            os.environ.get("DIFFCHAT_EDITOR_RUNTIME", "auto") == "auto":
        print("DiffChat: --typical-p needs the transformers runtime (CTranslate2 has no typical sampling); using it.",
              file=sys.stderr)
        runtime = "transformers"
    return load_editor(a.model, runtime=runtime, quantization=a.quantization)


def _generation(a) -> dict:
    return {"do_sample": True if a.sample else None, "typical_p": a.typical_p, "temperature": a.temperature,
            "top_p": a.top_p, "num_beams": a.num_beams, "max_new_tokens": a.max_new_tokens, "seed": a.gen_seed}


def _read_edit_rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise InvalidInput(f"Input file not found: {path}")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("input"), str) or not isinstance(row.get("edit"), str):
            raise InvalidInput(f"{path}:{n}: each line needs text fields 'input' and 'edit'")
        rows.append(row)
    return rows


def cmd_edit(a) -> None:
    if a.input_file:
        if not a.output_file:
            raise InvalidInput("--input-file needs --output-file")
        rows = _read_edit_rows(Path(a.input_file))
        editor = _load_editor(a)
        preds = editor.edit_batch([(r["input"], r["edit"]) for r in rows], batch_size=a.batch_size,
                                  progress=True, **_generation(a))
        out = Path(a.output_file)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as f:
            for row, pred in zip(rows, preds):
                f.write(json.dumps({**row, "prediction": pred}, ensure_ascii=False) + "\n")
        print(f"Wrote {len(rows)} predictions to {out}", file=sys.stderr)
        return
    if a.prompt is None or a.instruction is None:
        raise InvalidInput("Give --prompt and --instruction, or --input-file and --output-file.")
    editor = _load_editor(a)
    print(editor.edit(a.prompt, a.instruction, **_generation(a)))


def _progress_bar(total_hint: int | None = None):
    from tqdm.auto import tqdm

    bar = tqdm(total=total_hint, desc="Rendering", unit="step")

    def callback(step: int, total: int) -> None:
        bar.total = total
        bar.n = step
        bar.refresh()

    return bar, callback


def cmd_render(a) -> None:
    from .render import Renderer

    renderer = Renderer(device=a.device)
    bar, callback = _progress_bar()
    image = renderer.render(a.prompt, backend=a.backend, seed=a.seed, negative_prompt=a.negative_prompt,
                            steps=a.steps, guidance=a.guidance, width=a.width, height=a.height,
                            init_image=a.init_image, strength=a.strength,
                            instruction=a.instruction, progress=callback)
    bar.close()
    out = Path(a.out) if a.out else _data_path("images", f"render-{time.strftime('%Y%m%d-%H%M%S')}-seed{a.seed}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    print(out)


def _free_folder(base: Path, avoid: Path | None = None) -> Path:
    """`base`, or `base-2`, `base-3`, ...: the first folder that holds no saved chat and is not `avoid`."""
    folder, n = base, 1
    while (folder / "session.json").exists() or folder == avoid:
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def cmd_chat(a) -> None:
    from .chat import ChatController
    from .intent import parse_command
    from .long_prompt import long_prompt_note
    from .render import Renderer
    from .session import ChatSession

    session = ChatSession.load(a.load) if a.load else None
    editor, renderer = _load_editor(a), Renderer(device=a.device)
    controller = ChatController(editor, renderer, session, backend=a.backend, seed=a.seed)
    base = Path(a.session_dir) if a.session_dir else (
        Path(a.load) if a.load else _data_path("sessions", time.strftime("%Y%m%d-%H%M%S")))
    # a chat is never saved over another one: a folder already holding a chat (not the one loaded) is
    # left alone, and "start over" moves on to a new folder, so every image path printed stays valid
    folder = base if a.load and base.resolve() == Path(a.load).resolve() else _free_folder(base)
    earlier: list[Path] = []  # folders of the chats left by "start over"; "undo" goes back to them
    print("DiffChat: type a starting prompt, then instructions ('make it snowy'). "
          "Commands: undo, redo, start over, quit.")
    while True:
        try:
            message = input("you> ").strip()
        except EOFError:
            break
        if message.lower() in {"quit", "exit", ":q"}:
            break
        if not message:
            continue
        head = controller.session.current
        if parse_command(message) == "undo" and earlier and (head is None or head.parent is None):
            if head is not None:
                print(f"diffchat> This chat stays saved in {folder}.")
            folder = earlier.pop()
            controller = ChatController(editor, renderer, ChatSession.load(folder))
            print(f"diffchat> Back to the chat before 'start over' (saved in {folder}).")
            print(f"prompt: {controller.session.current_prompt}")
            continue
        bar, callback = _progress_bar()
        reply = controller.handle(message, progress=callback)
        bar.close()
        print(f"diffchat> {reply.text}")
        if reply.kind == "reset" and head is not None:
            earlier.append(folder)
            folder = _free_folder(base, avoid=folder)
            print(f"diffchat> The last chat stays saved in {earlier[-1]} (type undo to go back to it); "
                  f"this one will be saved in {folder}.")
        if reply.prompt:
            print(f"prompt: {reply.prompt}")
            note = long_prompt_note(reply.prompt) if reply.kind in ("start", "edit") else None
            if note:
                print(f"note: {note}")
        if reply.kind not in ("error", "clarify") and not controller.session.is_empty:
            controller.session.save(folder)
            if reply.turn is not None and reply.turn.image:
                print(f"image: {folder / 'images' / reply.turn.image}")
    if not controller.session.is_empty:
        print(f"Session saved in {folder}")
    for old in earlier:
        print(f"Earlier chat saved in {old}")


def _data_path(kind: str, name: str) -> Path:
    """A new path under the user data folder, e.g. ~/.local/share/diffchat/images/NAME."""
    from .paths import data_dir

    path = data_dir() / kind / name
    stem, n = path, 1
    while path.exists():  # two in the same second: never overwrite
        n += 1
        path = stem.with_name(f"{stem.stem}-{n}{stem.suffix}")
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diffchat", description="Create images by chatting.")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("edit", help="rewrite a prompt by an instruction (or a JSONL file of them)")
    e.add_argument("--prompt")
    e.add_argument("--instruction")
    e.add_argument("--input-file", help="JSONL with 'input' and 'edit' per line")
    e.add_argument("--output-file", help="JSONL out: each input line plus 'prediction'")
    _add_editor_args(e)
    e.add_argument("--batch-size", type=int, default=8)
    _add_generation_args(e)
    e.set_defaults(func=cmd_edit)

    r = sub.add_parser("render", help="render a prompt with a text-to-image backend")
    r.add_argument("--prompt", required=True)
    r.add_argument("--backend", default="tiny", help="a registry name (see README) or a diffusers id/folder")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int)
    r.add_argument("--guidance", type=float)
    r.add_argument("--negative-prompt")
    r.add_argument("--width", type=int)
    r.add_argument("--height", type=int)
    r.add_argument("--init-image", help="img2img source image")
    r.add_argument("--strength", type=float, default=0.6)
    r.add_argument("--instruction", help="for instruct-pix2pix backends")
    r.add_argument("--device")
    r.add_argument("--out", help="image file (default: images/render-TIME-seedN.png in the data folder)")
    r.set_defaults(func=cmd_render)

    c = sub.add_parser("chat", help="chat in the terminal: a prompt, then instructions")
    _add_editor_args(c)
    c.add_argument("--backend", default="tiny")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device")
    c.add_argument("--session-dir", help="where the session is saved (default: the --load folder, else "
                                            "sessions/TIME in the data folder)")
    c.add_argument("--load", help="continue a saved session folder")
    c.set_defaults(func=cmd_chat)

    w = sub.add_parser("serve", aliases=["app"], help="serve the web app (chat, compare, results tabs)")
    add_serve_args(w).set_defaults(func=serve)

    try:
        from .scoring.cli import add_score_parser
    except ImportError:
        add_score_parser = None
    if add_score_parser is not None:
        add_score_parser(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except DiffChatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
