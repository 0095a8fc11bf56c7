"""Which Keras dtype policy a network computes in.

On a CPU with bfloat16 instructions (AVX512_BF16 or AMX), Keras' "mixed_bfloat16" policy
(variables in float32, matmuls and activations in bfloat16) trains an LSTM about 1.6x faster
through oneDNN; on a CPU without them bfloat16 is emulated and several times slower, and on a
GPU cuDNN's LSTM wants float32 or float16. So "auto" asks the CPU, and a setting can force
either policy. Weights stay float32 whatever the policy, so a saved model loads under any.
"""
from functools import lru_cache
from pathlib import Path

DTYPE_POLICIES = ("auto", "float32", "mixed_bfloat16")
_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


@lru_cache(maxsize=1)
def cpu_has_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU lists a bfloat16 instruction set (Linux; False where unknown)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_BF16_CPU_FLAGS & set(line.split(":", 1)[-1].split()))
    return False


def resolve_dtype_policy(setting: str) -> str:
    """The Keras policy name for a `dtype_policy` setting ("auto": bfloat16 on a CPU that has
    it and no GPU in use, else float32)."""
    if setting not in DTYPE_POLICIES:
        raise ValueError(f"dtype_policy = {setting!r} is not one of {', '.join(map(repr, DTYPE_POLICIES))}.")
    if setting != "auto":
        return setting
    from .backend import tf

    if tf.config.list_logical_devices("GPU") or not cpu_has_bfloat16():
        return "float32"
    return "mixed_bfloat16"
