"""The image scorers of the DiffChat evaluation, each a few lines over a shared CLIP backbone.

    pickscore   PickScore v1 (CLIP-H): logit_scale.exp() * cos(image, prompt)            ~18-23
    aesthetic   LAION improved aesthetic MLP on the normalised CLIP ViT-L/14 image embedding ~5-6.5
    hps         HPS v2.1 (open_clip ViT-H-14): cos(image, prompt), ~0.20-0.32 (tables show x100)
    clip_score  max(100 * cos(image, prompt), 0) with CLIP ViT-L/14                     ~25-35
    dclip       directional CLIP: cos(img_target - img_raw, txt_target - txt_raw), ViT-L/14
    ci          content integrity of the predicted prompt (text only, see ci.py)

A `Batch` holds the inputs of n items; `scorer.compute(batch)` returns n floats (None where an
item lacks what the scorer needs), `scorer.item_key(batch, i)` names an item for the score cache.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InvalidInput, ModelLoadError
from .backbone import clip_backbone, image_sha256, load_image, open_clip_backbone, read_state_dict
from .ci import ci_score

SCORER_NAMES = ("pickscore", "aesthetic", "hps", "clip_score", "dclip", "ci")
AESTHETIC_DIMS = (768, 1024, 128, 64, 16, 1)


@dataclass
class ScorerConfig:
    """Where every scorer's weights come from: Hub ids, local folders/files, or 'owner/repo/file'."""

    pickscore_model: str = "yuvalkirstain/PickScore_v1"
    pickscore_processor: str = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    clip_model: str = "openai/clip-vit-large-patch14"
    aesthetic_weights: str = "camenduru/improved-aesthetic-predictor/sac+logos+ava1-l14-linearMSE.pth"
    hps_arch: str = "ViT-H-14"
    hps_checkpoint: str = "xswu/HPSv2/HPS_v2.1_compressed.pt"
    device: str | None = None
    dtype: str | None = None
    batch_size: int = 16


