# agentwatch service image. The embedded engine (chdb) needs glibc, hence a Debian base.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: see ensure_node_modules in scripts/lib.sh.
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p . && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY schemas ./schemas
USER node
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]
