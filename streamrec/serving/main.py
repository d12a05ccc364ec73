"""ASGI entry point for uvicorn: ``streamrec.serving.main:app``."""

from streamrec.serving.app import create_app

app = create_app()
