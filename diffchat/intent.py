"""What a chat message means before it reaches the editor: a session command, or an edit that
needs a clarifying question first (after DialogPaint, which asks back when an instruction is
too vague to apply)."""
from __future__ import annotations

import re

from .errors import ModelLoadError

# -- commands -------------------------------------------------------------------------------

COMMANDS = {
    "undo": {
        "undo", "undo that", "undo it", "undo this", "undo last", "undo the last one",
        "undo the last change", "undo the last edit", "undo last change", "undo last edit",
        "forget that", "forget it", "forget this", "forget the last one", "forget the last change",
        "go back", "go back one", "go back one step", "go back a step", "step back", "back",
        "revert", "revert that", "revert it", "revert this", "revert the last change",
        "take that back", "take it back", "previous", "previous one", "previous image",
        "the previous one", "the one before",
    },
    "redo": {"redo", "redo that", "redo it", "redo this", "undo undo", "undo the undo"},
    "reset": {
        "start over", "start over again", "start again", "start from scratch", "start afresh",
        "reset", "reset it", "reset everything", "reset all", "clear", "clear all",
        "new image", "a new image", "new picture", "a new picture", "new chat", "new session",
        "begin again", "from scratch",
    },
}
_PHRASE_TO_COMMAND = {phrase: cmd for cmd, phrases in COMMANDS.items() for phrase in phrases}

# Words that may wrap a command without changing it ("ok, let's start over please").
_POLITE_PREFIX = re.compile(
    r"^(?:(?:ok|okay|oops|hmm+|no|nope|actually|well|so|hey|please|pls|just|now|then|"
    r"let's|lets|let us|can you|could you|would you|will you|i want to|i'd like to|"
    r"i would like to)\s+)+"
)
_POLITE_SUFFIX = re.compile(r"(?:\s+(?:please|pls|thanks|thank you|now|then|again))+$")


def _normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)  # quotes, not apostrophes inside words
    return " ".join(text.split())


def parse_command(message: str) -> str | None:
    """"undo", "redo" or "reset" when the whole message is that session command, else None."""
    if not isinstance(message, str):
        return None
    text = _normalise(message)
    if not text:
        return None
    if text in _PHRASE_TO_COMMAND:
        return _PHRASE_TO_COMMAND[text]
    core = _POLITE_SUFFIX.sub("", _POLITE_PREFIX.sub("", text)).strip()
    return _PHRASE_TO_COMMAND.get(core)


# -- clarifying questions -------------------------------------------------------------------

# Words that carry no concrete content in an edit instruction. An instruction made only of these
# ("make it better", "change something", "do it again?") cannot be applied as it stands.
_EDIT_VERBS = {
    "make", "makes", "making", "change", "changes", "changing", "edit", "edits", "modify",
    "alter", "adjust", "tweak", "update", "fix", "improve", "improved", "do", "does", "doing",
    "did", "done", "redo", "try", "turn", "transform", "rework", "rewrite", "render", "generate",
    "create", "draw", "paint", "show", "give", "put", "add", "remove", "replace", "swap", "let",
    "have", "get", "go", "want", "wanna", "like", "would", "could", "can", "will", "should",
    "shall", "need", "needs", "be", "is", "are", "was", "looks", "look", "see", "mix", "vary",
    "enhance", "keep", "go",
}
_PRONOUNS = {
    "it", "its", "it's", "this", "that", "that's", "these", "those", "them", "they", "me", "my",
    "mine", "i", "i'd", "i'm", "i'll", "you", "your", "you're", "we", "us", "our", "one", "ones",
    "something", "anything", "everything", "nothing", "someone", "somebody", "stuff", "thing",
    "things", "there", "here", "let's", "lets", "what", "whatever", "which", "how", "about",
}
_FILLER = {
    "a", "an", "the", "some", "any", "bit", "little", "lot", "lots", "much", "more", "less",
    "very", "really", "quite", "just", "maybe", "perhaps", "please", "pls", "plz", "now", "again",
    "also", "too", "else", "other", "another", "different", "differently", "better", "best",
    "nicer", "good", "great", "cool", "nice", "interesting", "awesome", "new", "way", "kind",
    "sort", "of", "to", "for", "and", "or", "but", "with", "instead", "ok", "okay", "hmm", "hm",
    "hmmm", "um", "umm", "uh", "er", "erm", "well", "so", "yes", "yeah", "yep", "no", "nah",
    "not", "don't", "dont", "idea", "ideas", "somehow", "version", "once", "picture", "image",
    "pic", "pics", "images", "pictures", "surprise", "random", "up", "choice", "wish", "whatever",
    "thanks", "thank", "cheers", "again", "same", "still", "all", "over", "on", "in", "at",
    "style", "looking", "slightly", "bit", "abit", "kinda", "sorta", "somewhat", "extra",
    "improvement", "improvements", "changes", "change", "edit", "edits", "tweaks", "please",
    "pretty", "prettier", "cooler", "fancier", "ideal", "perfect", "amazing", "beautiful",
}
_VAGUE = _EDIT_VERBS | _PRONOUNS | _FILLER
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def content_words(instruction: str) -> list[str]:
    """The words of an instruction left after dropping edit verbs, pronouns and filler."""
    text = instruction.lower().replace("\u2019", "'")
    return [w for w in _WORD.findall(text) if w not in _VAGUE]


