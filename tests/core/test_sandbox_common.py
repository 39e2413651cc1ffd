"""The emulator framework every vendor shares: request log, scripted/random faults, admin routes."""
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from sandbox.common import Emulator, Faults


class EchoEmulator(Emulator):
    name = "echo"

    def reset(self):
        self.items = {}

    def dump(self):
        return {"items": self.items}

    def seed(self, dataset):
        return {}

    def env(self, base_url):
        return {"ECHO_URL": base_url}

    def add_routes(self, app: FastAPI):
        @app.post("/items")
        def add(request: Request, body: dict):
            request.state.records = len(body["ids"])
            for item in body["ids"]:
                self.items[item] = True
            return {"ok": len(body["ids"])}


def test_request_log_counts_records_and_skips_admin_paths():
    emulator = EchoEmulator()
    client = TestClient(emulator.build_app())
    assert client.post("/items", json={"ids": ["a", "b"]}).status_code == 200
    client.get("/__sandbox/state")
    log = client.get("/__sandbox/requests").json()
    assert [(e["method"], e["path"], e["status"], e["records"]) for e in log] == [("POST", "/items", 200, 2)]


def test_scripted_fault_fires_on_chosen_calls_only():
    emulator = EchoEmulator()
    client = TestClient(emulator.build_app())
    client.post("/__sandbox/faults", json={"method": "POST", "path": "^/items$", "status": 429,
                                           "retry_after": 3, "nth": [2]})
    statuses = [client.post("/items", json={"ids": [str(i)]}).status_code for i in range(3)]
    assert statuses == [200, 429, 200]
    second = [e for e in client.get("/__sandbox/requests").json()][1]
    assert second["status"] == 429
    assert client.get("/__sandbox/state").json() == {"items": {"0": True, "2": True}}


def test_fault_retry_after_header_and_reset():
    emulator = EchoEmulator()
    client = TestClient(emulator.build_app())
    client.post("/__sandbox/faults", json={"status": 503, "times": 1, "retry_after": 2})
    response = client.post("/items", json={"ids": ["x"]})
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert client.post("/items", json={"ids": ["x"]}).status_code == 200
    client.post("/__sandbox/reset")
    assert client.get("/__sandbox/state").json() == {"items": {}}
    assert client.get("/__sandbox/requests").json() == []


def test_random_faults_are_reproducible_for_a_seed():
    def fired(seed):
        faults = Faults()
        faults.add({"status": 500, "probability": 0.3, "seed": seed})
        return [faults.request_fault("GET", "/x") is not None for _ in range(50)]

    assert fired(7) == fired(7)
    assert 5 <= sum(fired(7)) <= 25


def test_record_faults_fire_per_record_the_given_number_of_times():
    faults = Faults()
    faults.add({"record_ids": ["001A"], "code": "UNABLE_TO_LOCK_ROW", "times": 2})
    hits = [faults.record_fault("001A") for _ in range(3)]
    assert [h.code if h else None for h in hits] == ["UNABLE_TO_LOCK_ROW", "UNABLE_TO_LOCK_ROW", None]
    assert faults.record_fault("001B") is None
