"""Runs the emulators on loopback (Salesforce over TLS with a local CA), in-process or as a background process."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from sandbox.common import Emulator
from segsync.envfile import write_env_file

HOST = "127.0.0.1"
VENDORS: dict[str, str] = {
    "salesforce": "sandbox.salesforce:SalesforceEmulator",
    "hubspot": "sandbox.hubspot:HubSpotEmulator",
    "stripe": "sandbox.stripe:StripeEmulator",
    "mailchimp": "sandbox.mailchimp:MailchimpEmulator",
    "klaviyo": "sandbox.klaviyo:KlaviyoEmulator",
}
DEFAULT_STATE_DIR = Path(".segsync") / "sandbox"


def create_emulator(vendor: str) -> Emulator:
    module_name, _, cls_name = VENDORS[vendor].partition(":")
    return getattr(importlib.import_module(module_name), cls_name)()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class TLSFiles:
    ca_path: Path
    cert_path: Path
    key_path: Path


def make_tls(state_dir: Path) -> TLSFiles:
    """A local CA and a server certificate for 127.0.0.1/localhost, written under state_dir."""
    import trustme

    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="segsync sandbox CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TLSFiles(state_dir / "ca.pem", state_dir / "server.pem", state_dir / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_path))
    cert.cert_chain_pems[0].write_to_path(str(files.cert_path))
    for extra in cert.cert_chain_pems[1:]:
        with open(files.cert_path, "ab") as fh:
            fh.write(extra.bytes())
    cert.private_key_pem.write_to_path(str(files.key_path))
    return files


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # threads cannot own signals
        pass


@dataclass
class RunningEmulator:
    vendor: str
    emulator: Emulator
    base_url: str
    server: _ThreadServer
    thread: threading.Thread

    def env(self) -> dict[str, str]:
        return self.emulator.env(self.base_url)


class Sandbox:
    """A set of running emulators; `env()` is what sources and destinations read."""

    def __init__(self, running: dict[str, RunningEmulator], tls: TLSFiles | None):
        self.running = running
        self.tls = tls

    def __getitem__(self, vendor: str) -> Emulator:
        return self.running[vendor].emulator

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in self.running.values():
            env.update(item.env())
        if self.tls is not None:
            env["SALESFORCE_CA_BUNDLE"] = str(self.tls.ca_path)
        return env

    def stop(self) -> None:
        for item in self.running.values():
            item.server.should_exit = True
        for item in self.running.values():
            item.thread.join(timeout=10)


def start(vendors: list[str] | None = None, *, state_dir: Path = DEFAULT_STATE_DIR,
          ports: dict[str, int] | None = None) -> Sandbox:
    """Start the given emulators (default: all) in threads of this process and wait until they listen."""
    vendors = vendors or list(VENDORS)
    ports = ports or {}
    tls = None
    running: dict[str, RunningEmulator] = {}
    for vendor in vendors:
        emulator = create_emulator(vendor)
        port = ports.get(vendor) or free_port()
        kwargs = {}
        scheme = "http"
        if emulator.uses_tls:
            tls = tls or make_tls(Path(state_dir))
            kwargs = {"ssl_certfile": str(tls.cert_path), "ssl_keyfile": str(tls.key_path)}
            scheme = "https"
        config = uvicorn.Config(emulator.build_app(), host=HOST, port=port, log_level="warning",
                                access_log=False, lifespan="off", timeout_keep_alive=30, **kwargs)
        server = _ThreadServer(config)
        thread = threading.Thread(target=server.run, name=f"sandbox-{vendor}", daemon=True)
        thread.start()
        running[vendor] = RunningEmulator(vendor, emulator, f"{scheme}://{HOST}:{port}", server, thread)
    deadline = time.monotonic() + 30
    for item in running.values():
        while not item.server.started:
            if time.monotonic() > deadline or not item.thread.is_alive():
                raise RuntimeError(f"sandbox emulator {item.vendor} did not start")
            time.sleep(0.02)
    return Sandbox(running, tls)


STATE_FILE_NAME = "sandbox.json"


def write_state_file(sandbox: Sandbox, path: Path) -> None:
    """Where each emulator listens (admin routes are at the root of each base URL), for `segsync sandbox`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"pid": os.getpid(), "vendors": {v: item.base_url for v, item in sandbox.running.items()},
             "ca_bundle": str(sandbox.tls.ca_path) if sandbox.tls else None}
    path.write_text(json.dumps(state, indent=2))


def main(argv: list[str] | None = None) -> None:
    """Foreground server for `segsync sandbox up` (which runs this detached)."""
    parser = argparse.ArgumentParser(description="Run the segsync sandbox emulators")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    parser.add_argument("--env-file", required=True)
    parser.add_argument("--ports", default="{}", help='JSON, e.g. {"salesforce": 8701}')
    parser.add_argument("--vendors", default=",".join(VENDORS), help="comma-separated emulators to start")
    args = parser.parse_args(argv)
    vendors = [v.strip() for v in args.vendors.split(",") if v.strip()]
    sandbox = start(vendors, state_dir=Path(args.state_dir), ports=json.loads(args.ports))
    write_env_file(sandbox.env(), Path(args.env_file))
    write_state_file(sandbox, Path(args.state_dir) / STATE_FILE_NAME)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps({"pid": os.getpid(), "env_file": args.env_file}), flush=True)
    stop.wait()
    sandbox.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
