"""Every failure a user can meet, with a message written for that user."""


class DiffChatError(Exception):
    """Base class: the message is shown to the user as is."""


class InvalidInput(DiffChatError):
    """The user's input (instruction, image, file, option) cannot be used."""


class ModelLoadError(DiffChatError):
    """A model (editor, pipeline, captioner, scorer) could not be loaded."""


class BackendError(DiffChatError):
    """An unknown or unusable text-to-image backend."""


class RenderError(DiffChatError):
    """Rendering an image failed."""


class EditorNetworkError(DiffChatError):
    """A remote editor endpoint could not be reached or answered badly."""


class SessionFileError(DiffChatError):
    """A saved session is missing, damaged or unsafe."""


class StorageError(DiffChatError):
    """The vote database cannot be opened or reached, or refused a write."""


def load_failure(kind: str, source, name: str, hint: str, exc: Exception, named: str = "") -> ModelLoadError:
    """The one message for a model that would not load: from a local folder, or by id (no network?)."""
    from pathlib import Path

    if Path(str(source)).is_dir():
        return ModelLoadError(f"Could not load the {kind} in '{source}': {exc}")
    return ModelLoadError(f"Could not load {named}'{name}' — no network or unknown id; {hint}. "
                          f"({exc.__class__.__name__})")
