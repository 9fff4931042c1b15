#!/usr/bin/env bash
# Build id3's Docker image on this machine and exercise it: `id3 --help`, `id3 doctor --json`, and
# `id3 run` on the tests' toy config (every stage, the runs folder mounted from the host), checked from
# the host. Starts dockerd when none answers (and stops it after, only then), assembles the base image
# locally (scripts/docker-base.sh: no registry needed), removes its containers and temporary files;
# keeps the image (id3:check) and the base, so that a rerun reuses their layers.
#   scripts/docker-check.sh                  fail when Docker cannot run here
#   scripts/docker-check.sh --if-possible    say so in one line and exit 0 when Docker cannot run here
# Where Docker has the NVIDIA runtime, the containers get `--gpus all` and doctor must see CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
if_possible=false
case "${1:-}" in
  '') ;;
  --if-possible) if_possible=true ;;
  *) echo "usage: scripts/docker-check.sh [--if-possible]" >&2; exit 2 ;;
esac
image=id3:check
build_log=/tmp/id3-docker-build.log
dockerd_log=/tmp/id3-dockerd.log

cannot() {
  if $if_possible; then echo "docker-check: skipped, Docker cannot run here: $*"; exit 0; fi
  echo "docker-check: FAILED: Docker cannot run here: $*" >&2
  exit 1
}
fail() { echo "docker-check: FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

started_dockerd=""
work=""
# Its containers, named for this run and removed at the end whatever happens.
c=id3-check-$$
containers=("$c-help" "$c-doctor" "$c-config" "$c-run")
cleanup() {
  local name
  if [ -n "$started_dockerd" ] || docker info > /dev/null 2>&1; then
    for name in "${containers[@]}"; do docker rm -f "$name" > /dev/null 2>&1 || true; done
  fi
  [ -n "$work" ] && rm -rf "$work"
  if [ -n "$started_dockerd" ]; then
    if kill "$started_dockerd" 2> /dev/null; then echo "docker-check: stopped the dockerd it started"; fi
    wait "$started_dockerd" 2> /dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(now)
if ! docker info > /dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || cannot "no Docker daemon answers, and starting one needs root"
  if ! command -v dockerd > /dev/null || ! command -v docker > /dev/null; then
    echo "docker-check: installing docker.io (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io > /dev/null; } 2>&1 \
      || cannot "docker.io does not install (apt-get)"
  fi
  # No iptables or bridge here: builds use the host's network, containers none.
  dockerd --iptables=false --bridge=none > "$dockerd_log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 120); do
    docker info > /dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2> /dev/null || break
    sleep 0.5
  done
  if ! docker info > /dev/null 2>&1; then
    tail -5 "$dockerd_log" >&2 || true
    cannot "dockerd did not start (its log: $dockerd_log)"
  fi
  echo "docker-check: started dockerd (its log: $dockerd_log)"
fi

gpus=()
if docker info -f '{{json .Runtimes}}' 2> /dev/null | grep -q nvidia; then gpus=(--gpus all); fi

t=$(now)
base=$(bash scripts/docker-base.sh) || fail "scripts/docker-base.sh could not assemble the base image"
echo "docker-check: base image $base ($(since "$t") s)"

t=$(now)
docker build --network host --build-arg "BASE=$base" -t "$image" . > "$build_log" 2>&1 \
  || { tail -30 "$build_log" >&2; fail "docker build failed (its whole log: $build_log)"; }
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "docker-check: built $image in $(since "$t") s: $(awk -v s="$size" 'BEGIN { printf "%.2f GB", s / 1e9 }') ($size bytes)"

t=$(now)
help=$(docker run --name "$c-help" --rm --network none "$image" --help) || fail "id3 --help failed in the container"
grep -q '^  run ' <<< "$help" || fail "id3 --help in the container lists no run command"
doctor=$(docker run --name "$c-doctor" --rm --network none "${gpus[@]}" "$image" doctor --json) \
  || { echo "$doctor" >&2; fail "id3 doctor --json failed in the container"; }
summary=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const p = r.python ?? {};
  if (!r.ok) { console.error(JSON.stringify(r, null, 2)); process.exit(1); }
  if (process.argv[1] === "gpu" && !p.cudaAvailable) { console.error("no CUDA although --gpus all: " + JSON.stringify(p)); process.exit(1); }
  console.log(`node ${r.node}, python ${p.python}, torch ${p.packages?.torch} (CUDA ${p.torchCuda}, available: ${p.cudaAvailable}, GPUs: ${(p.gpus ?? []).length})`);
' "${gpus[0]:+gpu}" <<< "$doctor") || fail "id3 doctor --json in the container did not report ok"
echo "docker-check: id3 --help and id3 doctor --json: ok, $summary ($(since "$t") s)"

# The tests' toy config (test/fixtures/toy-id3.ts, in the image) as a plain object, every stage, in a
# folder of the host that the container sees as /work; the run writes as this user.
work=$(mktemp -d)
chmod 755 "$work"
docker run --name "$c-config" --rm --network none --entrypoint node "$image" --import tsx -e "
  import('./test/fixtures/toy-id3.ts').then((m) => {
    console.log('export default ' + JSON.stringify({ ...m.toyId3Config('runs'), name: 'docker-toy' }, null, 2) + ';');
  });" > "$work/toy.ts" || fail "could not write the toy config from test/fixtures/toy-id3.ts in the container"
t=$(now)
docker run --name "$c-run" --rm --network none "${gpus[@]}" --shm-size=1g --user "$(id -u):$(id -g)" \
  -v "$work:/work" -w /work "$image" run toy.ts --quiet > "$work/run.log" 2>&1 \
  || { tail -40 "$work/run.log" >&2; fail "id3 run toy.ts in the container failed"; }
run_s=$(since "$t")
for made in prepare/manifest.csv judge/stage.json train/ema.safetensors generate/dataset/card.json \
  train-fr/backbone.safetensors evaluate/verification.csv report/report.md; do
  [ -s "$work/runs/docker-toy/$made" ] || { tail -40 "$work/run.log" >&2; fail "the run in the container made no runs/docker-toy/$made on the host"; }
done
owner=$(stat -c %u "$work/runs/docker-toy/run.json")
[ "$owner" = "$(id -u)" ] || fail "the run's files on the host belong to uid $owner, not to $(id -u)"
echo "docker-check: id3 run toy.ts in the container: every stage in $run_s s, its files on the host"
echo "docker-check: passed in $(since "$start") s"
