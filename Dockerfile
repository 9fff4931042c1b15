# id3 on a GPU machine: PyTorch with CUDA from the base image, Node 20, the same set-up script
# as everywhere else.
#   docker build -t id3 .
#   docker run --gpus all -v "$PWD:/work" -w /work id3 run /work/config.ts
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
RUN bash scripts/setup.sh && node bin/id3.js --help > /dev/null

ENTRYPOINT ["node", "/opt/id3/bin/id3.js"]
CMD ["--help"]
