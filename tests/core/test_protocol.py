"""The shared batch runner: maximal batches, per-record truth, retries, bisection on whole-batch rejection."""
from segsync.errors import RateLimited
from segsync.retry import RetryPolicy
from segsync.sync.protocol import BatchRejected, Change, Result, apply_changes, plan_batches


class FakeDestination:
    name = "fake"

    def __init__(self, *, bad=(), flaky=(), silent=(), rate_limit_first=0, maximum=3):
        self.bad, self.flaky, self.silent = set(bad), dict.fromkeys(flaky, 1), set(silent)
        self.rate_limit_first = rate_limit_first
        self.maximum = maximum
        self.calls = []

    def batch_key(self, change):
        return (change.target, change.op)

    def max_batch(self, key):
        return self.maximum

    def reauthenticate(self):
        pass

    def send(self, key, batch):
        self.calls.append([c.key for c in batch])
        if self.rate_limit_first:
            self.rate_limit_first -= 1
            raise RateLimited("429", retry_after=0)
        if any(c.key == "poison" for c in batch):
            raise BatchRejected("invalid input in batch", status=400, code="VALIDATION_ERROR")
        results = []
        for c in batch:
            if c.key in self.silent:
                continue
            if c.key in self.bad:
                results.append(Result(c.target, c.key, "rejected", error="bad value", code="INVALID"))
            elif self.flaky.get(c.key):
                self.flaky[c.key] -= 1
                results.append(Result(c.target, c.key, "retry", code="UNABLE_TO_LOCK_ROW"))
            else:
                results.append(Result(c.target, c.key, "synced"))
        return results


def changes(keys, target="list-a", op="add"):
    return [Change(target=target, key=k, op=op, new={"member": True}) for k in keys]


FAST = RetryPolicy(base_delay=0, jitter=0)


def test_batches_are_cut_at_the_maximum_per_key():
    dest = FakeDestination(maximum=3)
    batches = plan_batches(dest, changes("abcdefg") + changes("xy", op="remove"))
    assert [(k, [c.key for c in b]) for k, b in batches] == [
        (("list-a", "add"), ["a", "b", "c"]), (("list-a", "add"), ["d", "e", "f"]),
        (("list-a", "add"), ["g"]), (("list-a", "remove"), ["x", "y"])]


def test_every_change_gets_one_final_result():
    dest = FakeDestination(bad={"b"}, flaky={"c"}, maximum=2)
    stats = apply_changes(dest, changes("abcd"), policy=FAST)
    outcome = {r.key: r.outcome for r in stats.results}
    assert outcome == {"a": "synced", "b": "rejected", "c": "synced", "d": "synced"}
    assert stats.calls == 3  # [a,b], [c,d], then c again


def test_unconfirmed_records_are_never_marked_synced():
    dest = FakeDestination(silent={"b"})
    stats = apply_changes(dest, changes("ab"), policy=FAST, record_retries=0)
    assert {r.key: r.outcome for r in stats.results} == {"a": "synced", "b": "retry"}


def test_whole_batch_rejection_is_bisected_to_the_bad_record():
    dest = FakeDestination(maximum=4)
    stats = apply_changes(dest, changes(["a", "b", "poison", "d"]), policy=FAST)
    outcome = {r.key: r.outcome for r in stats.results}
    assert outcome == {"a": "synced", "b": "synced", "poison": "rejected", "d": "synced"}
    assert dest.calls == [["a", "b", "poison", "d"], ["a", "b"], ["poison", "d"], ["poison"], ["d"]]


def test_rate_limited_call_is_retried_not_lost():
    dest = FakeDestination(rate_limit_first=2)
    stats = apply_changes(dest, changes("ab"), policy=FAST)
    assert {r.key: r.outcome for r in stats.results} == {"a": "synced", "b": "synced"}
    assert stats.retries == 2 and stats.calls == 3


def test_retryable_failures_beyond_the_policy_stay_unconfirmed():
    dest = FakeDestination(rate_limit_first=100)
    stats = apply_changes(dest, changes("ab"), policy=RetryPolicy(max_attempts=2, base_delay=0, jitter=0),
                          record_retries=0)
    assert {r.outcome for r in stats.results} == {"retry"}
