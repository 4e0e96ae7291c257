import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CacheHealthIndicator } from '../cache/index.js';
import { CacheReadinessIndicator } from './cache-readiness.indicator.js';
import { HealthController } from './health.controller.js';
import { ShutdownState } from './shutdown-state.js';
import { StartupIndicator } from './startup.indicator.js';

@Module({
  // Terminus would log an error on every failing probe (every few seconds per pod); the cache
  // logs each mode change once and the readiness self-test logs when it starts and stops failing.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [CacheHealthIndicator, CacheReadinessIndicator, StartupIndicator, ShutdownState],
})
export class HealthModule {}
