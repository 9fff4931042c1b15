#!/usr/bin/env bash
# The GPU figures of bench/diffusion.py, for a session lent a GPU machine (never CI; docs/gpu.md).
#   here:  bash scripts/gpu-check.sh args   writes .gpu/bench-args.json: the configs' models, read by TypeScript
#   there: bash scripts/gpu-check.sh run    (with .gpu carried) measures with that machine's own PyTorch;
#          the JSON goes to $OUT/gpu.json (or .gpu/gpu.json), the log beside it
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  args)
    mkdir -p .gpu
    npx tsx -e "import('./bench/diffusion.ts').then(async (m) => console.log(JSON.stringify(await m.diffusionBenchArgs())))" \
      > .gpu/bench-args.json
    echo "wrote .gpu/bench-args.json"
    ;;
  run)
    out="${OUT:-.gpu}"
    mkdir -p "$out"
    [ -f .gpu/bench-args.json ] || { echo "no .gpu/bench-args.json: run \`bash scripts/gpu-check.sh args\` first" >&2; exit 2; }
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/log"
    # Dense bf16 peak of an H100/H200 SXM (989 TFLOP/s) unless told otherwise: the MFU rows' denominator.
    export PYTHONUNBUFFERED=1 ID3_PEAK_TFLOPS="${ID3_PEAK_TFLOPS:-989}"
    python3 bench/diffusion.py "$(cat .gpu/bench-args.json)" --gpu-only > "$out/gpu.json" 2> >(tee -a "$out/log" >&2)
    cat "$out/gpu.json"
    ;;
  *)
    echo "usage: bash scripts/gpu-check.sh args|run" >&2
    exit 2
    ;;
esac
