"""`gtnbench doctor` passes on a CPU, explains each check, and fails loudly when a check fails."""

import json

from gtnbench.cli import main
from gtnbench.perf import doctor


def test_doctor_passes_on_the_cpu_and_says_what_it_measured(capsys, tmp_path):
    assert main(["doctor", "--device", "cpu", "--out", str(tmp_path / "doctor.json")]) == 0
    out = capsys.readouterr().out
    for name in ("precision probe", "meta-gradient", "plain training", "sync audit", "throughput", "environment"):
        assert name in out
    assert "all checks passed" in out
    saved = json.loads((tmp_path / "doctor.json").read_text())
    assert saved["passed"] and saved["environment"]["precision"]["policy"] == "ieee"
    assert {
        "meta-gradient: float32 on the device vs CPU float64",
        "throughput: one MNIST learner step (paper widths, batch 128)",
    } <= {check["name"] for check in saved["checks"]}


def test_a_failed_check_fails_the_command(monkeypatch, capsys):
    monkeypatch.setitem(doctor.TOLERANCES, "ieee", {"probe": 0.0, "meta": 1e-3, "plain": 1e-4})
    monkeypatch.setattr(doctor, "_sync_audit", lambda device: doctor.Check("sync audit", True, "skipped", "-"))
    monkeypatch.setattr(doctor, "_meta", lambda device, policy: 1 / 0)  # a crashing check is a failed check
    assert main(["doctor", "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "ZeroDivisionError" in out and "checks failed" in out


def test_the_probe_tells_ieee_from_reduced_precision():
    import torch

    exact = torch.randn(64, 64, dtype=torch.float64)
    assert doctor.relative_error(exact.float(), exact) < 1e-6
    assert doctor.relative_error(exact.to(torch.bfloat16), exact) > 1e-3  # what TF32-like rounding looks like
