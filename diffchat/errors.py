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
