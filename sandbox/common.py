"""What every emulator shares: request log, fault injection, the /__sandbox/ admin routes, the app factory."""
from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    records: int | None
    duration_ms: float
    at: float

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class FaultRule:
    """A scripted or random failure for matching requests (path is a regex searched in the URL path)."""

    method: str | None = None
    path: str | None = None
    status: int | None = None  # respond with this status instead of handling
    code: str | None = None  # vendor error code for the body (the emulator builds the vendor's shape)
    message: str | None = None
    retry_after: float | None = None
    delay: float = 0.0  # seconds to sleep before answering (a timeout when longer than the client's)
    probability: float = 1.0
    times: int | None = None  # fire at most this many times (None: forever)
    nth: list[int] | None = None  # fire only on these 1-based matching calls
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or re.search(self.path, path) is not None


@dataclass
class RecordFault:
    """Per-record failure: writes touching one of these ids fail with `code` (e.g. UNABLE_TO_LOCK_ROW)."""

    record_ids: set[str]
    code: str
    message: str | None = None
    times: int | None = 1  # per record id
    fired: dict[str, int] = field(default_factory=dict)


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.record_faults: list[RecordFault] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.record_faults.clear()

    def add(self, spec: dict) -> None:
        with self._lock:
            if "record_ids" in spec:
                self.record_faults.append(RecordFault(record_ids=set(map(str, spec["record_ids"])), code=spec["code"],
                                                      message=spec.get("message"), times=spec.get("times", 1)))
            else:
                allowed = FaultRule.__dataclass_fields__.keys() - {"seen", "fired"}
                self.rules.append(FaultRule(**{k: v for k, v in spec.items() if k in allowed}))
            if "seed" in spec:
                self._rng.seed(spec["seed"])

    def request_fault(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.nth is not None and rule.seen not in rule.nth:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
            return None

    def record_fault(self, record_id: str) -> RecordFault | None:
        """The fault to apply to a write of this record now, if any (consumes one firing)."""
        with self._lock:
            for fault in self.record_faults:
                if record_id in fault.record_ids:
                    count = fault.fired.get(record_id, 0)
                    if fault.times is None or count < fault.times:
                        fault.fired[record_id] = count + 1
                        return fault
            return None

    def describe(self) -> dict:
        with self._lock:
            return {
                "rules": [{k: v for k, v in r.__dict__.items()} for r in self.rules],
                "record_faults": [{"record_ids": sorted(f.record_ids), "code": f.code, "times": f.times,
                                   "fired": f.fired} for f in self.record_faults],
            }


class Emulator:
    """Base of every vendor emulator: state under one lock, log, faults, admin routes.

    Subclasses implement reset(), dump(), seed(dataset), error_response(...), env(base_url) and
    add_routes(app). Handlers set `request.state.records = n` to log how many records a call carried.
    """

    name = "emulator"
    uses_tls = False

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.log = RequestLog()
        self.faults = Faults()
        self.settings: dict[str, Any] = {}
        self.reset()

    # -- to implement per vendor -------------------------------------------------------------------
    def reset(self) -> None:
        raise NotImplementedError

    def dump(self) -> dict:
        raise NotImplementedError

    def seed(self, dataset) -> dict:
        raise NotImplementedError

    def env(self, base_url: str) -> dict[str, str]:
        """Env vars a client needs to reach this emulator (base URL, credentials)."""
        raise NotImplementedError

    def add_routes(self, app: FastAPI) -> None:
        raise NotImplementedError

    def error_response(self, status: int, code: str | None, message: str | None,
                       retry_after: float | None) -> Response:
        """An injected fault in this vendor's documented error shape."""
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        return JSONResponse({"error": code or "fault", "message": message or "injected fault"},
                            status_code=status, headers=headers)

    def configure(self, settings: dict) -> None:
        """Change emulator settings at run time (rate limits, allowances, ...)."""
        with self.lock:
            self.settings.update(settings)

    # -- shared -------------------------------------------------------------------------------------
    def build_app(self) -> FastAPI:
        app = FastAPI(title=f"{self.name} sandbox", docs_url=None, redoc_url=None, openapi_url=None)
        emulator = self

        @app.middleware("http")
        async def log_and_inject(request: Request, call_next):
            started = time.perf_counter()
            path = request.url.path
            response = None
            if not path.startswith("/__sandbox"):
                rule = emulator.faults.request_fault(request.method, path)
                if rule is not None:
                    if rule.delay:
                        await asyncio.sleep(rule.delay)
                    if rule.status is not None:
                        response = emulator.error_response(rule.status, rule.code, rule.message, rule.retry_after)
            if response is None:
                response = await call_next(request)
            if not path.startswith("/__sandbox"):
                emulator.log.add(LoggedRequest(
                    method=request.method, path=path, query=request.url.query, status=response.status_code,
                    records=getattr(request.state, "records", None),
                    duration_ms=round((time.perf_counter() - started) * 1000, 3), at=time.time()))
            return response

        add_admin_routes(app, self)
        self.add_routes(app)
        return app


def add_admin_routes(app: FastAPI, emulator: Emulator) -> None:
    @app.get("/__sandbox/requests")
    def requests_log(since: float = 0.0):
        return [e.as_dict() for e in emulator.log.entries() if e.at >= since]

    @app.delete("/__sandbox/requests")
    def clear_log():
        emulator.log.clear()
        return {"cleared": True}

    @app.get("/__sandbox/state")
    def state():
        with emulator.lock:
            return emulator.dump()

    @app.post("/__sandbox/reset")
    def reset():
        with emulator.lock:
            emulator.reset()
        emulator.log.clear()
        emulator.faults.clear()
        return {"reset": True}

    @app.post("/__sandbox/seed")
    def seed(spec: dict):
        from sandbox.datasets import load_dataset

        dataset = load_dataset(spec)
        with emulator.lock:
            emulator.reset()
            counts = emulator.seed(dataset)
        emulator.log.clear()
        return {"seeded": counts}

    @app.get("/__sandbox/faults")
    def faults():
        return emulator.faults.describe()

    @app.post("/__sandbox/faults")
    def add_fault(spec: dict):
        emulator.faults.add(spec)
        return emulator.faults.describe()

    @app.delete("/__sandbox/faults")
    def clear_faults():
        emulator.faults.clear()
        return {"cleared": True}

    @app.post("/__sandbox/config")
    def configure(settings: dict):
        emulator.configure(settings)
        return emulator.settings
