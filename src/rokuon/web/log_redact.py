"""Secrets in URLs stay out of the logs: the disclosure download link carries its
credential in the path (/requests/download/<token>); the access log shows it redacted."""

from __future__ import annotations

import logging
import re

_SECRET_PATHS = re.compile(r"(/requests/download/)[^/?\s\"]+")


def redact(text: str) -> str:
    return _SECRET_PATHS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """For uvicorn's access log (args: client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
