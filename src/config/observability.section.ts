import { z } from 'zod';
import { defineSection } from './config-section.js';
import { boolVar, intVar, optionalBoolVar, optionalString } from './env-types.js';

/** Probes, metrics, logs and API docs: how the operator sees the service. */
export const observabilitySection = defineSection({
  schema: z.object({
    HEALTH_READY_FAIL_IN_FALLBACK: boolVar(false),
    HEALTH_SHUTDOWN_DRAIN_MS: intVar(0, 0, 120_000),
    // Unset means: on unless NODE_ENV=production.
    DOCS_ENABLED: optionalBoolVar(),
    METRICS_TOKEN: optionalString().refine((v) => v === undefined || v.length >= 16, {
      error: 'a bearer token of at least 16 characters (openssl rand -base64 32), or empty for no token',
    }),
  }),
  secrets: ['METRICS_TOKEN'],
  build: (e, env) => ({
    health: {
      /** Readiness answers 503 (not degraded 200) while the cache is in `fallback`. */
      readyFailInFallback: e.HEALTH_READY_FAIL_IN_FALLBACK,
      /** How long readiness answers `shutting_down` before the HTTP server closes. */
      shutdownDrainMs: e.HEALTH_SHUTDOWN_DRAIN_MS,
      /** How long the startup probe waits for a first Redis connection before passing anyway. */
      startupRedisGraceMs: 3_000,
      /** Bound on the readiness write/read self-test of the cache. */
      selfTestTimeoutMs: 1_000,
    },
    /** `token`: /metrics answers 401 without `Authorization: Bearer <token>`. */
    metrics: { defaultMetrics: true, token: e.METRICS_TOKEN ?? null },
    docs: { enabled: e.DOCS_ENABLED ?? env.NODE_ENV?.trim() !== 'production' },
  }),
});

export type ObservabilitySettings = ReturnType<typeof observabilitySection.build>;
