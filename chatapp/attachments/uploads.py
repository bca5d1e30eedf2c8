"""Checking and preparing uploaded files (documents, images). Pure work on bytes: no ORM."""


class UploadRejected(Exception):
    """The file cannot be used; the message says why in words a user understands.

    ``status`` is the HTTP status the upload endpoint answers with (400, 413 or 415).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __reduce__(self) -> tuple:
        # Pickled with its status (it crosses from a preparation's process: isolation.py).
        return type(self), (self.message, self.status)
