"""Settings, read at the edge into the frozen policies the domain packages take.

The domain packages (``replies``, ``attachments``, ``batches``, ...) never read
``django.conf.settings``: each declares the knobs it needs as a frozen dataclass in its own
``policy.py`` and takes one as an argument. The modules here build those objects from settings,
and only the edges (``web``, ``runtime``, ``accounts``, management commands, the admin) call them,
per request or per connection, so a changed setting (or a test's ``settings`` fixture) takes
effect on the next call. The check lives in ``pyproject.toml``'s import-linter contracts.
"""
