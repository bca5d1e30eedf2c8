"""Running the app: the launcher behind `make run`, the server, the catalog sync."""
