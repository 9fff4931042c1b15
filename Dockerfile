# id3 in a container, CPU or GPU: Debian bookworm with Python 3.11 and Node ≥ 20, the Python packages
# of requirements.lock (PyTorch from PyPI carries its CUDA runtime: `--gpus all` works on a host with
# the NVIDIA container toolkit), installed by the same scripts/setup.sh as everywhere else.
#   bash scripts/docker-base.sh                    # the base, assembled locally (no registry needed)
#   docker build --network host -t id3 .           # the host's network: pip and npm reach their registries
#   docker run --gpus all --shm-size=16g --user "$(id -u):$(id -g)" -v "$PWD:/work" -w /work id3 run config.ts
# scripts/docker-check.sh builds it and runs every stage of a tiny config in it.
ARG BASE=id3-base:bookworm
FROM ${BASE}

# The environments live in the image; Node's dev tools (tests, Deno) stay out of it. MPLCONFIGDIR: a
# writable place for matplotlib's cache whatever the user (`--user`: no home folder).
ENV ID3_CACHE_DIR=/opt/id3-env PIP_NO_CACHE_DIR=1 NODE_ENV=production MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /opt/id3
# The packages first, in their own layer: a change of the sources does not reinstall PyTorch.
COPY package.json package-lock.json requirements.lock ./
COPY scripts/setup.sh scripts/check-lock.py ./scripts/
RUN bash scripts/setup.sh && rm -rf /root/.npm /root/.cache
COPY . .
# Set-up is not run again here: the packages' files are the ones installed above (same layer key), and
# its mtime test would reinstall node_modules for a freshly cloned package-lock.json.
# `npm link` puts `id3` on the PATH, so that `id3 ...` and `npx id3 ...` work in any folder of the image.
RUN npm link --no-audit --no-fund --loglevel=error && rm -rf /root/.npm && id3 --help > /dev/null

ENTRYPOINT ["id3"]
CMD ["--help"]
