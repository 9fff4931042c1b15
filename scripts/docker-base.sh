#!/usr/bin/env bash
# The base image of id3's Dockerfile, assembled on this machine: Debian bookworm (Python 3.11, what
# requirements.lock is for) with this machine's Node (≥ 20: bookworm's own nodejs is 18) and its npm.
# No image registry is needed: debootstrap fetches Debian's packages, `docker import` makes the image.
# Idempotent: does nothing when the image exists. Prints the image's name.
#   scripts/docker-base.sh [image]        default id3-base:bookworm
set -euo pipefail
image=${1:-id3-base:bookworm}
if docker image inspect "$image" > /dev/null 2>&1; then echo "$image"; exit 0; fi

command -v debootstrap > /dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null; }
node_bin=$(command -v node)
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "docker-base: Node $("$node_bin" -v) here; id3 needs Node 20 or newer" >&2; exit 1; }
npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..  # the npm package folder (bin/npm-cli.js inside)

root=$(mktemp -d)
trap 'rm -rf --one-file-system "$root"' EXIT   # never into a mount debootstrap may leave
echo "docker-base: debootstrap bookworm into $root" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" http://deb.debian.org/debian > /dev/null \
  || { tail -20 "$root/debootstrap/debootstrap.log" >&2 || true; echo "docker-base: debootstrap failed" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# This machine's CA bundle (it may hold a proxy's CA that the package registries are reached through),
# named where pip, Node and Python's ssl look for it.
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
install -m 755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -r "$(readlink -f "$npm_dir")" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - "$image" > /dev/null
echo "$image"
