import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { buildServer } from '../src/app';
import { createLogger } from '../src/logger';
import { listenMetrics } from '../src/metrics';
import { LogCapture, testConfig } from './helpers';

// No database is reached: /metrics and unknown routes never query it.
const URL = 'postgresql://u:p@127.0.0.1:1/db';

describe('METRICS_PORT: /metrics off the serving port', () => {
  it('the serving port answers 404 for /metrics, and the metrics listener serves it (and nothing else)', async () => {
    const config = testConfig(URL, { METRICS_PORT: '9100' });
    const app = buildServer(config, { logger: createLogger(config.logLevel, new LogCapture()) });
    const metrics = await listenMetrics(app.metrics.registry, 0, '127.0.0.1');
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
      const base = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}`;
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^process_cpu_seconds_total /m);
      assert.equal((await fetch(`${base}/healthz`)).status, 404);
    } finally {
      await new Promise((resolve) => metrics.close(resolve));
      await app.close();
    }
  });

  it('without METRICS_PORT the serving port keeps /metrics', async () => {
    const config = testConfig(URL);
    const app = buildServer(config, { logger: createLogger(config.logLevel, new LogCapture()) });
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});