def resolve_file(spec: str, what: str) -> Path:
    """A local weights file, or 'owner/repo/filename' fetched from the Hugging Face Hub."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    parts = spec.split("/")
    if len(parts) >= 3 and not spec.startswith((".", "/", "~")) and not path.exists():
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download("/".join(parts[:2]), "/".join(parts[2:])))
        except Exception as e:
            raise ModelLoadError(
                f"Could not get the {what} weights '{spec}' from the Hugging Face Hub ({type(e).__name__}: {e}). "
                "Pass a local file path instead, or check the repo/file name and your connection."
            ) from e
    raise ModelLoadError(
        f"The {what} weights file '{spec}' does not exist. Pass a local file or 'owner/repo/filename' on the Hub."
    )


def fingerprint(spec: str) -> str:
    """A model spec for cache keys: local paths also carry their modification time."""
    path = Path(spec).expanduser()
    if path.exists():
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        return f"{path.resolve()}@{max((p.stat().st_mtime_ns for p in files), default=0)}"
    return spec


def _strings(values, what: str, n: int, optional: bool = False) -> list | None:
    """Check a list of n texts; `optional` ones may be None or empty."""
    if values is None:
        return None
    if isinstance(values, str):
        raise InvalidInput(f"Expected a list of {what}, got a single string.")
    values = list(values)
    if len(values) != n:
        raise InvalidInput(f"Got {len(values)} {what} for {n} items.")
    for i, v in enumerate(values):
        if optional and (v is None or isinstance(v, str)):
            continue
        if not isinstance(v, str) or not v.strip():
            raise InvalidInput(f"Item {i}: the {what[:-1]} is empty.")
    return values


@dataclass
class Batch:
    """Inputs of n scored items. `prompts` is the text each image is judged against (for an edit:
    the reference target prompt); `predictions` the prompt a method produced (CI only)."""

    images: list | None = None
    prompts: list[str] | None = None
    raw_images: list | None = None
    raw_prompts: list[str] | None = None
    instructions: list[str] | None = None
    predictions: list[str | None] | None = None
    image_hashes: list[str] | None = field(default=None, repr=False)
    raw_hashes: list[str] | None = field(default=None, repr=False)

    def __post_init__(self):
        lengths = {len(v) for v in (self.images, self.prompts, self.raw_images, self.raw_prompts,
                                    self.instructions, self.predictions) if v is not None}
        if len(lengths) > 1:
            raise InvalidInput(f"The score inputs have different lengths: {sorted(lengths)}.")
        n = lengths.pop() if lengths else 0
        self.prompts = _strings(self.prompts, "prompts", n)
        self.raw_prompts = _strings(self.raw_prompts, "raw prompts", n)
        self.instructions = _strings(self.instructions, "instructions", n, optional=True)
        self.predictions = _strings(self.predictions, "predictions", n, optional=True)
        if self.images is not None:
            self.images = [load_image(im) for im in self.images]
            self.image_hashes = self.image_hashes or [image_sha256(im) for im in self.images]
        if self.raw_images is not None:
            self.raw_images = [load_image(im) for im in self.raw_images]
            self.raw_hashes = self.raw_hashes or [image_sha256(im) for im in self.raw_images]

    def __len__(self) -> int:
        for v in (self.images, self.prompts, self.raw_images, self.raw_prompts, self.instructions, self.predictions):
            if v is not None:
                return len(v)
        return 0

    def subset(self, idx: list[int]) -> "Batch":
        pick = {f.name: (None if getattr(self, f.name) is None else [getattr(self, f.name)[i] for i in idx])
                for f in fields(self)}
        return Batch(**pick)

    def require(self, scorer: str, *names: str) -> None:
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise InvalidInput(f"The {scorer} score needs {', '.join(missing)}.")


class Scorer:
    """One score. `key` identifies the model for the cache; `needs` the Batch fields it reads."""

    name = ""
    needs: tuple[str, ...] = ()
    key = ""

    def item_key(self, b: Batch, i: int) -> str | None:
        return f"{b.image_hashes[i]}\x1f{b.prompts[i]}"

    def compute(self, b: Batch) -> list[float | None]:
        raise NotImplementedError

    def score(self, images=None, prompts=None, **inputs) -> list[float | None]:
        """Score n items directly (no cache): `images`, `prompts` and what the scorer needs."""
        b = Batch(images=images, prompts=prompts, **inputs)
        b.require(self.name, *self.needs)
        return self.compute(b) if len(b) else []


class _ClipPairScorer(Scorer):
    needs = ("images", "prompts")

    def cosines(self, b: Batch) -> torch.Tensor:
        img = self.backbone.image_embeds(b.images, b.image_hashes, self.batch_size)
        txt = self.backbone.text_embeds(b.prompts, self.batch_size)
        return (img * txt).sum(-1)


class PickScorer(_ClipPairScorer):
    name = "pickscore"

    def __init__(self, cfg: ScorerConfig):
        self.backbone = clip_backbone(cfg.pickscore_model, cfg.pickscore_processor, cfg.device, cfg.dtype)
        self.batch_size = cfg.batch_size
        self.key = f"pickscore|{fingerprint(cfg.pickscore_model)}|{fingerprint(cfg.pickscore_processor)}"

    def compute(self, b):
        return (self.backbone.logit_scale * self.cosines(b)).tolist()


class CLIPScorer(_ClipPairScorer):
    name = "clip_score"

    def __init__(self, cfg: ScorerConfig):
        self.backbone = clip_backbone(cfg.clip_model, None, cfg.device, cfg.dtype)
        self.batch_size = cfg.batch_size
        self.key = f"clip_score|{fingerprint(cfg.clip_model)}"

    def compute(self, b):
        return (100 * self.cosines(b)).clamp(min=0).tolist()


class HPSScorer(_ClipPairScorer):
    name = "hps"

    def __init__(self, cfg: ScorerConfig):
        ckpt = resolve_file(cfg.hps_checkpoint, "HPS v2.1")
        self.backbone = open_clip_backbone(cfg.hps_arch, ckpt, cfg.device, cfg.dtype)
        self.batch_size = cfg.batch_size
        self.key = f"hps|{fingerprint(cfg.hps_arch)}|{fingerprint(str(ckpt))}"

    def compute(self, b):
        return self.cosines(b).tolist()


class AestheticMLP(nn.Module):
    """The LAION improved aesthetic predictor head (linear layers, dropouts, no activations)."""

    def __init__(self, input_size: int = 768):
        super().__init__()
        d = (input_size,) + AESTHETIC_DIMS[1:]
        self.layers = nn.Sequential(
            nn.Linear(d[0], d[1]), nn.Dropout(0.2), nn.Linear(d[1], d[2]), nn.Dropout(0.2),
            nn.Linear(d[2], d[3]), nn.Dropout(0.1), nn.Linear(d[3], d[4]), nn.Linear(d[4], d[5]),
        )

    def forward(self, x):
        return self.layers(x)


class AestheticScorer(Scorer):
    name = "aesthetic"
    needs = ("images",)

    def __init__(self, cfg: ScorerConfig):
        self.backbone = clip_backbone(cfg.clip_model, None, cfg.device, cfg.dtype)
        self.batch_size = cfg.batch_size
        path = resolve_file(cfg.aesthetic_weights, "aesthetic")
        sd = read_state_dict(path, "aesthetic")
        if "layers.0.weight" not in sd:
            raise ModelLoadError(f"'{path}' is not a LAION aesthetic predictor (no layers.0.weight).")
        in_dim = sd["layers.0.weight"].shape[1]
        if in_dim != self.backbone.dim:
            raise ModelLoadError(
                f"The aesthetic head '{path}' takes {in_dim}-d embeddings but '{cfg.clip_model}' gives "
                f"{self.backbone.dim}-d ones: use CLIP ViT-L/14 (openai/clip-vit-large-patch14)."
            )
        self.mlp = AestheticMLP(in_dim).eval()
        try:
            self.mlp.load_state_dict(sd)
        except RuntimeError as e:
            raise ModelLoadError(f"'{path}' does not fit the aesthetic MLP: {e}") from e
        self.key = f"aesthetic|{fingerprint(cfg.clip_model)}|{fingerprint(str(path))}"

    def item_key(self, b, i):
        return b.image_hashes[i]

    @torch.no_grad()
    def compute(self, b):
        emb = self.backbone.image_embeds(b.images, b.image_hashes, self.batch_size)
        return self.mlp(emb).squeeze(-1).tolist()


class DirectionalCLIPScorer(Scorer):
    name = "dclip"
    needs = ("images", "prompts", "raw_images", "raw_prompts")

    def __init__(self, cfg: ScorerConfig):
        self.backbone = clip_backbone(cfg.clip_model, None, cfg.device, cfg.dtype)
        self.batch_size = cfg.batch_size
        self.key = f"dclip|{fingerprint(cfg.clip_model)}"

    def item_key(self, b, i):
        return f"{b.raw_hashes[i]}\x1f{b.image_hashes[i]}\x1f{b.raw_prompts[i]}\x1f{b.prompts[i]}"

    def compute(self, b):
        bb, bs = self.backbone, self.batch_size
        d_img = bb.image_embeds(b.images, b.image_hashes, bs) - bb.image_embeds(b.raw_images, b.raw_hashes, bs)
        d_txt = bb.text_embeds(b.prompts, bs) - bb.text_embeds(b.raw_prompts, bs)
        return F.cosine_similarity(d_img, d_txt, dim=-1, eps=1e-8).tolist()


class CIScorer(Scorer):
    """Content integrity of `predictions` vs the reference `prompts`; None where no prediction."""

    name = "ci"
    needs = ("prompts", "raw_prompts", "instructions", "predictions")
    key = "ci|v1"

    def __init__(self, cfg: ScorerConfig | None = None):
        pass

    def item_key(self, b, i):
        return "\x1f".join([b.raw_prompts[i], b.instructions[i] or "", b.prompts[i], b.predictions[i] or "\x00"])

    def compute(self, b):
        return [None if pred is None else ci_score(src, ins or "", ref, pred)
                for src, ins, ref, pred in zip(b.raw_prompts, b.instructions, b.prompts, b.predictions)]


SCORERS = {"pickscore": PickScorer, "aesthetic": AestheticScorer, "hps": HPSScorer,
           "clip_score": CLIPScorer, "dclip": DirectionalCLIPScorer, "ci": CIScorer}


# the ScorerConfig fields naming the weights each scorer loads
WEIGHTS = {"pickscore": ("pickscore_model", "pickscore_processor"), "aesthetic": ("clip_model", "aesthetic_weights"),
           "hps": ("hps_checkpoint",), "clip_score": ("clip_model",), "dclip": ("clip_model",), "ci": ()}


def require_weights(names, config: ScorerConfig) -> None:
    """ModelLoadError at once when a scorer's weights are neither downloaded nor reachable (offline),
    or when the CI score's NLTK data is missing: before any editing, rendering or scoring work."""
    from ..hub import OFFLINE_HINT, unavailable
    from .ci import _tagger, _wordnet

    if "ci" in names:
        _tagger(), _wordnet()

    missing = unavailable(dict.fromkeys(getattr(config, f) for n in names for f in WEIGHTS.get(n, ())))
    if missing:
        raise ModelLoadError(
            f"The {', '.join(n for n in names if WEIGHTS.get(n))} scorer weights cannot load: {OFFLINE_HINT} "
            f"({', '.join(missing)}). Offline, use the tiny scorers (--scorer-set tiny in `python -m diffchat "
            "score`, --scorers tiny in train.evaluate; random weights, numbers for testing only), or pass "
            "local files with --option KEY=PATH, or connect and try again.")


def load_scorer(name: str, config: ScorerConfig | None = None) -> Scorer:
    """Load one scorer by name (see SCORER_NAMES); backbones are shared between scorers."""
    if name not in SCORERS:
        raise InvalidInput(f"Unknown scorer '{name}'. Choose from: {', '.join(SCORER_NAMES)}.")
    return SCORERS[name](config or ScorerConfig())

