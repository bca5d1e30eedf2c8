"""Conversations and what a user does with them: settings, branches, presets, search, exports,
filing."""
