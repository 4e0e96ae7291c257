import { z } from 'zod';
import { defineSection } from './config-section.js';
import { boolVar, intVar } from './env-types.js';

/** Probes, metrics, logs and API docs: how the operator sees the service. */
export const observabilitySection = defineSection({
  schema: z.object({
    HEALTH_READY_FAIL_IN_FALLBACK: boolVar(false),
    HEALTH_SHUTDOWN_DRAIN_MS: intVar(0, 0, 120_000),
    DOCS_ENABLED: boolVar(true),
  }),
  build: (e) => ({
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
    metrics: { defaultMetrics: true },
    docs: { enabled: e.DOCS_ENABLED },
  }),
});

export type ObservabilitySettings = ReturnType<typeof observabilitySection.build>;
