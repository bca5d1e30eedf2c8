"""Projects (issue 20): a team's instructions and documents, shared with users and groups as
"use" or "edit", and the conversations started in them. Who may do what (``access.py``), what
they do (``service.py``), and the JSON they see (``presenters.py``)."""
