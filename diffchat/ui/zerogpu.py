"""ZeroGPU Spaces: rendering under `@spaces.GPU`, pipelines placed on the GPU at startup.

On a ZeroGPU Space (`SPACES_ZERO_GPU=true`) a GPU exists only inside functions decorated with
`@spaces.GPU`, which run in a forked worker process. So the default backend's pipeline is loaded and
moved to "cuda" in the main process before the app starts (the worker inherits it), the arguments
and the result cross into the worker and back (pickled: no progress callback), and the editor and
captioner run on the CPU. Anywhere else `spaces.GPU` returns the function unchanged (see
`spaces.zero.decorator.GPU`) and the app uses the plain `Renderer`; this module is then unused.
"""
from __future__ import annotations

import math
import os

try:  # before anything initialises CUDA: on ZeroGPU, importing spaces patches torch
    import spaces
except ImportError:  # not installed: a plain machine
    spaces = None

from ..backends import get_backend
from ..errors import DiffChatError, InvalidInput

BASE_SECONDS = 10                  # worker start, weights to the GPU, VAE decode
SECONDS_PER_MEGAPIXEL_STEP = 0.25  # one SDXL-class denoising step per megapixel on a ZeroGPU slice, with margin
LOAD_SECONDS = 60                  # a backend not placed at startup loads inside the GPU call
MAX_SECONDS = 120                  # longer renders are refused with a message instead of being cut off

_renderer = None       # the Renderer placed at startup; the GPU worker inherits it when it forks
_placed: set[str] = set()


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space (the variable `spaces` itself reads)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def render_seconds(prompt=None, *, backend="tiny", steps=None, width=None, height=None, init_image=None,
                   strength=0.6, **_) -> int:
    """GPU seconds to ask for one `Renderer.render(prompt, **kwargs)`: sized from steps and image size."""
    spec = get_backend(backend)
    try:
        steps = int(spec.steps if steps is None else steps)
        if init_image is not None:  # img2img runs int(steps * strength) steps, at least one
            steps = max(1, int(steps * float(strength)))
        if (width is None or height is None) and hasattr(init_image, "size"):
            width, height = init_image.size
        pixels = int(width or spec.width or 512) * int(height or spec.height or 512)
    except (TypeError, ValueError):  # bad settings: the renderer says what is wrong
        return BASE_SECONDS
    seconds = BASE_SECONDS + SECONDS_PER_MEGAPIXEL_STEP * max(steps, 1) * pixels / 1e6
    if spec.name not in _placed:
        seconds += LOAD_SECONDS
    return math.ceil(seconds)


def _render(prompt, **kwargs):
    """Runs in the GPU worker. A DiffChatError comes back as a value: spaces would replace it with a
    generic "ZeroGPU worker error" and the user would lose the message."""
    try:
        return _renderer.render(prompt, **kwargs), None
    except DiffChatError as e:
        return None, e


_render_on_gpu = spaces.GPU(duration=render_seconds)(_render) if spaces is not None else _render


class GPURenderer:
    """The app's renderer on ZeroGPU: `render` runs under `@spaces.GPU`; everything else is the
    wrapped `Renderer`'s. `place` backends at startup, before `demo.launch()`."""

    def __init__(self, renderer):
        global _renderer
        _renderer = renderer

    def place(self, *backends: str) -> "GPURenderer":
        """Load these pipelines now and move them to the GPU, as ZeroGPU needs (main process)."""
        for name in backends:
            spec = get_backend(name)
            _renderer.pipeline(spec)
            _placed.add(spec.name)
        return self

    def __getattr__(self, name):
        return getattr(_renderer, name)

    def render(self, prompt, *, progress=None, **kwargs):
        seconds = render_seconds(prompt, **kwargs)
        if seconds > MAX_SECONDS:
            raise InvalidInput(f"This render would need about {seconds} s of GPU time, more than the "
                               f"{MAX_SECONDS} s a ZeroGPU call may take. Use fewer steps or a smaller size.")
        image, error = _render_on_gpu(prompt, **kwargs)
        if error is not None:
            raise error
        return image
