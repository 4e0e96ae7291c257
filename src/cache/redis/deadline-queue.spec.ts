import { DeadlineQueue } from './deadline-queue.js';

const never = () => new Promise<never>(() => undefined);
const after = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

describe('DeadlineQueue', () => {
  it('passes through what the operation settles with, in time', async () => {
    const q = new DeadlineQueue(200);
    await expect(q.bound(Promise.resolve('ok'))).resolves.toBe('ok');
    await expect(q.bound(Promise.reject(new Error('WRONGTYPE')))).rejects.toThrow('WRONGTYPE');
    await expect(q.bound(after(20, 'late but in time'))).resolves.toBe('late but in time');
    expect(q.size).toBe(0);
    q.close();
  });

  it('rejects an operation that never settles once its budget has passed, not before', async () => {
    const q = new DeadlineQueue(60);
    const t0 = performance.now();
    await expect(q.bound(never())).rejects.toThrow('Command timed out');
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(59);
    expect(took).toBeLessThan(250);
    expect(q.size).toBe(0);
  });

  it('bounds each of many operations by its own start, with one timer', async () => {
    const q = new DeadlineQueue(80);
    const started: number[] = [];
    const outcomes: Promise<[string, number]>[] = [];
    for (let i = 0; i < 5; i++) {
      started.push(performance.now());
      // Odd ones answer quickly; even ones never do.
      const op = i % 2 ? after(5, `answer ${i}`) : never();
      outcomes.push(q.bound(op).then((v) => [v, performance.now()] as [string, number], (e: Error) => [e.message, performance.now()] as [string, number]));
      await after(20, null);
    }
    const results = await Promise.all(outcomes);
    results.forEach(([what, at], i) => {
      if (i % 2) expect(what).toBe(`answer ${i}`);
      else {
        expect(what).toBe('Command timed out');
        expect(at - started[i]).toBeGreaterThanOrEqual(79);
        expect(at - started[i]).toBeLessThan(250);
      }
    });
    expect(q.size).toBe(0);
  });

  it('an answer arriving after the deadline does not change the outcome', async () => {
    const q = new DeadlineQueue(30);
    await expect(q.bound(after(80, 'too late'))).rejects.toThrow('Command timed out');
    await after(70, null);
    expect(q.size).toBe(0);
  });

  it('with a continuation, settles with what it makes of the answer, the failure or the timeout', async () => {
    const q = new DeadlineQueue(60);
    const heard: string[] = [];
    const next = { answered: (v: string) => `answered ${v}`, failed: (err: unknown) => `failed: ${(err as Error).message}` };
    const outcome = { answered: () => heard.push('answered'), failed: (_e: unknown, timedOut: boolean) => heard.push(timedOut ? 'timed out' : 'failed') };
    await expect(q.bound(Promise.resolve('ok'), outcome, next)).resolves.toBe('answered ok');
    await expect(q.bound(Promise.reject(new Error('NOSCRIPT')), outcome, next)).resolves.toBe('failed: NOSCRIPT');
    await expect(q.bound(never(), outcome, next)).resolves.toBe('failed: Command timed out');
    // The breaker hears every outcome, whatever the continuation makes of it.
    expect(heard).toEqual(['answered', 'failed', 'timed out']);
    const throwing = {
      answered: (): string => {
        throw new Error('bad reply');
      },
      failed: () => 'unused',
    };
    await expect(q.bound(Promise.resolve('x'), outcome, throwing)).rejects.toThrow('bad reply');
    const failing = {
      answered: () => 'unused',
      failed: (): string => {
        throw new Error('journal full');
      },
    };
    await expect(q.bound(never(), outcome, failing)).rejects.toThrow('journal full');
    // A throwing continuation still leaves the outcome with the breaker.
    expect(heard).toEqual(['answered', 'failed', 'timed out', 'answered', 'timed out']);
    expect(q.size).toBe(0);
  });
});
