"""Is a Hugging Face Hub model here, and can the Hub be reached? Answered in a moment, so a model
that cannot load offline fails at once with a hint instead of after the Hub client's retries."""
from __future__ import annotations

import os
import time
from pathlib import Path

_PROBE: dict = {}  # {"at": time, "ok": bool}: the last reachability probe
PROBE_TTL = 60.0  # seconds a probe result is reused


def is_hub_id(spec: str) -> bool:
    """'owner/name' (or 'owner/name/file...') that is not a local path."""
    spec = str(spec or "")
    parts = spec.split("/")
    return (len(parts) >= 2 and all(parts[:2]) and not spec.startswith((".", "/", "~"))
            and not Path(spec).expanduser().exists())


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE)


def is_cached(repo_id: str) -> bool:
    """True when the Hub repo `owner/name` (the first two parts of `repo_id`) has a downloaded snapshot."""
    owner, name = str(repo_id).split("/")[:2]
    snapshots = _hub_cache() / f"models--{owner}--{name}" / "snapshots"
    return snapshots.is_dir() and any(p.is_dir() and any(p.iterdir()) for p in snapshots.iterdir())


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub answers (any HTTP status counts); False at once with HF_HUB_OFFLINE=1.
    The answer is reused for a minute."""
    if offline_mode():
        return False
    now = time.monotonic()
    if _PROBE and now - _PROBE["at"] < PROBE_TTL:
        return _PROBE["ok"]
    import httpx
    from huggingface_hub import constants

    try:
        httpx.head(constants.ENDPOINT, timeout=timeout)
        ok = True
    except httpx.HTTPError:
        ok = False
    _PROBE.update(at=time.monotonic(), ok=ok)
    return ok


def unavailable(specs) -> list[str]:
    """The Hub ids among `specs` that are not downloaded while the Hub cannot be reached."""
    missing = [s for s in specs if s and is_hub_id(s) and not is_cached(s)]
    return missing if missing and not hub_reachable() else []


OFFLINE_HINT = "not downloaded, and the Hugging Face Hub cannot be reached (offline, or HF_HUB_OFFLINE=1)"
