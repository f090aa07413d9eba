# Capstan control plane. Build: docker build -t capstan .
# Run:   docker run -p 8080:8080 -v capstan-data:/data capstan

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds its native binding when no prebuilt one can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# The npm the project uses (the image has npm 10): npm 11 honours package.json's
# allowScripts, so only better-sqlite3's install script runs, as in development and CI.
RUN npm install -g npm@11.19.1
# npm ci runs the prepare script, which finds no sources yet in this layer and builds nothing.
COPY package.json package-lock.json ./
COPY scripts/prepare.mjs ./scripts/prepare.mjs
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen ./gen
COPY prisma ./prisma
COPY src ./src
COPY scripts/bundle.mjs scripts/bundle-ui.mjs ./scripts/
# gen/ (protobuf and Prisma clients, committed) compiles into dist/gen next to dist/src;
# the server runs from its bundle in dist/server (scripts/bundle.mjs; load-bundle.mjs runs it with
# the V8 code cache the build wrote beside it); the dashboard's
# bundle (dist/ui, scripts/bundle-ui.mjs) ships with dist/, its build tools are pruned.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    DATABASE_URL=file:/data/capstan.db
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then(r => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))"]
CMD ["node", "dist/server/load-bundle.mjs"]
