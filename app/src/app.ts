import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { SERVICE_NAME, type Config } from './config';
import { createPool, describeDatabaseUrl, pingDatabase } from './db';
import { createLogger, type Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { registerNoteRoutes } from './notes';
import { VERSION } from './version';

export interface Lifecycle {
  /** Set on SIGTERM/SIGINT: /readyz answers 503 from then on. */
  shuttingDown: boolean;
  /** Resolves when shutdown() has finished closing the server and the pool. */
  closed: Promise<void> | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
    pool: Pool;
    metrics: Metrics;
  }
}

export interface ServerOptions {
  /** Defaults to a JSON logger on stdout at config.logLevel. */
  logger?: Logger;
}

function errorCode(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

/**
 * Builds the HTTP server (not listening yet) and its PostgreSQL pool. Closing the server
 * (`app.close()` or `shutdown(app)`) waits for in-flight requests, then closes the pool.
 */
export function buildServer(config: Config, options: ServerOptions = {}): FastifyInstance {
  const logger = options.logger ?? createLogger(config.logLevel);
  const pool = createPool(
    config.databaseUrl,
    { caCert: config.databaseCaCert, max: config.dbPoolMax, applicationName: `esteira-${SERVICE_NAME}` },
    logger,
  );
  const metrics = createMetrics();

  const app = Fastify({
    loggerInstance: logger,
    // We log one line per request ourselves (onResponse), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    bodyLimit: 16 * 1024,
    requestTimeout: 30_000,
    // While closing: new requests on open connections get 503 + Connection: close, idle keep-alive
    // connections are closed, in-flight requests run to completion.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  app.decorate('pool', pool);
  app.decorate('metrics', metrics);
  app.decorate('lifecycle', { shuttingDown: false, closed: undefined } satisfies Lifecycle);

  // A request that was already running when shutdown began must not leave its keep-alive connection
  // open: server.close() only reaps connections that are idle at that moment and would otherwise wait
  // for the client's keep-alive timeout. Also tells clients to reconnect (elsewhere) during the delay.
  app.addHook('onSend', async (request, reply) => {
    if (app.lifecycle.shuttingDown && request.raw.httpVersionMajor < 2) reply.header('connection', 'close');
  });

  // FAIL_AFTER_SECONDS: from then on, everything but the probes and /metrics fails (counted by
  // onResponse below, as any 500 is), while the pod stays live and ready.
  const failFrom = config.failAfterSeconds === undefined ? undefined : Date.now() + config.failAfterSeconds * 1000;
  app.addHook('onRequest', async (request, reply) => {
    if (failFrom === undefined || Date.now() < failFrom) return;
    if (['/healthz', '/readyz', '/metrics'].includes(request.url.split('?')[0] ?? '')) return;
    reply.code(500).send({ error: 'internal_server_error', message: 'failing on purpose (FAIL_AFTER_SECONDS)' });
    return reply;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    request.log.info(
      {
        method: request.method,
        url: request.url,
        route,
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        remoteAddress: request.ip,
        userAgent: request.headers['user-agent'],
      },
      'request completed',
    );
  });

  app.addHook('onClose', async () => {
    await pool.end();
    app.log.info('database pool closed');
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status =
      typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600
        ? error.statusCode
        : 500;
    if (status >= 500) {
      // The error (a database's message, a stack) is logged, never answered: the client may be anyone,
      // DEBUG=true included. The request id lets whoever reports it find the log line.
      request.log.error({ err: error }, 'request failed');
      return reply.code(status).send({ error: errorCode(status), message: 'internal server error', requestId: request.id });
    }
    request.log.debug({ err: error }, 'request rejected');
    return reply.code(status).send({ error: errorCode(status), message: error.message });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route for ${request.method} ${request.url}` }),
  );

  app.get('/', async () => ({ service: SERVICE_NAME, version: VERSION, title: config.appTitle }));

  // Liveness: the event loop answers. Never touches the database, so a database outage
  // makes pods unready (out of the Service) instead of restarting them.
  app.get('/healthz', async () => ({ status: 'ok' }));

  let lastReady: boolean | undefined;
  app.get('/readyz', async (request, reply) => {
    if (app.lifecycle.shuttingDown) {
      return reply.code(503).send({ status: 'unavailable', reason: 'shutting down' });
    }
    try {
      await pingDatabase(pool, config.readyTimeoutMs);
      if (lastReady === false) request.log.info('database reachable again; ready');
      lastReady = true;
      return { status: 'ok' };
    } catch (err) {
      // The database's own message (host names, user names) goes to the log, not to whoever asks.
      if (lastReady !== false) request.log.warn({ err }, 'database unreachable; not ready');
      else request.log.debug({ err }, 'database still unreachable');
      lastReady = false;
      return reply.code(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
  });

  // With METRICS_PORT, /metrics is served on that port alone (see listenMetrics), never on this one.
  if (config.metricsPort === undefined) {
    app.get('/metrics', async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    });
  }

  registerNoteRoutes(app, pool);

  app.log.debug({ database: describeDatabaseUrl(config.databaseUrl) }, 'server built');
  return app;
}

/**
 * Graceful shutdown: report not-ready, optionally keep serving for `delayMs` (so the Service endpoints are
 * updated before the listener goes away), then stop accepting connections, let in-flight requests finish
 * and close the pool. Idempotent: a second signal waits for the first shutdown.
 */
export function shutdown(app: FastifyInstance, delayMs = 0): Promise<void> {
  if (app.lifecycle.closed) return app.lifecycle.closed;
  app.lifecycle.shuttingDown = true;
  app.lifecycle.closed = (async () => {
    if (delayMs > 0) {
      app.log.info({ delayMs }, 'shutting down: not ready, still serving during the delay');
      await sleep(delayMs);
    }
    app.log.info('shutting down: closing the listener and waiting for in-flight requests');
    await app.close();
  })();
  return app.lifecycle.closed;
}
