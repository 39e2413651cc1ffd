"""`segsync sandbox up|down|seed|status`: run the local vendor emulators in the background and seed them."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from segsync.envfile import SANDBOX_ENV_FILE, parse_env_file, set_env_var
from segsync.redact import redact, register_env_secrets

STATE_DIR = Path(".segsync") / "sandbox"
PID_FILE = STATE_DIR / "server.pid"
LOG_FILE = STATE_DIR / "server.log"
STATE_FILE = STATE_DIR / "sandbox.json"
DEFAULT_PRODUCT_DB_URL = "sqlite:///.segsync/product.db"
START_TIMEOUT_SECONDS = 60
SEED_TIMEOUT_SECONDS = 300
SECRET_HINTS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "SESSION")

console = Console()
sandbox_app = typer.Typer(help="Local emulators of Salesforce, HubSpot, Stripe, Mailchimp and Klaviyo.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(sandbox_app, name="sandbox")


# -- process and state helpers ---------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_sandbox_server(pid: int) -> bool:
    """True when the process runs `sandbox.server` (guards against a stale pid file naming a reused pid)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return pid_alive(pid)  # no /proc (macOS): trust the pid file
    try:
        return b"sandbox.server" in cmdline.read_bytes()
    except OSError:
        return False


def running_pid() -> int | None:
    """The server's pid when its pid file names a live sandbox server."""
    if not PID_FILE.exists():
        return None
    try:
        pid = int(PID_FILE.read_text().strip())
    except ValueError:
        return None
    return pid if pid_alive(pid) and is_sandbox_server(pid) else None


def read_state() -> dict | None:
    if not STATE_FILE.exists():
        return None
    try:
        return json.loads(STATE_FILE.read_text())
    except json.JSONDecodeError:
        return None


def admin_client(state: dict) -> httpx.Client:
    """An HTTP client for the emulators' /__sandbox/ routes (trusts the sandbox CA, ignores proxy variables)."""
    verify = state.get("ca_bundle") or True
    return httpx.Client(verify=verify, trust_env=False, timeout=httpx.Timeout(10.0, read=SEED_TIMEOUT_SECONDS))


