"""Captioner: describe an uploaded image, giving the chat a starting prompt."""
from __future__ import annotations

import re
from pathlib import Path

import torch
from PIL import Image

from .errors import DiffChatError, ModelLoadError, load_failure
from .hub import OFFLINE_HINT, unavailable
from .render import load_image

DEFAULT_CAPTIONER = "Salesforce/blip-image-captioning-base"


class Captioner:
    """An image-to-text model (BLIP, GIT, VisionEncoderDecoder, ...) with its processor."""

    def __init__(self, model, processor, device: torch.device, name: str):
        self.model, self.processor, self.device, self.name = model, processor, device, name

    @classmethod
    def from_pretrained(cls, model_id: str = DEFAULT_CAPTIONER, device: str | torch.device | None = None) -> "Captioner":
        """Load a captioner from a Hub id or a local folder; "tiny" is a tiny random BLIP built locally."""
        from transformers import AutoModelForImageTextToText, AutoProcessor

        model_id = str(model_id or DEFAULT_CAPTIONER).strip()
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        source = model_id
        if model_id == "tiny":
            from .tiny import ensure_tiny

            source = str(ensure_tiny("tiny-captioner"))
        if unavailable([source]):
            raise ModelLoadError(f"Could not load the captioner '{model_id}': {OFFLINE_HINT}. Use 'tiny' (a test "
                                 "model with random weights) or a local folder, or type a starting prompt instead.")
        try:
            processor = AutoProcessor.from_pretrained(source)
            model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(device).eval()
        except Exception as e:
            raise load_failure("captioner", source, model_id, "pass a local folder or use 'tiny'", e,
                               named="captioner ") from e
        return cls(model, processor, device, model_id)

    @property
    def random_weights(self) -> bool:
        """The tiny test captioner: random weights, its words describe nothing."""
        return self.name == "tiny"

    @torch.inference_mode()
    def caption(self, image: Image.Image | str | Path, max_new_tokens: int = 30) -> str:
        """One cleaned-up sentence describing `image` (a PIL image or a file path)."""
        image = load_image(image)
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        ids = self.model.generate(**inputs, max_new_tokens=max_new_tokens, num_beams=1, do_sample=False)
        text = self.processor.batch_decode(ids, skip_special_tokens=True)[0]
        text = re.sub(r"\s+", " ", text).strip(" \t\n,;:")
        if not text:
            raise DiffChatError(
                f"The captioner '{self.name}' could not describe this image. Type a starting prompt instead."
            )
        return text
