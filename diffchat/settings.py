"""Render settings: one dataclass, and the one place that checks them.

The chat controller, the renderer, a saved session and the chat tab's controls all go through
`RenderSettings` (or `check_setting` for one value), so a bad value gets the same clear message
wherever it comes from. None always means "the backend's default". The seed and the backend are
not render settings: every turn keeps them as fields of their own.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .errors import InvalidInput

MIN_SIZE, MAX_SIZE = 64, 2048
MAX_STEPS = 500
MAX_GUIDANCE = 50


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_setting(key: str, value):
    """One render setting, checked (and guidance/strength made floats); None passes as None."""
    if value is None:
        return None
    if key == "steps" and not (_number(value) and isinstance(value, int) and 1 <= value <= MAX_STEPS):
        raise InvalidInput(f"Steps must be a whole number from 1 to {MAX_STEPS}, not {value!r}.")
    if key == "guidance" and not (_number(value) and 0 <= value <= MAX_GUIDANCE):
        raise InvalidInput(f"Guidance must be a number from 0 to {MAX_GUIDANCE}, not {value!r}.")
    if key == "strength" and not (_number(value) and 0 < value <= 1):
        raise InvalidInput(f"Strength must be above 0 and at most 1, not {value!r}.")
    if key in ("width", "height"):
        if not (_number(value) and isinstance(value, int)):
            raise InvalidInput(f"The {key} must be a whole number of pixels, not {value!r}.")
        if value % 8:
            raise InvalidInput(f"The {key} must be a multiple of 8 (got {value}); "
                               f"try {max(MIN_SIZE, value // 8 * 8)}.")
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise InvalidInput(f"The {key} must be from {MIN_SIZE} to {MAX_SIZE} pixels, not {value}.")
    if key == "negative_prompt" and not isinstance(value, str):
        raise InvalidInput("The negative prompt must be text.")
    return float(value) if key in ("guidance", "strength") else value


@dataclass(frozen=True)
class RenderSettings:
    """What a turn is rendered with besides its prompt, seed and backend; None: the backend's default."""
    negative_prompt: str | None = None
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    strength: float | None = None

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, check_setting(f.name, getattr(self, f.name)))

    @classmethod
    def from_dict(cls, settings: dict | None) -> "RenderSettings":
        """From a dict such as a saved turn's settings; an unknown key is refused by name."""
        settings = dict(settings or {})
        unknown = set(settings) - set(NAMES)
        if unknown:
            raise InvalidInput(f"Unknown setting(s) {sorted(unknown)}; use {', '.join(NAMES)}.")
        return cls(**settings)

    def as_dict(self) -> dict:
        """The settings that are set (not None): what a turn stores and Renderer.render takes."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def updated(self, **changes) -> "RenderSettings":
        """These settings with `changes` applied (None puts one back to the backend's default)."""
        return RenderSettings.from_dict({**asdict(self), **changes})


NAMES = tuple(f.name for f in fields(RenderSettings))
