"""The edges a browser talks to: JSON endpoints, pages, the conversation socket and its frames."""
