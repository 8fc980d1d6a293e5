"""CLIP backbones shared by the scorers: a transformers CLIPModel or an open_clip model.

Each backbone returns L2-normalised float32 embeddings on the CPU and memoises them (image by
content hash, text by string), so scorers that share a backbone (CLIP score, directional CLIP and
aesthetic all use CLIP ViT-L/14) encode every image and prompt once. `clip_backbone()` and
`open_clip_backbone()` keep one loaded model per (id, device, dtype).
"""
from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from ..errors import InvalidInput, ModelLoadError

MEMO_SIZE = 4096


def load_image(image) -> Image.Image:
    """A PIL image (RGB) from a PIL image or a file path."""
    if isinstance(image, Image.Image):
        return image.convert("RGB") if image.mode != "RGB" else image
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as im:
                return im.convert("RGB")
        except (OSError, UnidentifiedImageError) as e:
            raise InvalidInput(f"Could not read the image '{image}': {e}") from e
    raise InvalidInput(f"Expected an image or an image file path, got {type(image).__name__}.")


def image_sha256(image: Image.Image) -> str:
    """Content hash of the decoded pixels (same picture, same hash, whatever the file format)."""
    h = hashlib.sha256(f"{image.mode}{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def default_device(device: str | None = None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: str, dtype: str | torch.dtype | None = None) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype:
        return getattr(torch, dtype)
    return torch.float16 if device.startswith("cuda") else torch.float32


def _load_error(what: str, spec: str, e: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"Could not load {what} '{spec}': {type(e).__name__}: {e}. "
        "Check the id or pass a local folder (the Hugging Face Hub may be unreachable offline)."
    )


class Backbone:
    """Memoised, batched, normalised image/text embeddings; subclasses implement `_images`/`_texts`."""

    def __init__(self):
        self._img: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._txt: OrderedDict[str, torch.Tensor] = OrderedDict()

    def clear_memo(self) -> None:
        self._img.clear()
        self._txt.clear()

    @staticmethod
    def _memoised(memo, keys, values, encode, batch_size):
        todo = {k: v for k, v in zip(keys, values) if k not in memo}
        fresh = {}
        items = list(todo.items())
        for i in range(0, len(items), batch_size):
            chunk = items[i : i + batch_size]
            fresh.update(zip((k for k, _ in chunk), encode([v for _, v in chunk])))
        out = torch.stack([fresh[k] if k in fresh else memo[k] for k in keys])
        for k in keys:
            if k in memo:
                memo.move_to_end(k)
        memo.update(fresh)
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
        return out

    def image_embeds(self, images: list[Image.Image], hashes: list[str] | None = None, batch_size: int = 16):
        hashes = hashes or [image_sha256(im) for im in images]
        return self._memoised(self._img, hashes, images, self._images, batch_size)

    def text_embeds(self, texts: list[str], batch_size: int = 16):
        return self._memoised(self._txt, texts, texts, self._texts, batch_size)


class ClipBackbone(Backbone):
    """A transformers CLIPModel (Hub id or folder) with its processor (possibly from another id)."""

    def __init__(self, model: str, processor: str | None = None, device: str | None = None, dtype=None):
        super().__init__()
        from transformers import AutoProcessor, CLIPModel

        self.device = default_device(device)
        self.dtype = default_dtype(self.device, dtype)
        try:
            self.model = CLIPModel.from_pretrained(model, dtype=self.dtype).to(self.device).eval()
        except Exception as e:
            raise _load_error("the CLIP model", model, e) from e
        try:
            proc = AutoProcessor.from_pretrained(processor or model)
        except Exception as e:
            raise _load_error("the CLIP processor", processor or model, e) from e
        self.tokenizer, self.image_processor = proc.tokenizer, proc.image_processor
        self.max_length = min(int(getattr(self.tokenizer, "model_max_length", 77) or 77), 77)
        self.logit_scale = float(self.model.logit_scale.detach().float().exp())
        self.dim = self.model.config.projection_dim

    @torch.no_grad()
    def _images(self, images):
        px = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        out = self.model.get_image_features(pixel_values=px.to(self.device, self.dtype))
        return F.normalize(out.pooler_output.float(), dim=-1).cpu()

    @torch.no_grad()
    def _texts(self, texts):
        tok = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt").to(self.device)
        out = self.model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
        return F.normalize(out.pooler_output.float(), dim=-1).cpu()


def read_state_dict(path: Path, what: str) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelLoadError(f"Could not read the {what} weights file '{path}': {type(e).__name__}: {e}") from e
    sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict):
        raise ModelLoadError(f"The {what} weights file '{path}' holds no state dict.")
    return {k.removeprefix("module."): v for k, v in sd.items()}


class OpenClipBackbone(Backbone):
    """An open_clip model: a built-in architecture name (e.g. ViT-H-14) or a folder with
    open_clip_config.json, created without pretrained weights, then loaded from `checkpoint`."""

    def __init__(self, arch: str, checkpoint: Path, device: str | None = None, dtype=None):
        super().__init__()
        import open_clip

        self.device = default_device(device)
        self.dtype = default_dtype(self.device, dtype)
        name = f"local-dir:{arch}" if Path(arch).is_dir() else arch
        precision = {torch.float16: "fp16", torch.bfloat16: "bf16"}.get(self.dtype, "fp32")
        logging.disable(logging.WARNING)  # open_clip warns "initialized randomly": the weights come next
        try:
            model, _, self.preprocess = open_clip.create_model_and_transforms(
                name, pretrained=None, load_weights=False, precision=precision, device=self.device)
            self.tokenizer = open_clip.get_tokenizer(name)
        except Exception as e:
            raise _load_error("the open_clip architecture", arch, e) from e
        finally:
            logging.disable(logging.NOTSET)
        try:
            model.load_state_dict(read_state_dict(checkpoint, "HPS"))
        except RuntimeError as e:
            raise ModelLoadError(f"The checkpoint '{checkpoint}' does not fit the '{arch}' architecture: {e}") from e
        self.model = model.eval()

    @torch.no_grad()
    def _images(self, images):
        px = torch.stack([self.preprocess(im) for im in images]).to(self.device, self.dtype)
        return F.normalize(self.model.encode_image(px).float(), dim=-1).cpu()

    @torch.no_grad()
    def _texts(self, texts):
        tok = self.tokenizer(list(texts)).to(self.device)
        return F.normalize(self.model.encode_text(tok).float(), dim=-1).cpu()


def _dtype_key(dtype) -> str | None:
    return str(dtype).removeprefix("torch.") if dtype is not None else None


@lru_cache(maxsize=4)
def _clip(model, processor, device, dtype):
    return ClipBackbone(model, processor, device, dtype)


@lru_cache(maxsize=2)
def _open_clip(arch, checkpoint, device, dtype):
    return OpenClipBackbone(arch, Path(checkpoint), device, dtype)


def clip_backbone(model: str, processor: str | None = None, device: str | None = None, dtype=None) -> ClipBackbone:
    """The shared ClipBackbone for (model, processor, device, dtype), loaded once."""
    return _clip(model, processor or model, default_device(device), _dtype_key(dtype))


def open_clip_backbone(arch: str, checkpoint: Path, device: str | None = None, dtype=None) -> OpenClipBackbone:
    """The shared OpenClipBackbone for (arch, checkpoint, device, dtype), loaded once."""
    return _open_clip(arch, str(checkpoint), default_device(device), _dtype_key(dtype))
