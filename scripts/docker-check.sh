#!/usr/bin/env bash
# Build id3's Docker image on this machine and exercise it: `id3 --help`, `id3 doctor --json`, and
# `id3 run` on a tiny config (every stage, the runs folder mounted from the host), checked from the
# host. Starts dockerd when none answers (and stops it after), assembles the base image locally
# (scripts/docker-base.sh: no registry needed), removes its containers and temporary files.
#   scripts/docker-check.sh                  fail when Docker cannot run here
#   scripts/docker-check.sh --if-possible    say so in one line and exit 0 when Docker cannot run here
set -euo pipefail
cd "$(dirname "$0")/.."
if_possible=false
[ "${1:-}" = --if-possible ] && if_possible=true
image=id3:check

cannot() {
  if $if_possible; then echo "docker-check: skipped: $*"; exit 0; fi
  echo "docker-check: $*" >&2
  exit 1
}
seconds() { echo $(( $(date +%s) - $1 )); }

started_dockerd=""
cleanup() {
  [ -n "${work:-}" ] && rm -rf "$work"
  if [ -n "$started_dockerd" ]; then kill "$started_dockerd" 2> /dev/null || true; wait "$started_dockerd" 2> /dev/null || true; fi
}
trap cleanup EXIT

if ! docker info > /dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || cannot "no Docker daemon answers, and starting one needs root"
  if ! command -v dockerd > /dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io > /dev/null) 2>&1 \
      || cannot "docker.io does not install here"
  fi
  # No iptables or bridge here: builds use the host's network, containers none.
  dockerd --iptables=false --bridge=none > /tmp/id3-dockerd.log 2>&1 &
  started_dockerd=$!
  for _ in $(seq 60); do docker info > /dev/null 2>&1 && break; sleep 0.5; done
  docker info > /dev/null 2>&1 || cannot "dockerd did not start (see /tmp/id3-dockerd.log)"
fi

t=$(date +%s)
base=$(bash scripts/docker-base.sh)
echo "docker-check: base image $base ($(seconds "$t") s)"
t=$(date +%s)
docker build --network host --build-arg "BASE=$base" -t "$image" . > /tmp/id3-docker-build.log 2>&1 \
  || { tail -30 /tmp/id3-docker-build.log >&2; echo "docker-check: the build failed (whole log: /tmp/id3-docker-build.log)" >&2; exit 1; }
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "docker-check: built $image in $(seconds "$t") s, $((size / 1000000)) MB"

docker run --rm --network none "$image" --help | grep -q '^  run ' || { echo "docker-check: id3 --help lists no run command" >&2; exit 1; }
docker run --rm --network none "$image" doctor --json | python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["ok"], r' \
  || { echo "docker-check: id3 doctor --json did not report ok" >&2; exit 1; }
echo "docker-check: id3 --help and id3 doctor --json: ok"

# The toy config of the tests, every stage, written where the container sees it as /work.
work=$(mktemp -d)
node --import tsx -e "import('./test/fixtures/toy-id3.ts').then((m) => console.log('export default ' + JSON.stringify({ ...m.toyId3Config('runs'), name: 'docker-toy' }) + ';'))" > "$work/toy.ts"
t=$(date +%s)
docker run --rm --network none -v "$work:/work" -w /work "$image" run toy.ts --quiet > "$work/run.log" 2>&1 \
  || { cat "$work/run.log" >&2; echo "docker-check: id3 run in the container failed" >&2; exit 1; }
for made in judge/stage.json generate/dataset/card.json train-fr/backbone.safetensors evaluate/verification.csv report/report.md; do
  [ -s "$work/runs/docker-toy/$made" ] || { cat "$work/run.log" >&2; echo "docker-check: the run made no runs/docker-toy/$made" >&2; exit 1; }
done
echo "docker-check: id3 run toy.ts in the container: every stage in $(seconds "$t") s, its files on the host"
echo "docker-check: passed"
