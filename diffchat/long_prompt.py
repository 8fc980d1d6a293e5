"""Prompts longer than CLIP's 77 tokens: count them, and encode them in chunks for SD and SDXL.

Stable Diffusion's text encoders read 77 tokens (75 words-pieces plus start and end markers); the
pipelines cut the rest off. Long prompts are encoded the way the field does it (the `compel`
library): split into 75-token chunks at punctuation, each chunk wrapped in its own markers and
encoded alone, the chunk embeddings joined along the token axis. The text is taken literally
(compel's weighting syntax such as "(word)1.2" or "word++" is not applied to our prompts).
"""
from __future__ import annotations

from functools import lru_cache

import torch

CLIP_TOKENS = 75  # tokens of text one CLIP chunk holds (77 with the start and end markers)


@lru_cache(maxsize=1)
def _tokenizer():
    from .tiny import clip_tokenizer

    return clip_tokenizer()


def clip_token_count(text: str, tokenizer=None) -> int:
    """CLIP tokens in `text`, without the start and end markers (the SD 1.5 / SDXL tokenizer)."""
    tokenizer = tokenizer or _tokenizer()
    return len(tokenizer(text or "", add_special_tokens=False, truncation=False, verbose=False)["input_ids"])


def is_long(text: str, tokenizer=None) -> bool:
    return clip_token_count(text, tokenizer) > CLIP_TOKENS


def long_prompt_note(text: str) -> str | None:
    """What to tell the user about a prompt longer than one CLIP chunk; None when it fits."""
    n = clip_token_count(text)
    if n <= CLIP_TOKENS:
        return None
    chunks = -(-n // CLIP_TOKENS)
    return (f"This prompt is long ({n} CLIP tokens; the image model reads {CLIP_TOKENS} at a time), so it is "
            f"encoded in {chunks} chunks: all of it counts, but words far from the start weigh less.")


def _literal_compel():
    from compel import Compel
    from compel.prompt_parser import Conjunction, FlattenedPrompt, Fragment

    class LiteralCompel(Compel):
        """Compel without its prompt syntax: the whole text is one fragment of weight 1."""

        @classmethod
        def parse_prompt_string(cls, prompt_string: str):
            return Conjunction([FlattenedPrompt([Fragment(prompt_string, 1.0)])])

    return LiteralCompel


def _encoders(pipe) -> list:
    """One literal Compel per text encoder of `pipe`, built once and kept on the pipeline."""
    cached = getattr(pipe, "_diffchat_compel", None)
    if cached is not None:
        return cached
    from compel import ReturnedEmbeddingsType

    literal = _literal_compel()
    if getattr(pipe, "text_encoder_2", None) is not None:  # SDXL: penultimate layers of both, pooled from the 2nd
        kind = ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED
        encoders = [literal(tokenizer=pipe.tokenizer, text_encoder=pipe.text_encoder, returned_embeddings_type=kind,
                            truncate_long_prompts=False),
                    literal(tokenizer=pipe.tokenizer_2, text_encoder=pipe.text_encoder_2,
                            returned_embeddings_type=kind, truncate_long_prompts=False, requires_pooled=True)]
    else:
        encoders = [literal(tokenizer=pipe.tokenizer, text_encoder=pipe.text_encoder, truncate_long_prompts=False)]
    pipe._diffchat_compel = encoders
    return encoders


@torch.no_grad()
def encode_long(pipe, prompt: str, negative_prompt: str = "") -> dict:
    """`prompt_embeds` / `negative_prompt_embeds` (+ the pooled ones for SDXL) for `pipe(...)`, with the
    prompt and the negative prompt encoded in 75-token chunks and padded to the same length."""
    texts = [prompt, negative_prompt or ""]
    encoders = _encoders(pipe)
    if len(encoders) == 1:
        embeds = encoders[0](texts)
        return dict(prompt_embeds=embeds[:1], negative_prompt_embeds=embeds[1:])
    left = encoders[0](texts)
    right, pooled = encoders[1](texts)
    if left.shape[1] != right.shape[1]:  # the two tokenizers chunked differently: pad the shorter
        left, right = _pad_tokens(encoders[0], left, right.shape[1]), _pad_tokens(encoders[1], right, left.shape[1])
    embeds = torch.cat([left, right], dim=-1)
    return dict(prompt_embeds=embeds[:1], negative_prompt_embeds=embeds[1:],
                pooled_prompt_embeds=pooled[:1], negative_pooled_prompt_embeds=pooled[1:])


def _pad_tokens(encoder, embeds: torch.Tensor, length: int) -> torch.Tensor:
    """`embeds` extended to `length` tokens with the encoder's empty-prompt chunks, as compel pads."""
    while embeds.shape[1] < length:
        empty = encoder([""])
        empty = empty[0] if isinstance(empty, tuple) else empty
        embeds = torch.cat([embeds, empty.repeat(embeds.shape[0], 1, 1)], dim=1)
    return embeds
