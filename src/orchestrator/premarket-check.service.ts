import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import type { OrchestratorSettings } from './orchestrator.options.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';
import { ReadinessService, type ReadinessReport } from './readiness.service.js';

export const IST_TIME_ZONE = 'Asia/Kolkata';

export interface PremarketReport extends ReadinessReport {
  trigger: 'schedule' | 'manual';
  /** Users that cannot trade now, with why: what an operator must fix before the open. */
  lacking: { userId: string; status: string; action: string | null }[];
}

export interface PremarketSchedule {
  timeZone: string;
  timesIst: string[];
  days: string;
  cron: string[];
}

/**
 * Before the market opens, at the configured IST times, checks every user's token the way an order
 * would and logs (once per run) which users have no valid token. The last report is kept for the
 * readiness endpoint; `run()` can be called directly (tests, the manual endpoint).
 */
@Injectable()
export class PremarketCheckService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('PremarketCheck');
  private last: PremarketReport | null = null;
  private readonly jobNames: string[] = [];
  private running: Promise<PremarketReport> | null = null;

  constructor(
    private readonly readiness: ReadinessService,
    private readonly scheduler: SchedulerRegistry,
    @Inject(ORCHESTRATOR_SETTINGS) private readonly settings: OrchestratorSettings,
  ) {}

  get schedule(): PremarketSchedule {
    return {
      timeZone: IST_TIME_ZONE,
      timesIst: this.settings.premarketTimes.map((t) => t.label),
      days: this.settings.premarketDays,
      cron: this.cronExpressions(),
    };
  }

  get lastReport(): PremarketReport | null {
    return this.last;
  }

  onModuleInit(): void {
    this.cronExpressions().forEach((expr, i) => {
      const name = `orchestrator-premarket-${i}`;
      const job = CronJob.from({
        cronTime: expr,
        timeZone: IST_TIME_ZONE,
        onTick: () => void this.run('schedule').catch(() => undefined),
        start: false,
      });
      this.scheduler.addCronJob(name, job);
      job.start();
      this.jobNames.push(name);
    });
    if (this.jobNames.length > 0) {
      this.logger.log(`Pre-market token check scheduled at ${this.schedule.timesIst.join(', ')} IST (days ${this.settings.premarketDays})`);
    }
  }

  onApplicationShutdown(): void {
    for (const name of this.jobNames.splice(0)) {
      try {
        this.scheduler.deleteCronJob(name);
      } catch {
        // Already gone with the registry: nothing to stop.
      }
    }
  }

  /** One run at a time: a manual run during a scheduled one gets the same report. */
  run(trigger: PremarketReport['trigger'] = 'manual'): Promise<PremarketReport> {
    this.running ??= this.check(trigger).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async check(trigger: PremarketReport['trigger']): Promise<PremarketReport> {
    try {
      const report = await this.readiness.check();
      const lacking = report.users
        .filter((u) => !u.canTrade)
        .map((u) => ({ userId: u.userId, status: u.status, action: u.action }));
      this.last = { ...report, trigger, lacking };
      if (lacking.length === 0) {
        this.logger.log(`Pre-market check (${trigger}): all ${report.summary.total} users have a valid token`);
      } else {
        this.logger.warn(
          `Pre-market check (${trigger}): ${lacking.length} of ${report.summary.total} users cannot trade: ${lacking.map((l) => `${l.userId}=${l.status}`).join(', ')}`,
        );
      }
      return this.last;
    } catch (err) {
      this.logger.error(`Pre-market check (${trigger}) failed: ${(err as Error)?.name ?? 'error'}: ${(err as Error)?.message ?? ''}`);
      throw err;
    }
  }

  private cronExpressions(): string[] {
    return this.settings.premarketTimes.map((t) => `0 ${t.minute} ${t.hour} * * ${this.settings.premarketDays}`);
  }
}
