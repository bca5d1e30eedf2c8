"""Checking and preparing uploaded files (documents, images). Pure work on bytes: no ORM."""

from chatapp.errors import ChatappError


class UploadRejected(ChatappError):
    """The file cannot be used; the message says why in words a user understands.

    ``http_status`` is what the upload endpoint answers with (400, 413 or 415).
    """

    code = "upload_rejected"

    def __reduce__(self) -> tuple:
        # Pickled with its status (it crosses from a preparation's process: isolation.py).
        return type(self), (self.message, self.http_status)
