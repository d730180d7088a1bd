/** GET /healthz (liveness, JSON) and GET /metrics (Prometheus text exposition format). */
import { sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';

export type MetricsSource = () => Promise<Record<string, number>>;

export function registerHealthApi(router: Router, version: string, metrics: MetricsSource): void {
  const startedAt = Date.now();
  router.add('GET', '/healthz', (_req, res) => {
    sendJson(res, 200, { status: 'ok', version, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) });
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
