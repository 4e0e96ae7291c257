import { SchedulerRegistry } from '@nestjs/schedule';
import { PremarketCheckService } from './premarket-check.service.js';
import { ReadinessService } from './readiness.service.js';
import { FakeTokenStore, LIVE, LIVE2, PAPER, SwitchableCache, settingsFor, staticTokensFor } from '../../test/helpers/orchestrator-fakes.js';
import { TokenResolver } from './token-resolver.js';
import { UserRegistry } from './user-registry.js';

function setup() {
  const settings = settingsFor([PAPER, LIVE, LIVE2], {
    premarketTimes: [
      { hour: 8, minute: 45, label: '08:45' },
      { hour: 9, minute: 10, label: '09:10' },
    ],
  });
  const store = new FakeTokenStore();
  const registry = new UserRegistry(settings);
  const readiness = new ReadinessService(registry, new TokenResolver(store, settings, staticTokensFor(new SwitchableCache())), settings);
  const scheduler = new SchedulerRegistry();
  const service = new PremarketCheckService(readiness, scheduler, settings);
  return { store, scheduler, service };
}

describe('PremarketCheckService', () => {
  it('schedules one job per configured IST time, weekdays, and removes them on shutdown', () => {
    const { service, scheduler } = setup();
    service.onModuleInit();
    expect(service.schedule).toEqual({ timeZone: 'Asia/Kolkata', timesIst: ['08:45', '09:10'], days: '1-5', cron: ['0 45 8 * * 1-5', '0 10 9 * * 1-5'] });
    const jobs = scheduler.getCronJobs();
    expect([...jobs.keys()]).toEqual(['orchestrator-premarket-0', 'orchestrator-premarket-1']);
    const next = jobs.get('orchestrator-premarket-0')!.nextDate();
    // 08:45 IST is 03:15 UTC.
    expect([next.toUTC().hour, next.toUTC().minute]).toEqual([3, 15]);
    service.onApplicationShutdown();
    expect(scheduler.getCronJobs().size).toBe(0);
  });

  it('reports which users lack a valid token, each with its reason, and keeps the last report', async () => {
    const { service, store } = setup();
    store.put(PAPER.userId, 'paper-token-aaaaaaaaaaaa');
    store.answers.set(LIVE2.userId, { kind: 'unavailable' });
    expect(service.lastReport).toBeNull();
    const report = await service.run('manual');
    expect(report.lacking).toEqual([
      { userId: LIVE.userId, status: 'missing', action: expect.stringContaining('PUT /sharekhan/users/MASTER_USER_001/token') },
      { userId: LIVE2.userId, status: 'unknown', action: expect.any(String) },
    ]);
    expect(report.summary).toEqual({ total: 3, ready: 1, notReady: [LIVE.userId, LIVE2.userId] });
    expect(service.lastReport).toBe(report);
    expect(JSON.stringify(report)).not.toContain('paper-token-aaaaaaaaaaaa');
  });
});
