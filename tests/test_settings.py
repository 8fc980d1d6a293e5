"""Render settings: one dataclass, one check, the same message from the controller, the renderer,
a saved session and the chat tab's controls."""
import pytest

from diffchat.errors import InvalidInput
from diffchat.settings import NAMES, RenderSettings, check_setting
from diffchat.ui.chat_tab import Controls


def test_values_checked_and_normalised():
    s = RenderSettings(steps=4, guidance=3, width=512, height=768, strength=1)
    assert s.guidance == 3.0 and isinstance(s.guidance, float) and s.strength == 1.0
    assert s.as_dict() == {"steps": 4, "guidance": 3.0, "width": 512, "height": 768, "strength": 1.0}
    assert RenderSettings().as_dict() == {}
    assert NAMES == ("negative_prompt", "steps", "guidance", "width", "height", "strength")


@pytest.mark.parametrize("key, value, message", [
    ("steps", 0, "Steps"), ("steps", 2.5, "Steps"), ("steps", True, "Steps"), ("guidance", 51, "Guidance"),
    ("guidance", "7", "Guidance"), ("strength", 0, "Strength"), ("width", 100, "multiple of 8.*try 96"),
    ("height", 4096, "from 64 to 2048"), ("width", "512", "whole number"), ("negative_prompt", 3, "text"),
])
def test_bad_values_named(key, value, message):
    with pytest.raises(InvalidInput, match=message):
        check_setting(key, value)
    with pytest.raises(InvalidInput, match=message):
        RenderSettings(**{key: value})


def test_dict_round_trip_and_unknown_key():
    s = RenderSettings(steps=8, negative_prompt="blurry")
    assert RenderSettings.from_dict(s.as_dict()) == s
    assert s.updated(steps=None).as_dict() == {"negative_prompt": "blurry"}
    with pytest.raises(InvalidInput, match="Unknown setting.*sampler"):
        RenderSettings.from_dict({"sampler": "euler"})


def test_controls_read_the_tab():
    c = Controls.read("tiny", "fixed", 7.0, 4, 2, "", "768×512", 0.6)
    assert (c.backend, c.seed) == ("tiny", 7)
    assert c.settings == RenderSettings(steps=4, guidance=2.0, width=768, height=512, strength=0.6)
    assert Controls.read("tiny", "fixed", None, 0, None, None, "backend default", None).settings == RenderSettings()
    with pytest.raises(InvalidInput, match="Size"):
        Controls.read("tiny", "fixed", 0, 4, 2, "", "huge", 0.6)
    with pytest.raises(InvalidInput, match="multiple of 8"):
        Controls.read("tiny", "fixed", 0, 4, 2, "", "500×500", 0.6)
