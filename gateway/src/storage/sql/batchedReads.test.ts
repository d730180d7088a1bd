import { describe, expect, it } from 'vitest';
import { BatchedReads } from './batchedReads.js';

function counting(rows: Record<string, number>, fail?: string, shared = true) {
  const calls: string[][] = [];
  const reads = new BatchedReads<string, number, number>({
    maxBatch: 3,
    shared,
    load: async (keys, args) => {
      calls.push(keys.map((k, i) => `${k}:${args[i]}`));
      if (fail && keys.includes(fail)) throw new Error(`no ${fail}`);
      return new Map(keys.filter((k) => k in rows).map((k) => [k, rows[k]]));
    },
  });
  return { reads, calls };
}

describe('BatchedReads', () => {
  it('reads asked for in one turn of the event loop go out as one query; one key asked twice is read once', async () => {
    const { reads, calls } = counting({ a: 1, b: 2 });
    const results = await Promise.all([reads.get('a', 10), reads.get('b', 20), reads.get('a', 30), reads.get('nobody', 40)]);
    expect(results).toEqual([1, 2, 1, undefined]);
    expect(calls).toEqual([['a:10', 'b:20', 'nobody:40']]);
    // A later turn is a new batch.
    expect(await reads.get('b', 50)).toBe(2);
    expect(calls).toHaveLength(2);
  });

  it('a take (shared: false) asked for twice in one batch gives its rows to the first caller only', async () => {
    const { reads, calls } = counting({ a: 1 }, undefined, false);
    expect(await Promise.all([reads.get('a', 1), reads.get('a', 2)])).toEqual([1, undefined]);
    expect(calls).toEqual([['a:1']]);
  });

  it('splits a large batch into queries of at most maxBatch keys', async () => {
    const { reads, calls } = counting({ k0: 0, k6: 6 });
    const keys = Array.from({ length: 7 }, (_, i) => `k${i}`);
    const results = await Promise.all(keys.map((k, i) => reads.get(k, i)));
    expect(results).toEqual([0, undefined, undefined, undefined, undefined, undefined, 6]);
    expect(calls.map((c) => c.length)).toEqual([3, 3, 1]);
  });

  it('a failed query fails the reads it carried, not the others', async () => {
    const { reads } = counting({ a: 1, x: 9 }, 'bad');
    const results = await Promise.allSettled(['a', 'b', 'bad', 'x'].map((k) => reads.get(k, 0)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error('no bad'));
    expect(await reads.get('a', 0)).toBe(1);
  });

  it('keys asked for while a query runs wait for it to end and then go out together in one query', async () => {
    const calls: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const reads = new BatchedReads<string, undefined, string>({
      load: async (keys) => {
        calls.push(keys);
        if (calls.length === 1) await gate;
        return new Map(keys.map((k) => [k, k.toUpperCase()]));
      },
    });
    const first = reads.get('a', undefined);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([['a']]); // an idle reader reads at once
    const later = [reads.get('b', undefined), reads.get('c', undefined)];
    await new Promise((r) => setImmediate(r));
    const more = reads.get('d', undefined);
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toHaveLength(1); // b, c and d wait for a's query
    release();
    expect(await Promise.all([first, ...later, more])).toEqual(['A', 'B', 'C', 'D']);
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
  });
});