def probe(state: dict) -> dict[str, bool]:
    """Which emulators answer their admin route right now."""
    answers = {}
    with admin_client(state) as client:
        for vendor, base in state.get("vendors", {}).items():
            try:
                answers[vendor] = client.get(f"{base}/__sandbox/faults", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                answers[vendor] = False
    return answers


def masked_env(env: dict[str, str]) -> dict[str, str]:
    shown = {}
    for name, value in env.items():
        if any(hint in name.upper() for hint in SECRET_HINTS) and value:
            shown[name] = value[:4] + "…" + "*" * 4
        else:
            shown[name] = value
    return shown


def print_env(env: dict[str, str], env_file: Path) -> None:
    table = Table(title="Sandbox environment (secrets masked)")
    table.add_column("variable")
    table.add_column("value")
    for name, value in sorted(masked_env(env).items()):
        table.add_row(name, value)
    console.print(table)
    console.print(f"Written to [bold]{env_file}[/bold]; segsync commands read it automatically "
                  f"(or `set -a; . {env_file}; set +a` in a shell).")


# -- commands ----------------------------------------------------------------------------------------
@sandbox_app.command("up")
def up(vendors: str = typer.Option("", help="comma-separated emulators (default: all)"),
       timeout: float = typer.Option(START_TIMEOUT_SECONDS, help="seconds to wait for every emulator")) -> None:
    """Start the emulators in the background (idempotent) and write .segsync/sandbox.env."""
    env_file = SANDBOX_ENV_FILE
    pid = running_pid()
    state = read_state()
    if pid is not None and state is not None and state.get("pid") == pid and all(probe(state).values()):
        console.print(f"Sandbox already running (pid {pid}).")
        print_env(parse_env_file(env_file), env_file)
        return
    if pid is not None:
        _stop(pid)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    for stale in (STATE_FILE, env_file):
        stale.unlink(missing_ok=True)
    command = [sys.executable, "-m", "sandbox.server", "--env-file", str(env_file), "--state-dir", str(STATE_DIR)]
    if vendors:
        command += ["--vendors", vendors]
    with open(LOG_FILE, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=os.getcwd())
    PID_FILE.write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while True:
        state = read_state()
        if state is not None and env_file.exists() and all(probe(state).values()):
            break
        if process.poll() is not None:
            PID_FILE.unlink(missing_ok=True)
            tail = LOG_FILE.read_text(errors="replace").splitlines()[-15:]
            console.print(f"[red]The sandbox server exited with code {process.returncode}.[/red] "
                          f"Last lines of {LOG_FILE}:\n" + redact("\n".join(tail)))
            raise typer.Exit(1)
        if time.monotonic() > deadline:
            console.print(f"[red]The sandbox did not answer within {timeout:.0f} s[/red]; see {LOG_FILE}.")
            _stop(process.pid)
            raise typer.Exit(1)
        time.sleep(0.2)
    product_url = os.environ.get("PRODUCT_DB_URL") or DEFAULT_PRODUCT_DB_URL
    set_env_var(env_file, "PRODUCT_DB_URL", product_url)
    env = parse_env_file(env_file)
    register_env_secrets(env)
    console.print(f"Sandbox running (pid {process.pid}, log {LOG_FILE}): {', '.join(state['vendors'])}.")
    print_env(env, env_file)
    console.print("The emulators start empty: load data with `segsync sandbox seed`.")


def _stop(pid: int, grace_seconds: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        try:  # reap it when it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@sandbox_app.command("down")
def down() -> None:
    """Stop the background emulators."""
    pid = running_pid()
    if pid is None:
        console.print("Sandbox is not running.")
    else:
        _stop(pid)
        console.print(f"Sandbox stopped (pid {pid}).")
    for path in (PID_FILE, STATE_FILE, SANDBOX_ENV_FILE):
        path.unlink(missing_ok=True)


@sandbox_app.command("status")
def status() -> None:
    """Show whether the sandbox runs and which emulators answer."""
    pid = running_pid()
    state = read_state()
    if pid is None or state is None:
        console.print("Sandbox is not running (start it with `segsync sandbox up`).")
        raise typer.Exit(1)
    answers = probe(state)
    table = Table(title=f"Sandbox (pid {pid})")
    table.add_column("emulator")
    table.add_column("base URL")
    table.add_column("answers")
    for vendor, base in state["vendors"].items():
        table.add_row(vendor, base, "yes" if answers.get(vendor) else "[red]no[/red]")
    console.print(table)
    if not all(answers.values()):
        raise typer.Exit(1)


def seed_spec(synthetic: int | None, seed: int, today: str | None) -> dict:
    spec: dict = {"dataset": "synthetic", "accounts": synthetic, "seed": seed} if synthetic else {"dataset": "ravenstack"}
    if today:
        spec["today"] = today
    return spec


def seed_emulators(state: dict, spec: dict) -> dict[str, tuple[dict, float]]:
    """POST the spec to every emulator's /__sandbox/seed in parallel; per vendor: (counts, seconds)."""
    def one(vendor: str, base: str) -> tuple[str, dict, float]:
        started = time.perf_counter()
        with admin_client(state) as client:
            response = client.post(f"{base}/__sandbox/seed", json=spec)
        if response.status_code != 200:
            raise RuntimeError(f"seeding {vendor} at {base} failed: HTTP {response.status_code} "
                               f"{redact(response.text[:500])}")
        return vendor, response.json().get("seeded", {}), time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=max(1, len(state["vendors"]))) as pool:
        futures = [pool.submit(one, vendor, base) for vendor, base in state["vendors"].items()]
        return {vendor: (counts, seconds) for vendor, counts, seconds in (f.result() for f in futures)}


def seed_product_db(spec: dict, url: str) -> tuple[dict, float]:
    from sandbox.datasets import load_dataset, write_product_db

    started = time.perf_counter()
    counts = write_product_db(load_dataset(spec), url)
    return counts, time.perf_counter() - started


@sandbox_app.command("seed")
def seed(synthetic: int = typer.Option(0, "--synthetic", help="generate N synthetic accounts instead of RavenStack"),
         seed_value: int = typer.Option(7, "--seed", help="seed of the synthetic generator"),
         today: str = typer.Option("", help="YYYY-MM-DD the data's last day is shifted to (default: today UTC)"),
         ) -> None:
    """Load the seed dataset into every running emulator and write the product database."""
    state = read_state()
    if running_pid() is None or state is None:
        console.print("[red]Sandbox is not running[/red]; start it with `segsync sandbox up`.")
        raise typer.Exit(1)
    spec = seed_spec(synthetic or None, seed_value, today or None)
    env_file = SANDBOX_ENV_FILE
    env = parse_env_file(env_file) if env_file.exists() else {}
    product_url = os.environ.get("PRODUCT_DB_URL") or env.get("PRODUCT_DB_URL") or DEFAULT_PRODUCT_DB_URL
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        product_future = pool.submit(seed_product_db, spec, product_url)
        try:
            results = seed_emulators(state, spec)
        except (RuntimeError, httpx.HTTPError) as exc:
            console.print(f"[red]{redact(str(exc))}[/red]")
            raise typer.Exit(1) from exc
        product_counts, product_seconds = product_future.result()
    set_env_var(env_file, "PRODUCT_DB_URL", product_url)
    total = time.perf_counter() - started
    table = Table(title=f"Seeded {spec['dataset']}" + (f" ({synthetic} accounts, seed {seed_value})" if synthetic else ""))
    table.add_column("system")
    table.add_column("records")
    table.add_column("seconds", justify="right")
    for vendor, (counts, seconds) in results.items():
        table.add_row(vendor, ", ".join(f"{k}={v}" for k, v in counts.items()), f"{seconds:.2f}")
    table.add_row("product_db", ", ".join(f"{k}={v}" for k, v in product_counts.items()), f"{product_seconds:.2f}")
    console.print(table)
    console.print(f"Seeding took {total:.2f} s; product database at {redact(product_url)}.")
    provision_fields({**env, **os.environ})
    retire_warehouse()


def retire_warehouse() -> None:
    """New sandbox data is a new world: the warehouse's cursors and confirmed sync state describe the old one.

    Keeping them would make the next incremental run miss the new records and skip writes the sandboxes no
    longer have, so the warehouse is moved aside (not deleted).
    """
    from segsync import store

    path = store.warehouse_path()
    if path.exists():
        backup = path.with_name(path.name + ".before-seed")
        backup.unlink(missing_ok=True)
        path.rename(backup)
        wal = Path(str(path) + ".wal")
        if wal.exists():
            wal.rename(Path(str(backup) + ".wal"))
        console.print(f"The warehouse described the previous sandbox data; moved it to {backup}. "
                      "The next `segsync run` starts from a full load.")


def provision_fields(env: dict) -> None:
    """Create the custom fields segsync owns in the Salesforce sandbox, as an admin would in Setup."""
    from sandbox.provision import provision_sandbox
    from segsync.config import load_config
    from segsync.errors import InputError

    try:
        created = provision_sandbox(load_config(), env)
    except InputError as exc:
        console.print("[yellow]Salesforce fields not created: the project or segment files have problems:[/yellow]")
        for problem in exc.problems:
            console.print(f"  {problem}")
        return
    for obj, count in created.items():
        console.print(f"Salesforce {obj}: {count} segsync fields declared (see docs/sync.md).")