_LEAD_IN = re.compile(
    r"^(?:(?:a|an|the|one|two|three|some|close-up|closeup|high quality|highly detailed|detailed|"
    r"realistic|beautiful|(?:a |an )?(?:photo|photograph|picture|image|painting|drawing|sketch|"
    r"illustration|portrait|render|rendering|oil painting|watercolor|close-up|closeup) of)\s+)+"
)
_PHRASE_END = re.compile(
    r"\b(?:in|on|at|with|under|over|near|by|from|during|of|inside|outside|behind|beside|next|"
    r"and|that|which|who|is|are|while|as|for|against|into|through|wearing|holding|sitting|"
    r"standing|running|walking|flying|lying|looking|made|covered|surrounded|parked)\b"
)


def _pos_tags(words: list[str]) -> list[str] | None:
    """NLTK's perceptron tags, or None when nltk or its tagger data is not installed (and cannot be fetched)."""
    try:
        import nltk

        from .nltkdata import ensure

        ensure("averaged_perceptron_tagger_eng")
        return [tag for _, tag in nltk.pos_tag(words)]
    except (ImportError, LookupError, OSError, ModelLoadError):
        return None


def prompt_subject(prompt: str) -> str | None:
    """The head noun of a prompt's first noun phrase ("a red car parked on a street" -> "car"):
    NLTK's tagger when its data is installed, else a small heuristic; None when nothing fits."""
    text = " ".join(prompt.lower().replace("\u2019", "'").split())
    text = re.split(r"[,;:.!?()|\[\]]", text, maxsplit=1)[0].strip()
    text = _LEAD_IN.sub("", text)
    words = [w for w in re.findall(r"[^\W_][\w'-]*", text) if not w.isdigit()]
    if not words:
        return None
    tags = _pos_tags(words)
    if tags:
        nouns = [i for i, tag in enumerate(tags) if tag.startswith("NN")]
        if nouns:
            end = nouns[0]
            while end + 1 < len(words) and tags[end + 1].startswith("NN"):
                end += 1
            return words[end]
    match = _PHRASE_END.search(text)
    phrase = text[: match.start()] if match and match.start() > 0 else text
    head = [w for w in re.findall(r"[^\W_][\w'-]*", phrase) if not w.isdigit()] or words
    for i, word in enumerate(head[1:], 1):  # "two dogs playing" -> "two dogs"
        if re.fullmatch(r"\w{2,}(?:ing|ed)", word):
            head = head[:i]
            break
    return head[-1]


def _quote(prompt: str, limit: int = 60) -> str:
    """The prompt, or its start cut at a word and ended with an ellipsis."""
    prompt = " ".join(prompt.split())
    if len(prompt) <= limit:
        return prompt
    cut = prompt[:limit]
    cut = cut.rsplit(" ", 1)[0] if prompt[limit] != " " and " " in cut else cut
    return cut.rstrip(" ,;:.") + "\u2026"


def clarifying_question(instruction: str, prompt: str | None = None) -> str | None:
    """A friendly question when `instruction` cannot be applied as it stands (empty, or nothing
    concrete left after dropping edit verbs, pronouns and filler); None when it can."""
    text = instruction if isinstance(instruction, str) else ""
    if text.strip() and content_words(text):
        return None
    subject = prompt_subject(prompt) if prompt and prompt.strip() else None
    if subject:
        return (
            f"What would you like to change about '{_quote(prompt)}'? For example: the style, "
            f"the time of day, or the {subject}. You could say 'as a watercolor painting', "
            f"'at sunset' or 'make the {subject} bigger'."
        )
    if not text.strip():
        return (
            "Your message is empty. What would you like to see? For example: 'make it snowy', "
            "'add a dog' or 'in the style of van gogh'."
        )
    return (
        "What would you like to change? For example: the style, the time of day, or the main "
        "subject. You could say 'make it snowy', 'add a dog' or 'in the style of van gogh'."
    )
