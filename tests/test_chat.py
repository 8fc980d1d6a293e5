import numpy as np
import pytest
from PIL import Image

from diffchat.chat import ChatController, Reply, diff_words
from diffchat.errors import BackendError, EditorNetworkError, InvalidInput, RenderError
from diffchat.session import ChatSession


class RuleEditor:
    """A deterministic stand-in for PromptEditor (the controller is what is under test)."""

    name = "rules"

    def __init__(self, fail=None):
        self.calls, self.fail = [], fail

    def edit(self, prompt, instruction, **gen):
        self.calls.append((prompt, instruction))
        if self.fail:
            raise self.fail
        return f"{prompt}, {instruction.strip().lower()}"


class BrokenRenderer:
    def __init__(self, error):
        self.error, self.calls = error, 0

    def render(self, prompt, **kwargs):
        self.calls += 1
        raise self.error


def same(a, b) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(scope="module")
def renderer():
    from diffchat.render import Renderer

    return Renderer(device="cpu")


@pytest.fixture
def controller(renderer):
    return ChatController(RuleEditor(), renderer, seed=11, settings={"steps": 2})


def state(session: ChatSession):
    return session.to_dict(), {t: session.image_of(t) for t in session.turns}


# -- diff_words ----------------------------------------------------------------------------------

def test_diff_words():
    assert diff_words("a horse in a field", "a horse in a snowy field") == [
        ("a", None), ("horse", None), ("in", None), ("a", None), ("snowy", "+"), ("field", None)]
    assert diff_words("a red car", "a blue car") == [("a", None), ("red", "-"), ("blue", "+"), ("car", None)]
    assert diff_words("a cat", "a cat") == [("a", None), ("cat", None)]
    assert diff_words("", "a dog") == [("a", "+"), ("dog", "+")]
    assert diff_words("a dog", "") == [("a", "-"), ("dog", "-")]
    tokens = diff_words("a horse in a field, photo", "a zebra in a field at night, photo")
    assert " ".join(w for w, op in tokens if op != "-") == "a zebra in a field at night, photo"
    assert " ".join(w for w, op in tokens if op != "+") == "a horse in a field, photo"


# -- the chat ------------------------------------------------------------------------------------

def test_first_message_starts_then_edits(controller, renderer):
    steps = []
    reply = controller.handle("a horse in a field", progress=lambda i, n: steps.append((i, n)))
    assert isinstance(reply, Reply) and reply.kind == "start" and reply.prompt == "a horse in a field"
    assert steps == [(1, 2), (2, 2)]
    assert same(reply.image, renderer.render("a horse in a field", backend="tiny", seed=11, steps=2))
    assert controller.editor.calls == []  # the first message is rendered as is

    reply = controller.handle("make it snowy")
    assert reply.kind == "edit" and reply.prompt == "a horse in a field, make it snowy" == reply.text
    assert controller.editor.calls == [("a horse in a field", "make it snowy")]
    assert same(reply.image, renderer.render(reply.prompt, backend="tiny", seed=11, steps=2))
    assert same(reply.previous_image, controller.session.image_of(0))
    assert reply.turn.id == 1 and reply.turn.seed == 11 and reply.turn.settings == {"steps": 2}
    assert reply.turn.instruction == "make it snowy" and not reply.turn.manual


def test_commands(controller):
    controller.handle("a horse in a field")
    controller.handle("make it snowy")
    snowy = controller.session.current_image
    reply = controller.handle("Undo that!")
    assert reply.kind == "undo" and reply.prompt == "a horse in a field" and reply.turn.id == 0
    assert same(reply.previous_image, snowy) and same(reply.image, controller.session.image_of(0))
    reply = controller.handle("redo")
    assert reply.kind == "redo" and reply.prompt == "a horse in a field, make it snowy" and same(reply.image, snowy)
    assert controller.handle("redo").kind == "error"

    # a near-miss is an edit, not a command
    reply = controller.handle("go back to the beach with a dog")
    assert reply.kind == "edit" and reply.prompt.endswith("go back to the beach with a dog")

    controller.handle("go back")
    controller.handle("go back")
    reply = controller.handle("undo")
    assert reply.kind == "error" and reply.text == "Nothing to undo." and controller.session.head == 0

    old = controller.session
    reply = controller.handle("start over")
    assert reply.kind == "reset" and controller.session.is_empty and reply.image is None
    assert controller.session is not old and len(old) > 1 and old.current_image is not None  # left intact
    reply = controller.handle("a cat on a sofa")
    assert reply.kind == "start" and controller.session.current_prompt == "a cat on a sofa"


