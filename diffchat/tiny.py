"""Tiny randomly initialised pipelines, built from configs, for tests and offline demos.

Each builder saves a real diffusers / transformers folder with `save_pretrained`, so it loads back
through the same `from_pretrained` code paths as the real models. Builds use fixed seeds, so two
builds are identical; a 64x64, 4-step render takes a fraction of a second on CPU.
"""
from __future__ import annotations

import gzip
import importlib.util
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

from .errors import ModelLoadError
from .paths import cache_dir

TINY_SIZE = 64  # default render size (pixels) of the tiny pipelines
TINY_VERSION = 1  # bump when a builder changes, so cached folders are rebuilt


@contextmanager
def _seeded(seed: int):
    """Seed torch inside the block without disturbing the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# ---------------------------------------------------------------------------------------------
# CLIP tokenizer: the real CLIP BPE, built offline from the vocabulary file open_clip ships


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def clip_tokenizer():
    """The CLIP ViT tokenizer (49408 tokens, model_max_length=77) from open_clip's BPE file."""
    from transformers import CLIPTokenizer

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("open_clip is not installed; it ships the CLIP vocabulary. Run: pip install open-clip-torch")
    bpe = Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(line.split()) for line in lines]
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _clip_text_config(projection_dim: int = 32):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=49408, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, projection_dim=projection_dim, hidden_act="quick_gelu",
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
    )


# ---------------------------------------------------------------------------------------------
# diffusers pipelines


def _vae():
    from diffusers import AutoencoderKL

    # four blocks: the real 8x downsampling, so latents are (size / 8)^2 like SD's
    return AutoencoderKL(
        block_out_channels=(32, 32, 64, 64), layers_per_block=1, latent_channels=4, sample_size=TINY_SIZE, force_upcast=False,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    )


def _scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="trailing", steps_offset=1,
    )


def _unet(in_channels: int = 4, sdxl: bool = False):
    from diffusers import UNet2DConditionModel

    kw = dict(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=TINY_SIZE // 8,
        in_channels=in_channels, out_channels=4, attention_head_dim=(2, 4),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    )
    if sdxl:  # two text encoders (32 + 32) and the size/crop "time ids" conditioning (6 x 8 + pooled 32)
        kw.update(cross_attention_dim=64, addition_embed_type="text_time", addition_time_embed_dim=8,
                  projection_class_embeddings_input_dim=6 * 8 + 32, use_linear_projection=True)
    else:
        kw.update(cross_attention_dim=32)
    return UNet2DConditionModel(**kw)


def _sd_components(in_channels: int = 4) -> dict:
    from transformers import CLIPTextModel

    with _seeded(0):
        unet = _unet(in_channels)
    with _seeded(1):
        vae = _vae()
    with _seeded(2):
        text_encoder = CLIPTextModel(_clip_text_config())
    return dict(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(), scheduler=_scheduler(),
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def build_tiny_sd(folder: str | Path) -> Path:
    """A tiny SD-1.5-like StableDiffusionPipeline, saved to `folder`."""
    from diffusers import StableDiffusionPipeline

    folder = Path(folder)
    StableDiffusionPipeline(**_sd_components(), image_encoder=None).save_pretrained(folder)
    return folder


def build_tiny_ip2p(folder: str | Path) -> Path:
    """A tiny StableDiffusionInstructPix2PixPipeline (UNet with 8 input channels), saved to `folder`."""
    from diffusers import StableDiffusionInstructPix2PixPipeline

    folder = Path(folder)
    StableDiffusionInstructPix2PixPipeline(**_sd_components(in_channels=8)).save_pretrained(folder)
    return folder


def build_tiny_sdxl(folder: str | Path) -> Path:
    """A tiny SDXL-like StableDiffusionXLPipeline (two text encoders, text_time conditioning), saved."""
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    with _seeded(0):
        unet = _unet(sdxl=True)
    with _seeded(1):
        vae = _vae()
    with _seeded(2):
        text_encoder = CLIPTextModel(_clip_text_config())
    with _seeded(3):
        text_encoder_2 = CLIPTextModelWithProjection(_clip_text_config(projection_dim=32))
    tokenizer = clip_tokenizer()
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=_scheduler(),
    )
    pipe.save_pretrained(folder)
    return folder


# ---------------------------------------------------------------------------------------------
# captioner

_CAPTION_WORDS = (
    "a an the of on in with and at by photo picture painting drawing portrait landscape close up view "
    "man woman person child people dog cat bird horse car house tree flower city street mountain river "
    "sea beach sky sun moon night day red blue green yellow white black small large old young sitting "
    "standing walking table room window road field forest snow water cloud"
).split()


def build_tiny_captioner(folder: str | Path) -> Path:
    """A tiny random BLIP captioning model + BlipProcessor (BERT word-piece tokenizer), saved."""
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    folder = Path(folder)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + _CAPTION_WORDS
    tokens += [c for c in letters if c not in tokens] + ["##" + c for c in letters] + list(".,!?'-")
    vocab = {t: i for i, t in enumerate(tokens)}
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]", model_max_length=64)
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer,
    )
    config = BlipConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=64, encoder_hidden_size=32,
                         bos_token_id=vocab["[DEC]"], eos_token_id=vocab["[SEP]"], sep_token_id=vocab["[SEP]"],
                         pad_token_id=vocab["[PAD]"]),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8),
        projection_dim=32,
    )
    with _seeded(4):
        model = BlipForConditionalGeneration(config)
    model.generation_config.max_new_tokens = 12
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# ---------------------------------------------------------------------------------------------

BUILDERS = {
    "tiny": build_tiny_sd,
    "tiny-sdxl": build_tiny_sdxl,
    "tiny-ip2p": build_tiny_ip2p,
    "tiny-captioner": build_tiny_captioner,
}


def ensure_tiny(name: str) -> Path:
    """Build the tiny model `name` once into `cache_dir()/tiny/` and return its folder."""
    if name not in BUILDERS:
        raise ModelLoadError(f"Unknown tiny model '{name}'. Known: {', '.join(BUILDERS)}.")
    folder = cache_dir() / "tiny" / f"{name}-v{TINY_VERSION}"
    if (folder / ".complete").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target and rename, so a half-built folder is never seen by another process
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        BUILDERS[name](tmp)
        (tmp / ".complete").touch()
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first, or a stale incomplete folder is in the way
            if not (folder / ".complete").exists():
                shutil.rmtree(folder, ignore_errors=True)
                tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
