"""The HTTP API (``pledge serve``): FastAPI under /v1, calling the same use cases as the CLI."""
