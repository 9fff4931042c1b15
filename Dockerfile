# id3 in a container, CPU or GPU: Debian bookworm with Python 3.11 and Node ≥ 20, the Python packages
# of requirements.lock (PyTorch from PyPI carries its CUDA runtime: `--gpus all` works on a host with
# the NVIDIA container toolkit), the same scripts/setup.sh as everywhere else.
#   bash scripts/docker-base.sh                    # the base, assembled locally (no registry needed)
#   docker build --network host -t id3 .
#   docker run --gpus all -v "$PWD:/work" -w /work id3 run config.ts     (runs land in /work/runs)
# scripts/docker-check.sh builds it and runs every stage of a tiny config in it.
ARG BASE=id3-base:bookworm
FROM ${BASE}

# The environments live in the image; Node's dev tools (tests, Deno) stay out of it.
ENV ID3_CACHE_DIR=/opt/id3-env PIP_NO_CACHE_DIR=1 NODE_ENV=production
WORKDIR /opt/id3
# The packages first, in their own layer: a change of the sources does not reinstall PyTorch.
COPY package.json package-lock.json requirements.lock ./
COPY scripts/setup.sh scripts/check-lock.py ./scripts/
RUN bash scripts/setup.sh && npm cache clean --force 2> /dev/null
COPY . .
# `npm link` puts `id3` on the PATH, so that `id3 ...` and `npx id3 ...` work in any folder of the image.
RUN bash scripts/setup.sh && npm link --no-audit --no-fund && id3 --help > /dev/null

ENTRYPOINT ["id3"]
CMD ["--help"]