def test_clarifying_questions_leave_the_session_unchanged(controller):
    assert controller.handle("").kind == "clarify"  # empty chat: asks for a starting prompt
    controller.handle("a horse in a field")
    before = state(controller.session)
    for message in ["change it", "make it better?", "  ", "hmm"]:
        reply = controller.handle(message)
        assert reply.kind == "clarify" and "horse" in reply.text and reply.image is None
        assert reply.prompt == "a horse in a field"
    assert state(controller.session)[0] == before[0] and controller.editor.calls == []
    assert controller.handle("zebra instead").kind == "edit"


def test_failing_renderer_keeps_the_history(renderer):
    ctl = ChatController(RuleEditor(), renderer, settings={"steps": 2})
    ctl.handle("a horse in a field")
    ctl.handle("make it snowy")
    ctl.handle("undo")  # redo stack must survive too
    before = state(ctl.session)

    # the real renderer, asked for a backend it cannot load (no network here)
    ctl.set_backend("nobody/no-such-model")
    reply = ctl.handle("add a dog")
    assert reply.kind == "error" and "no-such-model" in reply.text and reply.image is None
    assert ctl.session.to_dict() == before[0]

    # a render that fails part-way
    ctl.set_backend("tiny")
    ctl.renderer = BrokenRenderer(RenderError("Rendering with 'tiny' failed: boom"))
    reply = ctl.handle("add a dog")
    assert (reply.kind, reply.text) == ("error", "Rendering with 'tiny' failed: boom")
    assert ctl.renderer.calls == 1 and ctl.session.to_dict() == before[0]
    assert ctl.handle("redo").prompt == "a horse in a field, make it snowy"


def test_failing_editor_keeps_the_history(renderer):
    ctl = ChatController(RuleEditor(), renderer, settings={"steps": 2})
    ctl.handle("a horse in a field")
    before = state(ctl.session)[0]
    ctl.editor = RuleEditor(fail=EditorNetworkError("Could not reach the editor endpoint."))
    reply = ctl.handle("add a dog")
    assert reply.kind == "error" and reply.text == "Could not reach the editor endpoint."
    assert ctl.session.to_dict() == before

    class Empty(RuleEditor):
        def edit(self, prompt, instruction, **gen):
            return "  "

    ctl.editor = Empty()
    reply = ctl.handle("add a dog")
    assert reply.kind == "error" and "empty prompt" in reply.text and ctl.session.to_dict() == before

    class Unchanged(RuleEditor):
        def edit(self, prompt, instruction, **gen):
            return prompt.upper() + "."

    ctl.editor, ctl.renderer = Unchanged(), BrokenRenderer(RenderError("must not render"))
    reply = ctl.handle("make it less grey")  # a no-op edit: said in the chat, nothing rendered or added
    assert reply.kind == "clarify" and "make it less grey" in reply.text and "another way" in reply.text
    assert reply.image is None and ctl.renderer.calls == 0 and ctl.session.to_dict() == before
    with pytest.raises(InvalidInput, match="another way"):  # the app's propose-then-render path too
        ctl.propose("make it less grey")
    assert ctl.session.to_dict() == before


def test_render_false_keeps_text_only(controller):
    controller.handle("a horse in a field", render=False)
    reply = controller.handle("make it snowy", render=False)
    assert reply.kind == "edit" and reply.image is None and reply.turn.image is None


