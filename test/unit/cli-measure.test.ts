import { integerFlag, numberFlag, openLoop } from '../../app/cli/measure';

describe('openLoop', () => {
  test('issues one operation per 1/rate s of the run, stamped with its intended start', async () => {
    const stamps: bigint[] = [];
    const issued = await openLoop(1000, 1000, Date.now() + 200, async (at) => {
      stamps.push(at);
    });
    expect(issued).toBe(stamps.length);
    expect(issued).toBeGreaterThanOrEqual(199);
    expect(issued).toBeLessThanOrEqual(201);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 1]!).toBe(1_000_000n);
  });

  test('issues the operations that came due while the event loop stalled, late, instead of skipping them', async () => {
    let stalled = false;
    const issued = await openLoop(1000, 1000, Date.now() + 200, async () => {
      if (stalled) return;
      stalled = true;
      const until = Date.now() + 120;
      while (Date.now() < until); // a stall past most of the run
    });
    expect(issued).toBeGreaterThanOrEqual(199);
    expect(issued).toBeLessThanOrEqual(201);
  });

  test('keeps at most `concurrency` operations in flight; the rest wait their turn', async () => {
    let inFlight = 0;
    let most = 0;
    await openLoop(2000, 3, Date.now() + 100, async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
    });
    expect(most).toBe(3);
  });

  test('stops issuing and stops waiting when aborted, even with operations that never answer', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    const startedAt = Date.now();
    const issued = await openLoop(1000, 1000, Date.now() + 10_000, () => new Promise<void>(() => {}), stop.signal);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(issued).toBeGreaterThan(0);
    expect(issued).toBeLessThan(1000);
  });
});

describe('flags', () => {
  test('accept numbers and integers within their range', () => {
    expect(numberFlag({ rate: '2.5' }, 'rate', 0, 10)).toBe(2.5);
    expect(integerFlag({ nodes: '5' }, 'nodes', 3, 64)).toBe(5);
  });

  test.each([
    [{ rate: '' }, 'rate', '--rate: "" must be a number within 0..10'],
    [{ rate: 'fast' }, 'rate', '--rate: "fast" must be a number within 0..10'],
    [{ rate: '11' }, 'rate', '--rate: "11" must be a number within 0..10'],
  ])('rejects number flag %j, naming it, the value and the range', (values, name, message) => {
    expect(() => numberFlag(values, name, 0, 10)).toThrow(message);
  });

  test.each([
    [{ nodes: '3.5' }, '--nodes: "3.5" must be an integer within 3..64'],
    [{ nodes: '-4' }, '--nodes: "-4" must be an integer within 3..64'],
    [{ nodes: '65' }, '--nodes: "65" must be an integer within 3..64'],
  ])('rejects integer flag %j, naming it, the value and the range', (values, message) => {
    expect(() => integerFlag(values, 'nodes', 3, 64)).toThrow(message);
  });
});
