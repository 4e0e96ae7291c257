# The image deploy/deployment.yaml runs. Build: docker build -t ghcr.io/example/trading-backend:1.0.0 .
# Same steps as the README: npm ci, npm run build, drop dev dependencies, node dist/main.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# The app's own Nest packages are optional peers of the library and dev dependencies of this repo:
# made the app's dependencies here, so pruning the dev dependencies keeps them.
RUN npm run build && for p in @nestjs/platform-express @nestjs/schedule @nestjs/swagger @nestjs/terminus @nestjs/throttler; do npm pkg set "dependencies.$p=$(node -p "require('./package.json').devDependencies['$p']")" && npm pkg delete "devDependencies.$p"; done && npm prune --omit=dev

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Numeric, so Kubernetes' runAsNonRoot can verify it; the same id as deploy/deployment.yaml.
USER 10001:10001
EXPOSE 3000
CMD ["node", "dist/main"]
