#!/usr/bin/env bash
# Checks the governor's NVML readings against nvidia-smi on a host with a real NVIDIA GPU: builds the GpuCheck tool,
# samples through NvmlSensorSource for GPU_CHECK_SECONDS (default 10) and, once a second, prints both side by side.
# Tolerances: utilisation ±15 points, VRAM ±2% of total, power/limit and power in W ±15%, temperature ±3 C.
# Exit: 0 agree, 1 disagree, 2 nvidia-smi absent or failing, 3 NVML unavailable to the governor, other: build failed.
# Extra arguments go to the tool, e.g. --library /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu-check: nvidia-smi not found on PATH; run this on a host with an NVIDIA GPU and driver." >&2
    exit 2
fi

dotnet build tools/Scarcity.Actors.GpuCheck -c Release -v quiet -nologo
exec dotnet tools/Scarcity.Actors.GpuCheck/bin/Release/net10.0/Scarcity.Actors.GpuCheck.dll \
    --gpu-check --seconds "${GPU_CHECK_SECONDS:-10}" "$@"