def test_settings_and_seeds(controller, renderer):
    with pytest.raises(InvalidInput, match="Steps"):
        controller.update_settings(steps=0)
    with pytest.raises(InvalidInput, match="multiple of 8"):
        controller.update_settings(width=100)
    with pytest.raises(InvalidInput, match="Strength"):
        controller.update_settings(strength=1.5)
    with pytest.raises(InvalidInput, match="Unknown setting"):
        controller.update_settings(sampler="euler")
    with pytest.raises(InvalidInput, match="seed"):
        controller.set_seed(-3)
    with pytest.raises(BackendError, match="Unknown backend"):
        controller.set_backend("no such backend")
    assert controller.settings == {"steps": 2} and controller.backend == "tiny"

    controller.update_settings(guidance=2, negative_prompt="blurry", width=96, height=64)
    controller.handle("a horse in a field")
    first = controller.session.current
    assert first.settings == {"steps": 2, "guidance": 2.0, "negative_prompt": "blurry", "width": 96, "height": 64}
    assert controller.session.current_image.size == (96, 64)

    controller.update_settings(width=None, height=None)
    seed = controller.new_seed()
    assert controller.seed == seed
    reply = controller.handle("make it snowy")
    assert reply.turn.seed == seed and reply.turn.settings == {"steps": 2, "guidance": 2.0, "negative_prompt": "blurry"}
    expected = renderer.render(reply.prompt, backend="tiny", seed=seed, steps=2, guidance=2.0, negative_prompt="blurry")
    assert same(reply.image, expected)


def test_propose_then_apply_a_hand_edited_prompt(controller, renderer):
    assert controller.propose("a horse in a field") == "a horse in a field"  # empty chat: the start prompt
    controller.handle("a horse in a field")
    before = controller.session.to_dict()
    assert controller.propose("make it snowy") == "a horse in a field, make it snowy"
    assert controller.session.to_dict() == before
    with pytest.raises(InvalidInput, match="horse"):
        controller.propose("change it")
    with pytest.raises(InvalidInput, match="command"):
        controller.propose("undo")

    reply = controller.apply_prompt("  a horse in a snowy field, winter  ", "make it snowy")
    assert reply.kind == "edit" and reply.prompt == "a horse in a snowy field, winter"
    assert reply.turn.manual and reply.turn.instruction == "make it snowy"
    assert same(reply.image, renderer.render(reply.prompt, backend="tiny", seed=11, steps=2))
    assert controller.apply_prompt("   ", "x").kind == "error"
    assert controller.session.head == reply.turn.id


def test_start_from_image(controller, renderer, tmp_path):
    photo = Image.effect_noise((64, 64), 40).convert("RGB")
    captions = []

    def captioner(image):
        captions.append(image.size)
        return " a noisy grey picture "

    reply = controller.start_from_image(photo, captioner)
    assert reply.kind == "start" and reply.prompt == "a noisy grey picture" and captions == [(64, 64)]
    assert same(reply.image, photo) and same(controller.session.source_image, photo)

    controller.update_settings(strength=0.5)
    reply = controller.handle("make it snowy")
    expected = renderer.render(reply.prompt, backend="tiny", seed=11, steps=2, init_image=photo, strength=0.5)
    assert same(reply.image, expected)  # img2img from the user's image
    controller.session.save(tmp_path)
    assert ChatSession.load(tmp_path).source_name == "source.png"

    class Captioner:
        def caption(self, image):
            return "a grey square"

    reply = controller.start_from_image(photo, Captioner(), keep_as_source=False)
    assert reply.kind == "start" and controller.session.source_image is None
    assert same(reply.image, renderer.render("a grey square", backend="tiny", seed=11, steps=2))

    before = controller.session.to_dict()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    reply = controller.start_from_image(bad, Captioner())
    assert reply.kind == "error" and "Could not read" in reply.text
    assert controller.start_from_image(photo, lambda im: "  ").kind == "error"
    assert controller.session.to_dict() == before


