"""The one door to Anthropic: nothing outside this package imports ``anthropic``.

Everything here speaks to the rest of the app in our own types (``chatapp.claude.types``).
"""
