"""Who may touch what, what input is accepted and how often, and what in a text deserves a second
look."""
