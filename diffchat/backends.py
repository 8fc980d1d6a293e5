"""Registry of text-to-image backends: a short name -> diffusers model id + rendering defaults."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import BackendError, ModelLoadError


@dataclass(frozen=True)
class BackendSpec:
    name: str  # short name, also the Renderer's cache key
    model_id: str  # Hub id or local folder (tiny backends: the tiny.py builder name)
    kind: str = "t2i"  # "t2i": text-to-image (+ img2img); "ip2p": InstructPix2Pix, edits an image directly
    width: int | None = 512  # None: the pipeline's own default
    height: int | None = 512
    steps: int = 30
    guidance: float = 7.5
    scheduler: str | None = None  # a diffusers scheduler class name to swap in, None: the model's own
    negative_prompt: str = ""
    sdxl: bool = False
    description: str = ""

    @property
    def tiny(self) -> bool:
        """Built locally by diffchat.tiny instead of downloaded."""
        return self.name in TINY_BACKENDS


_NEGATIVE = "deformed, distorted, disfigured, bad anatomy, blurry, low quality, watermark, text"

_SPECS = [
    BackendSpec("sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5", steps=30, guidance=7.5,
                description="Stable Diffusion 1.5, the paper's base backend."),
    BackendSpec("sdxl", "stabilityai/stable-diffusion-xl-base-1.0", width=1024, height=1024, steps=30, guidance=7.0,
                sdxl=True, description="Stable Diffusion XL base 1.0 (needs a GPU in practice)."),
    BackendSpec("sd-turbo", "stabilityai/sd-turbo", steps=1, guidance=0.0,
                description="SD-Turbo: 1-4 steps without guidance; fast, usable on CPU."),
    BackendSpec("deliberate", "XpucT/Deliberate", steps=25, guidance=7.0, scheduler="DPMSolverMultistepScheduler",
                negative_prompt=_NEGATIVE, description="Deliberate (SD 1.5 fine-tune), one of the paper's backends."),
    BackendSpec("dreamlike-photoreal", "dreamlike-art/dreamlike-photoreal-2.0", width=768, height=768, steps=30,
                guidance=7.5, description="Dreamlike Photoreal 2.0 (SD 1.5 fine-tune), photographic style."),
    BackendSpec("realistic-vision", "SG161222/Realistic_Vision_V5.1_noVAE", steps=25, guidance=5.0,
                scheduler="DPMSolverMultistepScheduler", negative_prompt=_NEGATIVE,
                description="Realistic Vision 5.1 (SD 1.5 fine-tune), photorealistic people and scenes."),
    BackendSpec("instruct-pix2pix", "timbrooks/instruct-pix2pix", kind="ip2p", steps=20, guidance=7.5,
                description="InstructPix2Pix: edits the current image directly from the instruction."),
    BackendSpec("tiny", "tiny", width=64, height=64, steps=4, guidance=5.0,
                description="Tiny random SD-like pipeline built locally: tests and offline demos (noise images)."),
    BackendSpec("tiny-sdxl", "tiny-sdxl", width=64, height=64, steps=4, guidance=5.0, sdxl=True,
                description="Tiny random SDXL-like pipeline built locally: tests and offline demos."),
    BackendSpec("tiny-ip2p", "tiny-ip2p", kind="ip2p", width=64, height=64, steps=4, guidance=5.0,
                description="Tiny random InstructPix2Pix pipeline built locally: tests and offline demos."),
]
BACKENDS: dict[str, BackendSpec] = {s.name: s for s in _SPECS}
TINY_BACKENDS = ("tiny", "tiny-sdxl", "tiny-ip2p")
PAPER_BACKENDS = ("sd15", "sdxl", "deliberate", "dreamlike-photoreal", "realistic-vision")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _unknown(name: str) -> BackendError:
    return BackendError(
        f"Unknown backend {name!r}. Use one of: {', '.join(BACKENDS)}; or a diffusers model id "
        "(owner/name) or a local pipeline folder."
    )


def _from_folder(folder: Path) -> BackendSpec:
    index = folder / "model_index.json"
    try:
        cls = json.loads(index.read_text())["_class_name"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BackendError(f"'{folder}' is not a diffusers pipeline folder (no readable model_index.json).") from e
    sdxl = "XL" in cls
    kind = "ip2p" if "InstructPix2Pix" in cls else "t2i"
    return BackendSpec(str(folder), str(folder), kind=kind, width=None, height=None, sdxl=sdxl,
                       steps=30, guidance=5.0 if sdxl else 7.5, description=f"Local {cls} folder.")


def get_backend(name_or_id: str | BackendSpec | None) -> BackendSpec:
    """The spec for a short name, a registered model id, a local pipeline folder or any Hub id."""
    if isinstance(name_or_id, BackendSpec):
        return name_or_id
    if not isinstance(name_or_id, (str, Path, type(None))):
        raise _unknown(repr(name_or_id))
    name = str(name_or_id or "").strip()
    if not name:
        raise BackendError(f"No backend given. Use one of: {', '.join(BACKENDS)}.")
    if name.lower() in BACKENDS:
        return BACKENDS[name.lower()]
    for spec in _SPECS:
        if not spec.tiny and spec.model_id.lower() == name.lower():
            return spec
    path = Path(name).expanduser()
    if path.is_dir():
        return _from_folder(path.resolve())
    if _HUB_ID.match(name) and not path.exists():
        # a Hub id we have no defaults for: let the pipeline pick its size, guess the family by name
        low = name.lower()
        sdxl = "xl" in low
        kind = "ip2p" if "pix2pix" in low else "t2i"
        return replace(BACKENDS["sd15"], name=name, model_id=name, kind=kind, width=None, height=None,
                       sdxl=sdxl, guidance=5.0 if sdxl else 7.5, description=f"Hub model {name}.")
    raise _unknown(name)


def availability(spec: str | BackendSpec) -> str:
    """"local" (built here, or a folder), "downloaded" (in the Hub cache), "download" (the Hub is
    reachable) or "offline" (neither downloaded nor reachable: it cannot load)."""
    from .hub import hub_reachable, is_cached, is_hub_id

    spec = get_backend(spec)
    if spec.tiny or not is_hub_id(spec.model_id):
        return "local"
    if is_cached(spec.model_id):
        return "downloaded"
    return "download" if hub_reachable() else "offline"


_MARKS = {"local": "built locally", "downloaded": "downloaded", "download": "downloads on first use",
          "offline": "not downloaded · offline"}


def backend_label(spec: str | BackendSpec) -> str:
    """The backend's name with where its weights are, e.g. 'sdxl (not downloaded · offline)'."""
    spec = get_backend(spec)
    mark = "test model: noise images" if spec.tiny else _MARKS[availability(spec)]
    return f"{spec.name} ({mark})"


def require_available(spec: str | BackendSpec) -> BackendSpec:
    """The spec, or a ModelLoadError at once when its weights are not here and the Hub is unreachable."""
    from .hub import OFFLINE_HINT

    spec = get_backend(spec)
    if availability(spec) == "offline":
        local = ", ".join(TINY_BACKENDS[:2])
        raise ModelLoadError(f"The backend '{spec.name}' ({spec.model_id}) cannot load: {OFFLINE_HINT}. "
                           f"Use {local} (tiny test models, work offline) or a local pipeline folder, "
                           "or connect and try again.")
    return spec
