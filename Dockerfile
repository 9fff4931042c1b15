# id3 on a GPU machine: PyTorch with CUDA from the base image, Node 20, the same set-up script
# as everywhere else.
#   docker build -t id3 .
#   docker run --gpus all -v "$PWD:/work" -w /work id3 run config.ts     (runs land in /work/runs)
FROM node:20-bookworm-slim AS node

FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx

WORKDIR /opt/id3
COPY package.json package-lock.json requirements.txt ./
COPY scripts ./scripts
# The venv sees the base image's torch (ID3_SYSTEM_SITE_PACKAGES=1) instead of downloading another.
ENV ID3_SYSTEM_SITE_PACKAGES=1 ID3_CACHE_DIR=/opt/id3-env
RUN bash scripts/setup.sh
COPY . .
# `npm link` puts `id3` on the PATH, so that `id3 ...` and `npx id3 ...` work in any folder of the image.
RUN bash scripts/setup.sh && npm link --no-audit --no-fund && id3 --help > /dev/null

ENTRYPOINT ["id3"]
CMD ["--help"]
