"""Shared test setup: offline Hugging Face Hub, NLTK data from ../shared."""
import os
from pathlib import Path

os.environ.setdefault("NLTK_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "nltk_data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def test_cache(tmp_path_factory):
    """What tests cache (editor conversions, ...) goes to a temporary folder; the dequantised embedded
    base model is shared with the user's cache, so it is built at most once."""
    from diffchat.editor.embedded import embedded_base_folder

    real = embedded_base_folder()
    tmp = tmp_path_factory.mktemp("cache")
    (tmp / "models").mkdir()
    (tmp / "models" / real.name).symlink_to(real, target_is_directory=True)
    os.environ["DIFFCHAT_CACHE"] = str(tmp)
    return tmp


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """A tiny random Llama-style causal LM with the embedded model's real tokenizer, saved to a folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from diffchat.editor.embedded import embedded_base_folder

    tokenizer = AutoTokenizer.from_pretrained(embedded_base_folder())
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-lm")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server (tests/pg_cluster.py) for the whole run; skipped with the reason
    where none can start."""
    from pg_cluster import PostgresCluster

    reason = PostgresCluster.unavailable()
    if reason:
        pytest.skip(reason)
    with PostgresCluster() as pg:
        yield pg
