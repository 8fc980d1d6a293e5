"""The command line end to end, in subprocesses, offline."""
import json
import os
import subprocess
import sys

from PIL import Image

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run(*args, stdin=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "diffchat", *args], capture_output=True, text=True,
                          input=stdin, env=ENV, timeout=timeout)


def test_edit_one_prompt_with_the_default_model():
    r = run("edit", "--prompt", "a horse in a field", "--instruction", "turn the horse into a zebra")
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip().splitlines()
    assert len(out) == 1 and out[0] and "Instruction:" not in out[0]


def test_edit_jsonl_file(tmp_path, tiny_lm_dir):
    src = tmp_path / "in.jsonl"
    rows = [{"input": "a horse in a field", "edit": "turn the horse into a zebra", "id": 7},
            {"input": "a city street", "edit": "make it snowy"}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out" / "preds.jsonl"
    r = run("edit", "--input-file", str(src), "--output-file", str(out), "--model", str(tiny_lm_dir),
            "--max-new-tokens", "6")
    assert r.returncode == 0, r.stderr
    assert "Editing prompts" in r.stderr and "Wrote 2 predictions" in r.stderr  # progress bar + summary
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [{k: g[k] for k in r_} for g, r_ in zip(got, rows)] == rows  # input fields repeated
    assert all(isinstance(g["prediction"], str) for g in got)


def test_edit_bad_input_messages(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "a cat", "edit": "make it red"}\n{"input": "a dog"}\n')
    r = run("edit", "--input-file", str(bad), "--output-file", str(tmp_path / "o.jsonl"))
    assert r.returncode == 2 and "bad.jsonl:2: each line needs text fields 'input' and 'edit'" in r.stderr
    r = run("edit", "--prompt", "a cat", "--instruction", "  ", "--model", "base")
    assert r.returncode == 2 and "instruction is empty" in r.stderr
    r = run("edit", "--prompt", "a cat", "--instruction", "make it red", "--model", "nobody/nothing")
    assert r.returncode == 2 and "Could not load the editor model 'nobody/nothing'" in r.stderr
    r = run("edit", "--prompt", "a cat")
    assert r.returncode == 2 and "Give --prompt and --instruction" in r.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_render_tiny(tmp_path):
    out = tmp_path / "img.png"
    r = run("render", "--prompt", "a red apple", "--backend", "tiny", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Rendering" in r.stderr
    first = Image.open(out).convert("RGB")
    r = run("render", "--prompt", "a red apple", "--backend", "tiny", "--seed", "3", "--out", str(tmp_path / "b.png"))
    assert list(first.getdata()) == list(Image.open(tmp_path / "b.png").convert("RGB").getdata())
    r = run("render", "--prompt", "x", "--backend", "no-such-backend", "--out", str(tmp_path / "c.png"))
    assert r.returncode == 2 and "error:" in r.stderr and not (tmp_path / "c.png").exists()
    notimg = tmp_path / "n.png"
    notimg.write_text("hello")
    r = run("render", "--prompt", "x", "--init-image", str(notimg), "--out", str(tmp_path / "d.png"))
    assert r.returncode == 2 and f"Could not read '{notimg}' as an image" in r.stderr


def test_chat_loop(tmp_path, tiny_lm_dir):
    folder = tmp_path / "session"
    script = "a horse in a field\nturn the horse into a zebra\nchange it\nundo\nquit\n"
    r = run("chat", "--model", str(tiny_lm_dir), "--backend", "tiny", "--session-dir", str(folder), stdin=script)
    assert r.returncode == 0, r.stderr
    assert "prompt: a horse in a field" in r.stdout
    assert r.stdout.count("image: ") >= 2 and "?" in r.stdout  # images rendered; clarifying question asked
    saved = json.loads((folder / "session.json").read_text())
    assert saved["turns"][0]["prompt_after"] == "a horse in a field"
    assert len(saved["turns"]) == 2  # start + one edit; "change it" asked back, undo moved the head
    r = run("chat", "--model", str(tiny_lm_dir), "--load", str(folder), "--session-dir", str(folder), stdin="redo\n")
    assert r.returncode == 0, r.stderr


def test_chat_start_over_keeps_every_image_printed(tmp_path, tiny_lm_dir):
    """'start over' moves on to a new folder: the old chat and every printed image path stay; 'undo'
    in the new, empty chat goes back to the old one; a folder holding another chat is never reused."""
    folder = tmp_path / "session"
    long_prompt = "a lighthouse on a cliff " * 60  # 1,440 characters: cut at a word, and said so
    script = f"a horse in a field\nstart over\nundo\nstart over\n{long_prompt}\nquit\n"
    r = run("chat", "--model", str(tiny_lm_dir), "--backend", "tiny", "--session-dir", str(folder), stdin=script)
    assert r.returncode == 0, r.stderr
    images = [line.split("image: ", 1)[1] for line in r.stdout.splitlines() if line.startswith("image: ")]
    assert len(images) == 2 and all(os.path.isfile(p) for p in images)
    assert "Back to the chat before 'start over'" in r.stdout
    assert json.loads((folder / "session.json").read_text())["turns"][0]["prompt_after"] == "a horse in a field"
    second = json.loads((tmp_path / "session-2" / "session.json").read_text())["turns"][0]["prompt_after"]
    assert second.startswith("a lighthouse") and len(second) <= 1000 and "I used its first" in r.stdout
    assert "note: This prompt is long" in r.stdout  # over 77 CLIP tokens
    # a second run with the same --session-dir does not overwrite the first chat
    r = run("chat", "--model", str(tiny_lm_dir), "--backend", "tiny", "--session-dir", str(folder),
            stdin="a boat\nquit\n")
    assert r.returncode == 0, r.stderr
    assert f"Session saved in {tmp_path / 'session-3'}" in r.stdout
    assert json.loads((folder / "session.json").read_text())["turns"][0]["prompt_after"] == "a horse in a field"
    assert (tmp_path / "session-3" / "session.json").is_file()
