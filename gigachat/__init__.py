"""GigaChat Bridge for 1C: a local bridge between 1C:Enterprise and GigaChat."""

__version__ = "0.1.0"
APP_NAME = "GigaChatBridge"
