"""Structured request logs: one JSON line per request, with a request id echoed to the client."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("lianku.request")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, ensure_ascii=False, default=str)


def init_request_logging(app: Flask, level: str) -> None:
    logger = logging.getLogger("lianku")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False

    @app.before_request
    def _start():
        g.request_started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex

    @app.after_request
    def _log(response):
        started = g.get("request_started", time.perf_counter())
        fields = {
            "request_id": g.get("request_id"),
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "remote_addr": request.remote_addr,
            "user": g.get("user_name"),
        }
        log.info("request", extra={"fields": fields})
        response.headers["X-Request-ID"] = fields["request_id"] or ""
        return response
