/**
 * GET /healthz (readiness, JSON) and GET /metrics (Prometheus text exposition format).
 *
 * /healthz answers 200 only when every store the node depends on answers (the database, and
 * Redis when several nodes share it), within a bound; otherwise 503 with which one did not — so
 * a load balancer stops sending users to a node that could not serve them.
 */
import { sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';

export type MetricsSource = () => Promise<Record<string, number>>;

/** A store's check: resolves when it answers. */
export type StoreCheck = () => Promise<unknown>;

/** How long a store may take to answer a health check before the node is reported not ready. */
export const HEALTH_CHECK_TIMEOUT_MS = 2000;

/** `node`: this gateway node's id when there are several (so one can tell which answered behind a balancer). */
export function registerHealthApi(router: Router, version: string, metrics: MetricsSource, stores: Record<string, StoreCheck> = {}, node?: string): void {
  const startedAt = Date.now();
  router.add('GET', '/healthz', async (_req, res) => {
    const failing: string[] = [];
    await Promise.all(
      Object.entries(stores).map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), HEALTH_CHECK_TIMEOUT_MS)));
        try {
          await Promise.race([check(), timeout]);
        } catch {
          failing.push(name);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const uptimeSeconds = Math.round((Date.now() - startedAt) / 1000);
    if (failing.length) {
      return sendJson(res, 503, { status: 'unavailable', version, uptimeSeconds, node, error: { code: 'store_unavailable', message: `Not ready: ${failing.sort().join(' and ')} did not answer` } });
    }
    sendJson(res, 200, { status: 'ok', version, uptimeSeconds, node });
  });
  router.add('GET', '/metrics', async (_req, res) => {
    const values = await metrics();
    const mem = process.memoryUsage();
    values.process_resident_memory_bytes = mem.rss;
    values.process_heap_used_bytes = mem.heapUsed;
    let body = '';
    for (const [name, value] of Object.entries(values)) {
      const metric = name.startsWith('process_') ? name : `parley_${name}`;
      body += `# TYPE ${metric} ${name.endsWith('_total') ? 'counter' : 'gauge'}\n${metric} ${value}\n`;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(body);
  });
}
