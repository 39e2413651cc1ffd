"""The segment benchmark stays runnable: at a small scale its compiled and hand-written queries agree."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_at_small_scale(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import segments as bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    monkeypatch.setattr(sys, "argv", ["segments.py", "--accounts", "20000", "--runs", "1"])
    bench.main()  # asserts that both queries give the same 50 member counts
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "generated 20,000 accounts in " + lines[1].split(" in ")[1]
    assert lines[2].startswith("50 segments, one pass (median of 1 interleaved runs):  compiled ")
    assert lines[4].startswith("membership change between two runs: ")
