#!/usr/bin/env bash
# The GPU figures of bench/diffusion.py, for a session lent a GPU machine (never CI; docs/gpu.md).
#   here:  bash scripts/gpu-check.sh args   writes .gpu/bench-args.json: the configs' models, read by TypeScript
#   there: bash scripts/gpu-check.sh run    (with .gpu carried) measures with that machine's own Python, which
#          needs requirements.txt's run-time packages (torch, numpy, pillow, safetensors, opencv) but no Node;
#          the JSON goes to $OUT/gpu.json (or .gpu/gpu.json), the log (each section as it ends) beside it
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  args)
    mkdir -p .gpu
    npx tsx -e "import('./bench/diffusion.ts').then(async (m) => console.log(JSON.stringify(await m.diffusionBenchArgs())))" \
      > .gpu/bench-args.json.tmp
    mv .gpu/bench-args.json.tmp .gpu/bench-args.json
    echo "wrote .gpu/bench-args.json"
    ;;
  run)
    out="${OUT:-.gpu}"
    mkdir -p "$out"
    [ -s .gpu/bench-args.json ] || { echo "no .gpu/bench-args.json: run \`bash scripts/gpu-check.sh args\` first" >&2; exit 2; }
    python3 -c "import torch, numpy, PIL, safetensors, cv2" \
      || { echo "python3 lacks a package of requirements.txt (torch, numpy, pillow, safetensors, opencv-python-headless)" >&2; exit 2; }
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/log"
    # Dense bf16 peak of an H100/H200 SXM (989 TFLOP/s) unless told otherwise: the MFU rows' denominator.
    export PYTHONUNBUFFERED=1 ID3_PEAK_TFLOPS="${ID3_PEAK_TFLOPS:-989}"
    python3 bench/diffusion.py "$(cat .gpu/bench-args.json)" --gpu-only 2>&1 > "$out/gpu.json" | tee -a "$out/log"
    cat "$out/gpu.json"
    ;;
  *)
    echo "usage: bash scripts/gpu-check.sh args|run" >&2
    exit 2
    ;;
esac
