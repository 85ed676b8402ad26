"""Provider choice, tested with made-up provider lists (no GPU here), plus the real CPU path."""
from __future__ import annotations

import os

import pytest
from runtime_fixtures import GEN

from dcgan.runtime import providers
from dcgan.runtime.errors import ProviderError
from dcgan.runtime.providers import (
    CPU,
    CUDA,
    TENSORRT,
    captured_native_stderr,
    check_loaded,
    create_session,
    first_error_line,
    plan_providers,
)

KNOWN = [TENSORRT, CUDA, "OpenVINOExecutionProvider", "AzureExecutionProvider", CPU]
CPU_BUILD = ["AzureExecutionProvider", CPU]
GPU_BUILD = [TENSORRT, CUDA, CPU]
MISSING_CUDNN = (
    "2025-01-01 [E:onnxruntime:Default, provider_bridge_ort.cc:1862 TryGetProviderInfo_CUDA] "
    "Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: "
    "cannot open shared object file: No such file or directory\n"
)


def test_auto_on_a_cpu_build_plans_cpu_only():
    plan = plan_providers("auto", CPU_BUILD, KNOWN)
    assert plan.providers == (CPU,) and plan.required is None
    choice = check_loaded(plan, [CPU])
    assert choice.provider == CPU and "CPU" in choice.note


def test_auto_tries_cuda_when_listed_and_reports_it_when_it_loads():
    plan = plan_providers("auto", GPU_BUILD, KNOWN)
    assert plan.providers == (CUDA, CPU)
    choice = check_loaded(plan, [CUDA, CPU])
    assert choice.provider == CUDA and "CUDA" in choice.note


def test_auto_never_picks_tensorrt_on_its_own():
    assert TENSORRT not in plan_providers("auto", GPU_BUILD, KNOWN).providers


def test_auto_falls_back_to_cpu_when_listed_cuda_does_not_load_and_says_why():
    plan = plan_providers("auto", GPU_BUILD, KNOWN)
    choice = check_loaded(plan, [CPU], MISSING_CUDNN)
    assert choice.provider == CPU
    assert "could not be loaded" in choice.note and "libcudnn.so.9" in choice.note
    assert "\n" not in choice.note


@pytest.mark.parametrize("name", ["cuda", "CUDA", "CUDAExecutionProvider", "cudaexecutionprovider"])
def test_cuda_spellings(name):
    plan = plan_providers(name, GPU_BUILD, KNOWN)
    assert plan.providers[0] == CUDA and plan.required == CUDA and plan.providers[-1] == CPU


def test_explicit_cuda_missing_from_the_build_is_an_error_naming_the_gpu_extra():
    with pytest.raises(ProviderError, match=r"\[gpu\]"):
        plan_providers("cuda", CPU_BUILD, KNOWN)


def test_explicit_cuda_that_fails_to_load_is_an_error_with_the_reason():
    plan = plan_providers("cuda", GPU_BUILD, KNOWN)
    with pytest.raises(ProviderError, match="failed to load: .*libcudnn.so.9"):
        check_loaded(plan, [CPU], MISSING_CUDNN)


def test_explicit_cuda_that_loads():
    plan = plan_providers("cuda", GPU_BUILD, KNOWN)
    assert check_loaded(plan, [CUDA, CPU]).provider == CUDA


def test_tensorrt_keeps_cuda_and_cpu_behind_it_for_unsupported_nodes():
    plan = plan_providers("tensorrt", GPU_BUILD, KNOWN)
    assert plan.providers == (TENSORRT, CUDA, CPU) and plan.required == TENSORRT
    with pytest.raises(ProviderError):
        check_loaded(plan, [CUDA, CPU])


def test_any_provider_name_ort_knows_is_accepted_if_installed():
    available = ["OpenVINOExecutionProvider", CPU]
    plan = plan_providers("openvino", available, KNOWN)
    assert plan.providers == ("OpenVINOExecutionProvider", CPU)
    with pytest.raises(ProviderError, match="not in this onnxruntime build"):
        plan_providers("OpenVINOExecutionProvider", CPU_BUILD, KNOWN)


def test_unknown_provider_lists_the_choices():
    with pytest.raises(ProviderError, match="unknown provider 'quantum'.*auto, cpu, cuda"):
        plan_providers("quantum", CPU_BUILD, KNOWN)


def test_first_error_line_keeps_the_message_not_the_log_prefix():
    line = first_error_line("some info\n" + MISSING_CUDNN)
    assert line.startswith("Failed to load library") and "[E:" not in line


def test_native_stderr_is_captured_and_not_shown(capfd):
    with captured_native_stderr() as native:
        os.write(2, b"[E:onnxruntime] noisy native message\n")
    assert "noisy native message" in "".join(native)
    assert "noisy" not in capfd.readouterr().err


@pytest.mark.parametrize("requested", ["auto", "cpu"])
def test_real_session_on_this_build(requested):
    import onnxruntime as ort

    session, choice = create_session(GEN.read_bytes(), requested, threads=1)
    assert choice.provider == session.get_providers()[0]
    if CUDA not in ort.get_available_providers():
        assert choice.provider == CPU


@pytest.mark.parametrize("threads, workers", [(None, 3), (1, 1), (2, 2)])
def test_cpu_sessions_are_single_threaded_and_split_batches_across_workers(monkeypatch, threads, workers):
    monkeypatch.setattr(providers, "available_cpus", lambda: 3)
    session, choice = create_session(str(GEN), "cpu", threads)
    assert choice.provider == CPU and choice.workers == workers
    assert f"running on CPU, {workers} thread" in choice.note
    assert session.get_session_options().intra_op_num_threads == 1


def test_dcgan_gen_passes_its_thread_count_to_the_split(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from dcgan.runtime import cli, parallel

    seen = []
    real = parallel.run_split
    monkeypatch.setattr("dcgan.runtime.model_file.run_split",
                        lambda s, name, x, workers, post=None: seen.append(workers) or real(s, name, x, workers, post))
    out = tmp_path / "g.npy"
    r = CliRunner().invoke(cli.main, ["--model", str(GEN), "--n", "5", "--out", str(out), "-q", "--threads", "2"])
    assert r.exit_code == 0, r.output
    assert seen and set(seen) == {2}


def test_ort_messages_keep_the_reason_not_the_cpp_signature():
    from dcgan.runtime.providers import ort_message

    e = RuntimeError(
        "[ONNXRuntimeError] : 1 : FAIL : Load model from /tmp/m.onnx failed:/onnxruntime_src/"
        "onnxruntime/core/graph/model.cc:179 onnxruntime::Model::Model(onnx::ModelProto&&, const "
        "PathString&, const IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, "
        "const onnxruntime::ModelOptions&) Unsupported model IR version: 10, max supported IR "
        "version: 9\n")
    assert ort_message(e) == "Unsupported model IR version: 10, max supported IR version: 9"
    plain = RuntimeError("[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from m.onnx "
                         "failed:Protobuf parsing failed.")
    assert ort_message(plain) == "Protobuf parsing failed."
    assert ort_message(RuntimeError("")) == "RuntimeError"
