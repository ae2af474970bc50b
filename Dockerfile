# syntax=docker/dockerfile:1
# One image for both commands: `entra-sidecar webhook` (the Deployment) and `entra-sidecar sidecar`
# (injected into every opted-in pod).
#
#   docker build -t registry.example.com/entra-sidecar:0.1.0 .
#
# Runs as UID/GID 65532 on a read-only root filesystem: nothing is written outside the volumes the
# chart and the webhook mount.
ARG NODE_IMAGE=node:22-bookworm-slim

# --- build: TypeScript → dist/, with the dev dependencies -----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
RUN npm run build

# --- deps: production dependencies only -----------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime ----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Only the bundle runs (dist/cli.js and its chunks); tsc's per-module output and source maps stay behind.
COPY --from=build /src/dist/cli.js ./dist/cli.js
COPY --from=build /src/dist/chunks ./dist/chunks
COPY package.json ./
# The package's bin: `entra-sidecar` on PATH, as `npm install -g` would link it.
RUN chmod 0755 /app/dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/entra-sidecar
USER 65532:65532
EXPOSE 8443 8080 42351
ENTRYPOINT ["entra-sidecar"]
CMD ["--help"]
