"""CPU numerics pinning: settings checked, environment set before the engine loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rokuon.engine.asr import numerics


def test_unknown_instruction_set_is_a_clear_error() -> None:
    with pytest.raises(numerics.NumericsError, match="asr_cpu_isa: unknown instruction set"):
        numerics.check("AVX9000")
    assert numerics.check(" avx2 ") == "AVX2" and numerics.check("Auto") == "auto"


def _fresh(code: str, env: dict[str, str] | None = None) -> dict:
    import os

    base = {k: v for k, v in os.environ.items()
            if k not in ("CT2_USE_MKL", "CT2_FORCE_CPU_ISA", "ONEDNN_MAX_CPU_ISA",
                         "DNNL_MAX_CPU_ISA")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**base, **(env or {})}, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pin_sets_the_kernel_family_before_the_engine_loads() -> None:
    st = _fresh("import json; from rokuon.engine.asr import numerics; numerics.pin('AVX2');"
                "import ctranslate2; print(json.dumps(numerics.state()))")
    assert st["applied"] is True and st["requested"] == "AVX2"
    if st["machine"] in ("x86_64", "AMD64"):
        assert st["env"] == {"CT2_USE_MKL": "0", "CT2_FORCE_CPU_ISA": "AVX2",
                             "ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2"}


def test_pin_after_the_engine_loaded_is_reported_as_not_applied() -> None:
    st = _fresh("import json, ctranslate2; from rokuon.engine.asr import numerics;"
                "numerics.pin('AVX2'); print(json.dumps(numerics.state()))")
    assert st["applied"] is False


def test_operator_settings_win_and_auto_pins_nothing() -> None:
    st = _fresh("import json; from rokuon.engine.asr import numerics; numerics.pin('AVX2');"
                "print(json.dumps(numerics.state()))", {"CT2_FORCE_CPU_ISA": "AVX512"})
    assert st["env"]["CT2_FORCE_CPU_ISA"] == "AVX512"
    st = _fresh("import json; from rokuon.engine.asr import numerics; numerics.pin('auto');"
                "print(json.dumps(numerics.state()))")
    assert st["env"] == {} and st["applied"] is False
