import { Logger } from '@nestjs/common';
import { ClockOffset } from './clock-offset.js';

function logger() {
  const lines: string[] = [];
  const l = new Logger('test');
  l.error = (m: unknown) => void lines.push(`error ${String(m)}`);
  l.log = (m: unknown) => void lines.push(`log ${String(m)}`);
  l.warn = (m: unknown) => void lines.push(`warn ${String(m)}`);
  return { l, lines };
}

describe('ClockOffset', () => {
  it('corrects the local clock by the offset to the server time, measured halfway through the round trip', async () => {
    let local = 1_000_000;
    const { l } = logger();
    const c = new ClockOffset(() => local, 60_000, l, () => local);
    expect(c.now()).toBe(1_000_000);
    // Local clock 30 s ahead; the reply takes 10 ms, TIME is read halfway.
    await c.measure(async () => {
      local += 10;
      return ['970', '005000'];
    });
    expect(c.status()).toMatchObject({ offsetMs: -30_000, skewExceeded: false });
    expect(c.now()).toBe(local - 30_000);
  });

  it('between measurements the fleet time runs on the monotonic clock: a step of the wall clock moves nothing', async () => {
    let wall = 1_000_000;
    let mono = 5;
    const { l } = logger();
    const c = new ClockOffset(() => wall, 60_000, l, () => mono);
    await c.measure(async () => ['1000', '0']);
    wall += 45_000; // the host clock steps 45 s ahead
    mono += 2_000; // two real seconds pass
    expect(c.now()).toBe(1_002_000);
    expect(c.status().offsetMs).toBe(0);
    // The next measurement reports the step as skew, and the fleet time still follows Redis.
    await c.measure(async () => ['1002', '0']);
    expect(c.status().offsetMs).toBe(-43_000);
    expect(c.now()).toBe(1_002_000);
  });

  it('keeps the reading with the shortest round trip: one delayed by a stalled event loop does not misplace the fleet time', async () => {
    let mono = 0;
    const redisNow = () => 1_000_000_000 + mono;
    const { l } = logger();
    const c = new ClockOffset(() => 5_000_000 + mono, 60_000, l, () => mono);
    // Redis reads its clock 1 ms after the send; the reply is then handled `stallMs` later.
    const reading = (stallMs: number) => async () => {
      mono += 1;
      const at = redisNow();
      mono += stallMs;
      return [String(Math.floor(at / 1000)), String((at % 1000) * 1000)];
    };
    const stalls = [600, 1, 1];
    await c.measure(() => reading(stalls.shift() ?? 1)());
    expect(Math.abs(c.now() - redisNow())).toBeLessThanOrEqual(1);
    // A later measurement whose readings all waited behind stalls leaves the precise anchor in place.
    mono += 30_000;
    await c.measure(reading(800));
    expect(Math.abs(c.now() - redisNow())).toBeLessThanOrEqual(5);
  });

  it('reports a skew beyond the bound once per streak, and its end once', async () => {
    let server = 0;
    const { l, lines } = logger();
    const c = new ClockOffset(() => 100_000, 60_000, l);
    for (const s of [200, 200, 200, 100, 100]) {
      server = s;
      await c.measure(async () => [String(server), '0']);
    }
    expect(lines).toEqual([expect.stringMatching(/^error This host's clock is 100 s behind Redis' clock/), expect.stringMatching(/^log Clock skew back within 60 s/)]);
  });

  it('a refused TIME keeps the last offset and warns once', async () => {
    const { l, lines } = logger();
    const c = new ClockOffset(() => 0, 60_000, l);
    await c.measure(async () => ['5', '0']);
    const err = Object.assign(new Error("NOPERM User tb has no permissions to run the 'time' command"), { name: 'ReplyError' });
    for (let i = 0; i < 3; i++) await c.measure(() => Promise.reject(err)).catch((e: unknown) => c.failed(e));
    expect(c.status().offsetMs).toBe(5_000);
    expect(lines.filter((x) => x.startsWith('warn'))).toHaveLength(1);
  });
});
