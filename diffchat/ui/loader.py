"""Load the editor model in a background thread so the UI starts at once."""
from __future__ import annotations

import threading
from typing import Callable

from ..errors import DiffChatError, ModelLoadError


def preload_libraries() -> None:
    """Import the model libraries on the calling thread (a few seconds). Importing them for the
    first time from two threads at once (editor loading in the background while a render starts)
    can fail with "partially initialized module" errors from their circular imports."""
    import accelerate.hooks  # noqa: F401
    import peft  # noqa: F401
    import transformers  # noqa: F401
    from diffusers import (AutoPipelineForImage2Image, AutoPipelineForText2Image,  # noqa: F401
                           StableDiffusionInstructPix2PixPipeline)
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer  # noqa: F401


class BackgroundLoader:
    """Runs `load()` once in a daemon thread; `get()` waits for it and raises its error, if any."""

    def __init__(self, load: Callable[[], object], name: str = "editor"):
        self.name = name
        self._load = load
        self._value = None
        self._error: DiffChatError | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> "BackgroundLoader":
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"load-{self.name}", daemon=True)
                self._thread.start()
        return self

    def _run(self):
        try:
            self._value = self._load()
        except DiffChatError as e:
            self._error = e
        except Exception as e:  # noqa: BLE001 - any failure becomes a message, never a crash
            self._error = ModelLoadError(f"Could not load the {self.name}: {type(e).__name__}: {e}")
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self._error is None

    def get(self, timeout: float | None = None):
        """The loaded object; raises ModelLoadError on failure or when `timeout` runs out."""
        self.start()
        if not self._done.wait(timeout):
            raise ModelLoadError(f"The {self.name} is still loading; try again in a moment.")
        if self._error is not None:
            raise self._error
        return self._value

    def status(self) -> str:
        if not self._done.is_set():
            return f"Loading the {self.name}…"
        if self._error is not None:
            return f"\u26a0 {self._error}"
        return f"\u2713 {self.name.capitalize()} ready: {getattr(self._value, 'name', self._value)}"