def test_restore_branches_and_continues_a_saved_chat(renderer, tmp_path):
    ctl = ChatController(RuleEditor(), renderer, seed=4, settings={"steps": 2})
    ctl.handle("a horse in a field")
    ctl.handle("make it snowy")
    reply = ctl.restore(0)
    assert reply.kind == "restore" and reply.prompt == "a horse in a field"
    reply = ctl.handle("at night")
    assert reply.turn.parent == 0 and len(ctl.session) == 3
    assert ctl.restore(99).kind == "error"
    ctl.session.save(tmp_path)

    again = ChatController(RuleEditor(), renderer, ChatSession.load(tmp_path), seed=0)
    assert again.seed == 4 and again.settings == {"steps": 2} and again.backend == "tiny"
    reply = again.handle("add a dog")
    assert reply.turn.seed == 4 and reply.prompt == "a horse in a field, at night, add a dog"
    new = again.session.replay(RuleEditor(), renderer)
    assert [t.prompt_after for t in new.history()] == [t.prompt_after for t in again.session.history()]
    assert same(new.current_image, again.session.current_image)


def test_instruct_pix2pix_edits_the_previous_image(renderer):
    ctl = ChatController(RuleEditor(), renderer, backend="tiny-ip2p", settings={"steps": 2})
    reply = ctl.handle("a horse in a field")
    assert reply.kind == "error" and "edits an existing image" in reply.text and ctl.session.is_empty

    ctl.set_backend("tiny")
    first = ctl.handle("a horse in a field").image
    ctl.set_backend("tiny-ip2p")
    reply = ctl.handle("make it snowy")
    assert reply.kind == "edit" and reply.turn.backend == "tiny-ip2p"
    expected = renderer.render(reply.prompt, backend="tiny-ip2p", seed=0, steps=2, init_image=first,
                               instruction="make it snowy")
    assert same(reply.image, expected)
    new = ctl.session.replay(RuleEditor(), renderer)
    assert same(new.current_image, reply.image)


def test_real_prompt_editor_and_replay(tiny_lm_dir, renderer):
    """The real PromptEditor (a tiny random LM through from_pretrained, greedy) + the real tiny renderer."""
    from diffchat.editor import GenerationOptions, PromptEditor

    editor = PromptEditor.from_pretrained(tiny_lm_dir, device="cpu", options=GenerationOptions(max_new_tokens=6))
    ctl = ChatController(editor, renderer, seed=3, settings={"steps": 2})
    ctl.handle("a horse in a field")
    replies = [ctl.handle("make it snowy"), ctl.handle("add a dog")]
    assert [r.kind for r in replies] == ["edit", "edit"], [r.text for r in replies]
    new = ctl.session.replay(editor, renderer)
    assert [t.prompt_after for t in new.history()] == [t.prompt_after for t in ctl.session.history()]
    assert all(same(new.image_of(a), ctl.session.image_of(b)) for a, b in zip(new.turns, ctl.session.turns))


def test_start_from_image_with_the_real_tiny_captioner(renderer, tmp_path):
    from diffchat.caption import Captioner

    photo = tmp_path / "photo.png"
    Image.effect_noise((64, 64), 40).convert("RGB").save(photo)
    captioner = Captioner.from_pretrained("tiny", device="cpu")
    ctl = ChatController(RuleEditor(), renderer, settings={"steps": 2, "strength": 0.5})
    reply = ctl.start_from_image(photo, captioner)
    assert reply.kind == "start" and reply.prompt == captioner.caption(photo)
    reply = ctl.handle("make it snowy")
    assert reply.kind == "edit" and reply.image.size == (64, 64)


def test_long_messages_are_bounded_and_said(renderer):
    from diffchat.chat import MAX_INSTRUCTION_CHARS, MAX_PROMPT_CHARS

    editor = RuleEditor()
    controller = ChatController(editor, renderer, backend="tiny")
    text = "a red barn in a field " * 1000  # 22,000 characters
    reply = controller.handle(text)
    prompt = controller.session.current_prompt
    assert reply.kind == "start" and len(prompt) <= MAX_PROMPT_CHARS and text.startswith(prompt + " ")  # at a word
    assert f"{len(text.strip()):,} characters" in reply.text and f"first {len(prompt):,}" in reply.text
    reply = controller.handle("make it " + "very " * 400 + "snowy")
    assert reply.kind == "error" and f"at most {MAX_INSTRUCTION_CHARS}" in reply.text and editor.calls == []
    with pytest.raises(InvalidInput, match="instructions can be at most"):
        controller.propose("x" * (MAX_INSTRUCTION_CHARS + 1))
    assert len(controller.session) == 1
