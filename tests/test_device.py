import pytest
import torch

from gtnbench.device import (
    check_device,
    check_precision_for,
    current_precision,
    plain_autocast,
    precision_policy,
    precision_settings,
    set_precision,
    tf32_active,
)
from gtnbench.errors import GtnbenchError


@pytest.fixture(autouse=True)
def ieee_afterwards():
    yield
    set_precision("ieee")


def test_ieee_turns_every_tf32_switch_off_and_reads_them_back():
    settings = set_precision("ieee")
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"  # the node torch < the upstream fix leaves at tf32
    assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert settings["fp32_precision.cudnn.conv"] == "ieee" and settings["fp32_precision.cudnn.rnn"] == "ieee"
    assert settings["allow_tf32.cudnn"] is False and settings["allow_tf32.cuda.matmul"] is False
    assert not tf32_active(settings)
    with torch.backends.cudnn.flags(enabled=True):  # reading the legacy flags no longer raises (mixed-API error)
        pass
    for key in ("NVIDIA_TF32_OVERRIDE", "cudnn.benchmark", "cudnn.deterministic", "deterministic_algorithms"):
        assert key in settings


def test_tf32_is_read_back_as_tf32_and_the_override_wins(monkeypatch):
    settings = set_precision("tf32")
    assert settings["fp32_precision.cudnn.conv"] == "tf32" and tf32_active(settings)
    monkeypatch.setenv("NVIDIA_TF32_OVERRIDE", "0")
    assert precision_settings()["NVIDIA_TF32_OVERRIDE"] == "0" and not tf32_active(precision_settings())


def test_bf16_autocasts_plain_forward_passes_only_and_is_refused_for_meta_training():
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    assert (x @ w).dtype == torch.float32
    with precision_policy("bf16") as settings:
        assert settings["policy"] == "bf16" and current_precision() == "bf16"
        with plain_autocast("cpu"):
            assert (x @ w).dtype == torch.bfloat16
        assert not tf32_active(settings)
    assert current_precision() == "ieee"
    with plain_autocast("cpu"):
        assert (x @ w).dtype == torch.float32
    check_precision_for("bf16", meta_trains=False, where="suite")
    with pytest.raises(GtnbenchError, match="bf16 is refused for GTN meta-training"):
        check_precision_for("bf16", meta_trains=True, where="suite")
    with pytest.raises(GtnbenchError, match="expected one of ieee, tf32, bf16"):
        set_precision("fp16")


@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda:x", "not a torch device"),
        ("tpu", "not a torch device"),
        ("mps", "runs on cpu or cuda"),
    ],
)
def test_a_device_that_is_not_there_is_one_clear_line(device, message):
    with pytest.raises(GtnbenchError, match=message) as error:
        check_device(device)
    assert "\n" not in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is visible")
def test_cuda_without_a_gpu_is_refused_with_the_reason():
    with pytest.raises(GtnbenchError, match="no CUDA device is visible"):
        check_device("cuda")
    assert check_device("cpu") == "cpu"


def test_the_cli_refuses_a_missing_device_without_a_traceback(capsys):
    from gtnbench.cli import main

    assert main(["bench", "ops", "--device", "cuda:x"]) == 2
    assert "gtnbench: error: --device 'cuda:x'" in capsys.readouterr().err
