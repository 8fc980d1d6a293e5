"""Renderer: loads diffusers pipelines (LRU cache) and renders seeded text2img / img2img / InstructPix2Pix."""
from __future__ import annotations

import gc
import math
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch
from PIL import Image, UnidentifiedImageError

from .backends import BackendSpec, get_backend, require_available
from .errors import BackendError, DiffChatError, InvalidInput, RenderError, load_failure
from .long_prompt import encode_long, is_long
from .settings import MAX_SIZE, MIN_SIZE, check_setting



def load_image(image: Image.Image | str | Path) -> Image.Image:
    """An RGB PIL image from a PIL image or a file path; InvalidInput when it cannot be read."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if not isinstance(image, (str, Path)) or not str(image).strip():
        raise InvalidInput(f"Expected an image or an image file path, got {type(image).__name__}.")
    try:
        with Image.open(Path(image).expanduser()) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise InvalidInput(f"Image file not found: {image}") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InvalidInput(f"Could not read '{image}' as an image ({e.__class__.__name__}). Use a PNG, JPEG or WebP file.") from None


def _check_size(width: int | None, height: int | None) -> None:
    check_setting("width", width)
    check_setting("height", height)


def _check_inputs(spec: BackendSpec, prompt, instruction, init_image) -> None:
    if spec.kind == "ip2p":
        if init_image is None or not isinstance(instruction, str) or not instruction.strip():
            raise InvalidInput(f"'{spec.name}' edits an existing image: give both an image and an instruction.")
    elif not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("The prompt is empty: describe the image to render.")


def _fit(image: Image.Image, width: int | None, height: int | None, default: tuple[int, int] | None) -> Image.Image:
    """Resize `image` to width x height; missing sides keep its aspect ratio at the backend's default area."""
    w0, h0 = image.size
    if width is None or height is None:
        area = default[0] * default[1] if default else w0 * h0
        area = min(area, MAX_SIZE * MAX_SIZE // 4)
        scale = math.sqrt(area / (w0 * h0))
        if width is None and height is None:
            width, height = w0 * scale, h0 * scale
        elif width is None:
            width = height * w0 / h0
        else:
            height = width * h0 / w0
        clamp = lambda v: int(min(MAX_SIZE, max(MIN_SIZE, round(v / 8) * 8)))  # noqa: E731
        width, height = clamp(width), clamp(height)
    _check_size(width, height)
    return image if image.size == (width, height) else image.resize((width, height), Image.LANCZOS)


class Renderer:
    """Renders images with diffusers pipelines, keeping the last `max_loaded` pipelines in memory.

    On CUDA it uses fp16, VAE tiling and slicing (and attention slicing on small GPUs); on CPU fp32.
    `cpu_offload=True` keeps only the active sub-model on the GPU (needs accelerate; slower).
    """

    def __init__(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None, *,
                 max_loaded: int = 2, cpu_offload: bool = False, attention_slicing: bool | None = None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = dtype or (torch.float16 if self.device.type == "cuda" else torch.float32)
        self.max_loaded = max(1, max_loaded)
        self.cpu_offload = cpu_offload and self.device.type == "cuda"
        self.attention_slicing = attention_slicing
        self._pipes: OrderedDict[str, tuple[BackendSpec, object]] = OrderedDict()
        self._img2img: dict[str, object] = {}
        self._lock = threading.RLock()

    @property
    def loaded(self) -> list[str]:
        """Names of the loaded pipelines, least recently used first."""
        return list(self._pipes)

    # --- loading -------------------------------------------------------------------------------

    def _source(self, spec: BackendSpec) -> str:
        if spec.tiny:
            from .tiny import ensure_tiny

            return str(ensure_tiny(spec.model_id))
        return spec.model_id

    def _load(self, spec: BackendSpec):
        from diffusers import AutoPipelineForText2Image, StableDiffusionInstructPix2PixPipeline

        cls = StableDiffusionInstructPix2PixPipeline if spec.kind == "ip2p" else AutoPipelineForText2Image
        require_available(spec)  # offline and not downloaded: say so now, not after the Hub's retries
        source = self._source(spec)
        try:
            pipe = cls.from_pretrained(source, dtype=self.dtype)
        except Exception as e:  # OSError, hub errors, ValueError for unsupported folders, ...
            raise load_failure("pipeline", source, spec.model_id, "pass a local folder or use --backend tiny", e) from e
        if spec.scheduler:
            import diffusers

            sched = getattr(diffusers, spec.scheduler, None)
            if sched is None:
                raise BackendError(f"Backend '{spec.name}' names an unknown diffusers scheduler '{spec.scheduler}'.")
            pipe.scheduler = sched.from_config(pipe.scheduler.config)
        if self.device.type == "cuda":
            if self.cpu_offload:
                pipe.enable_model_cpu_offload(device=self.device)
            else:
                pipe.to(self.device)
            slicing = self.attention_slicing
            if slicing is None:  # SDPA is already memory-efficient; slice only on small GPUs
                slicing = torch.cuda.get_device_properties(self.device).total_memory < 10 * 2**30
            if slicing:
                pipe.enable_attention_slicing()
            pipe.vae.enable_tiling()  # only kicks in above the VAE's tile size
            pipe.vae.enable_slicing()
        else:
            pipe.to(self.device)
        # the loaded class is the truth for ad-hoc ids (SDXL or not, InstructPix2Pix or not)
        name = type(pipe).__name__
        spec = replace(spec, sdxl="XL" in name, kind="ip2p" if "InstructPix2Pix" in name else "t2i")
        return spec, pipe

    def pipeline(self, backend: str | BackendSpec = "tiny"):
        """The loaded text-to-image (or InstructPix2Pix) pipeline for `backend`, loading it if needed."""
        return self._get(get_backend(backend))[1]

    def _get(self, spec: BackendSpec):
        with self._lock:
            if spec.name in self._pipes:
                self._pipes.move_to_end(spec.name)
                return self._pipes[spec.name]
            while len(self._pipes) >= self.max_loaded:
                self.unload(next(iter(self._pipes)))
            self._pipes[spec.name] = self._load(spec)
            return self._pipes[spec.name]

    def unload(self, name: str | BackendSpec | None = None) -> bool:
        """Free one loaded pipeline (all of them when `name` is None); False when it was not loaded."""
        with self._lock:
            names = list(self._pipes) if name is None else [get_backend(name).name]
            found = False
            for n in names:
                found |= self._pipes.pop(n, None) is not None
                self._img2img.pop(n, None)
            if found:
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            return found

    @staticmethod
    def _text(pipe, prompt: str, negative: str) -> dict:
        """The pipeline's text arguments: the prompts as they are, or, when one is over CLIP's 75
        tokens, their embeddings encoded in chunks (diffchat.long_prompt) so no word is cut off."""
        if is_long(prompt, pipe.tokenizer) or is_long(negative, pipe.tokenizer):
            try:
                return encode_long(pipe, prompt, negative)
            except Exception as e:
                raise RenderError(f"Could not encode the long prompt: {type(e).__name__}: {e}") from e
        return dict(prompt=prompt, negative_prompt=negative or None)

    # --- rendering -----------------------------------------------------------------------------

    def render(
        self,
        prompt: str,
        *,
        backend: str | BackendSpec = "tiny",
        seed: int = 0,
        negative_prompt: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        width: int | None = None,
        height: int | None = None,
        init_image: Image.Image | str | Path | None = None,
        strength: float = 0.6,
        instruction: str | None = None,
        image_guidance: float = 1.5,
        progress: Callable[[int, int], None] | None = None,
    ) -> Image.Image:
        """Render one image. Same backend + prompt + seed + settings -> the same pixels.

        `init_image` turns text2img into img2img (`strength` in (0, 1]: how much may change).
        InstructPix2Pix backends edit `init_image` following `instruction` (`prompt` is not used).
        `progress(step, total)` is called after each denoising step.
        """
        spec = get_backend(backend)
        steps = spec.steps if steps is None else steps
        guidance = spec.guidance if guidance is None else guidance
        negative_prompt = spec.negative_prompt if negative_prompt is None else negative_prompt
        check_setting("steps", steps)
        check_setting("guidance", guidance)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise InvalidInput(f"The seed must be a whole number from 0 to 2^63-1 (got {seed!r}).")
        _check_inputs(spec, prompt, instruction, init_image)
        if init_image is not None:
            check_setting("strength", strength)
        default = (spec.width, spec.height) if spec.width and spec.height else None
        if init_image is not None:
            image = _fit(load_image(init_image), width, height, default)
        else:
            width, height = width or spec.width, height or spec.height
            _check_size(width, height)

        with self._lock:
            spec, pipe = self._get(spec)
            args = dict(num_inference_steps=steps, guidance_scale=float(guidance),
                        generator=torch.Generator("cpu").manual_seed(seed))
            _check_inputs(spec, prompt, instruction, init_image)  # the loaded class may have changed `kind`
            if spec.kind == "ip2p":
                args.update(prompt=instruction.strip(), image=image, image_guidance_scale=float(image_guidance),
                            negative_prompt=negative_prompt or None)
            elif init_image is not None:
                args.update(self._text(pipe, prompt.strip(), negative_prompt or ""))
                if spec.name not in self._img2img:
                    from diffusers import AutoPipelineForImage2Image

                    self._img2img[spec.name] = AutoPipelineForImage2Image.from_pipe(pipe)
                pipe = self._img2img[spec.name]
                if int(steps * strength) < 1:  # img2img runs int(steps * strength) steps
                    args["num_inference_steps"] = math.ceil(1 / strength)
                args.update(image=image, strength=float(strength))
            else:
                args.update(self._text(pipe, prompt.strip(), negative_prompt or ""), width=width, height=height)
            if progress is not None:
                def on_step(p, step, timestep, kwargs):
                    progress(step + 1, p.num_timesteps)
                    return kwargs

                args["callback_on_step_end"] = on_step
            pipe.set_progress_bar_config(disable=progress is not None, leave=False)
            try:
                return pipe(**args).images[0]
            except DiffChatError:
                raise
            except torch.cuda.OutOfMemoryError as e:
                raise RenderError(
                    f"Out of GPU memory rendering with '{spec.name}'. Try a smaller size, fewer loaded backends "
                    "or cpu_offload=True."
                ) from e
            except Exception as e:
                raise RenderError(f"Rendering with '{spec.name}' failed: {e}") from e

