"""Image and prompt scores: PickScore, aesthetic, HPS v2.1, CLIP score, directional CLIP, CI.

Light to import: the torch-based parts load on first use (`diffchat.scoring.ScoreSuite`).
"""
from importlib import import_module

_LAZY = {
    "ci_score": "ci", "keywords": "ci", "keyword_match": "ci",
    "SCORER_NAMES": "scorers", "ScorerConfig": "scorers", "Batch": "scorers", "load_scorer": "scorers",
    "ScoreSuite": "suite", "ScoreCache": "cache", "tiny_scorer_config": "tiny",
}
__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
