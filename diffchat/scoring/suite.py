"""ScoreSuite: several scores for the same items, batched, cached, with a progress bar."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from .cache import ScoreCache, cache_key
from .scorers import SCORER_NAMES, Batch, Scorer, ScorerConfig, load_scorer, require_weights


class ScoreSuite:
    """`ScoreSuite(["pickscore", "aesthetic"], config, cache="scores.sqlite").score(images, prompts)`.

    Scores found in the cache (by scorer identity, image content hash and text) are not recomputed.
    """

    def __init__(self, names=SCORER_NAMES, config: ScorerConfig | None = None,
                 cache: ScoreCache | str | Path | None = None):
        self.config = config or ScorerConfig()
        require_weights(names, self.config)  # offline without the weights: fail now, with the hint
        self.scorers: dict[str, Scorer] = {n: load_scorer(n, self.config) for n in names}
        self.cache = cache if isinstance(cache, ScoreCache) else ScoreCache(cache)

    def clear_memos(self) -> None:
        """Forget the backbones' memoised embeddings (for timing)."""
        for s in self.scorers.values():
            if hasattr(s, "backbone"):
                s.backbone.clear_memo()

    def score(self, images=None, prompts=None, *, raw_images=None, raw_prompts=None, instructions=None,
              predictions=None, batch_size: int | None = None, progress: bool | Callable = True,
              use_cache: bool = True) -> dict[str, list[float | None]]:
        """Every score for n items; a scorer whose inputs are not given is skipped.

        `prompts`: the text each image is judged against; `raw_*`: the image/prompt before the edit
        (directional CLIP, CI); `predictions`: the prompt a method produced (CI); `progress`: a
        tqdm bar (True) or a callback(done, total)."""
        b = Batch(images=images, prompts=prompts, raw_images=raw_images, raw_prompts=raw_prompts,
                  instructions=instructions, predictions=predictions)
        bs = batch_size or self.config.batch_size
        active = {n: s for n, s in self.scorers.items() if all(getattr(b, f) is not None for f in s.needs)}
        out: dict[str, list[float | None]] = {n: [None] * len(b) for n in active}
        jobs = []
        for name, s in active.items():
            keys = [s.item_key(b, i) for i in range(len(b))]
            ckeys = [cache_key(s.key, k) for k in keys]
            found = self.cache.get_many(ckeys) if use_cache else {}
            for i, ck in enumerate(ckeys):
                if ck in found:
                    out[name][i] = found[ck]
            todo = [i for i, ck in enumerate(ckeys) if ck not in found]
            jobs.append((name, s, ckeys, todo))
        total = sum(len(t) for *_, t in jobs)
        bar = tqdm(total=total, desc="scoring", unit="img", disable=not progress or callable(progress) or not total)
        done = 0
        for name, s, ckeys, todo in jobs:
            for j in range(0, len(todo), bs):
                idx = todo[j : j + bs]
                values = s.compute(b.subset(idx))
                new = {}
                for i, v in zip(idx, values):
                    out[name][i] = v
                    if v is not None:
                        new[ckeys[i]] = float(v)
                if use_cache:
                    self.cache.put_many(new)
                done += len(idx)
                bar.update(len(idx))
                if callable(progress):
                    progress(done, total)
        bar.close()
        return out
