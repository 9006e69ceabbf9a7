# syntax=docker/dockerfile:1
# The node image: `kv node` on Node 24 LTS.
#
# Why Node 24 when development machines run Node 20: Node 20 reached end of life in April 2026 and
# gets no security fixes; an image that runs for months in production must be on a supported LTS.
# The code targets ES2022 and Node >= 20, so it runs unchanged on 24. Tag without digest
# (node:24-bookworm-slim) so that rebuilds pick up Debian and Node patch releases; ECR scans every push.

# ---- build: install everything, compile TypeScript to dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
# lmdb ships prebuilt binaries for linux-x64/arm64 glibc; build tools are here only in case a
# prebuilt binary is missing for the target platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Everything not in .dockerignore (sources, protos, tsconfig); tests and docs stay out.
COPY . .
RUN npm run build

# ---- deps: production dependencies only (no TypeScript, jest, CDK CLI ...) ----
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    KV_HOST=0.0.0.0 \
    KV_PORT=7001 \
    KV_METRICS_PORT=9464 \
    KV_DATA_DIR=/var/lib/kv
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The data directory is the only writable path (a volume in Kubernetes); the code stays root-owned
# and read-only to the process.
RUN mkdir -p /var/lib/kv && chown node:node /var/lib/kv
# UID/GID 1000 ("node" in the official image); the chart's securityContext uses the same IDs.
USER 1000:1000
EXPOSE 7001 9464
VOLUME ["/var/lib/kv"]
# The kv CLI is the entrypoint; `node` (run a store node) is the default command, so the same image
# can also run `kv status` and friends.
ENTRYPOINT ["node", "/app/dist/bin/kv.js"]
CMD ["node"]
