"""rokuon (録音): self-hosted call recording and conversation intelligence."""

__version__ = "0.1.0"
