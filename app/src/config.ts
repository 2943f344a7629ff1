import { z } from 'zod';

export const SERVICE_NAME = 'sample';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  /** TCP port the HTTP server listens on. */
  port: number;
  /**
   * When set, /metrics is served on this port only, not on `port`: the port a load balancer
   * forwards to then never exposes it.
   */
  metricsPort: number | undefined;
  /** Interface to bind; 0.0.0.0 in a container. */
  host: string;
  /** postgres:// or postgresql:// URL; `sslmode` in its query string is honoured (see db.ts). */
  databaseUrl: string;
  /** Optional PEM CA bundle used to verify the database server certificate. */
  databaseCaCert: string | undefined;
  /** Maximum connections in the pool. */
  dbPoolMax: number;
  debug: boolean;
  /** Effective level: DEBUG=true forces 'debug' whatever LOG_LEVEL says. */
  logLevel: LogLevel;
  appTitle: string;
  /** Upper bound for the readiness `SELECT 1`. */
  readyTimeoutMs: number;
  /** Time to keep serving (while reporting not-ready) after SIGTERM before closing the listener. */
  shutdownDelayMs: number;
  /** Hard limit for the whole graceful shutdown; the process exits 1 when it is exceeded. */
  shutdownTimeoutMs: number;
  /**
   * A release that fails on purpose: this many seconds after start, every route but the probes and
   * /metrics answers 500. It passes a smoke test and fails a little later, as the deploy's watch
   * window must catch (e2e/operations.e2e.ts). Unset: never.
   */
  failAfterSeconds: number | undefined;
}

export class ConfigError extends Error {
  readonly issues: string[];

  constructor(issues: string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Kubernetes and shells often set variables to "" to mean "unset". */
const blankToUndefined = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

const intInRange = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

const booleanString = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => v === 'true' || v === 'false', `${name} must be "true" or "false"`)
    .transform((v) => v === 'true');

const LOG_LEVELS: Record<string, LogLevel> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  WARNING: 'warn',
  ERROR: 'error',
};

const envSchema = z.object({
  PORT: optional(intInRange('PORT', 1, 65535)),
  METRICS_PORT: optional(intInRange('METRICS_PORT', 1, 65535)),
  HOST: optional(z.string().trim()),
  DATABASE_URL: z.preprocess(
    blankToUndefined,
    z
      .string({ error: 'DATABASE_URL is required (e.g. postgresql://user:password@host:5432/dbname?sslmode=require)' })
      .trim()
      .refine(
        (v) => /^postgres(ql)?:\/\/\S+$/.test(v),
        'DATABASE_URL must be a postgres:// or postgresql:// URL (e.g. postgresql://user:password@host:5432/dbname)',
      ),
  ),
  DATABASE_CA_CERT: optional(
    z.string().refine((v) => v.includes('-----BEGIN CERTIFICATE-----'), 'DATABASE_CA_CERT must be a PEM certificate'),
  ),
  PG_POOL_MAX: optional(intInRange('PG_POOL_MAX', 1, 100)),
  DEBUG: optional(booleanString('DEBUG')),
  LOG_LEVEL: optional(
    z
      .string()
      .trim()
      .toUpperCase()
      .refine((v) => v in LOG_LEVELS, 'LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR'),
  ),
  APP_TITLE: optional(z.string().trim().max(200, 'APP_TITLE must be at most 200 characters')),
  READY_TIMEOUT_MS: optional(intInRange('READY_TIMEOUT_MS', 100, 60_000)),
  SHUTDOWN_DELAY_MS: optional(intInRange('SHUTDOWN_DELAY_MS', 0, 120_000)),
  SHUTDOWN_TIMEOUT_MS: optional(intInRange('SHUTDOWN_TIMEOUT_MS', 1_000, 300_000)),
  FAIL_AFTER_SECONDS: optional(intInRange('FAIL_AFTER_SECONDS', 0, 86_400)),
});

/**
 * Validates the environment and returns the typed configuration.
 * Throws ConfigError listing every problem at once, so a bad deploy fails fast with one clear message.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = issue.path.join('.');
        // Our messages already name the variable; zod's generic ones do not.
        return issue.message.includes(key) ? issue.message : `${key}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const debug = e.DEBUG ?? false;
  const shutdownDelayMs = e.SHUTDOWN_DELAY_MS ?? 0;
  const shutdownTimeoutMs = e.SHUTDOWN_TIMEOUT_MS ?? 10_000;
  if (shutdownDelayMs >= shutdownTimeoutMs) {
    throw new ConfigError(['SHUTDOWN_DELAY_MS must be smaller than SHUTDOWN_TIMEOUT_MS']);
  }
  const port = e.PORT ?? 8000;
  if (e.METRICS_PORT === port) {
    throw new ConfigError([`METRICS_PORT must differ from PORT (${port}): /metrics gets a port of its own`]);
  }
  return {
    port,
    metricsPort: e.METRICS_PORT,
    host: e.HOST ?? '0.0.0.0',
    databaseUrl: e.DATABASE_URL,
    databaseCaCert: e.DATABASE_CA_CERT,
    dbPoolMax: e.PG_POOL_MAX ?? 10,
    debug,
    logLevel: debug ? 'debug' : (LOG_LEVELS[e.LOG_LEVEL ?? 'INFO'] ?? 'info'),
    appTitle: e.APP_TITLE ?? 'esteira sample',
    readyTimeoutMs: e.READY_TIMEOUT_MS ?? 2_000,
    shutdownDelayMs,
    shutdownTimeoutMs,
    failAfterSeconds: e.FAIL_AFTER_SECONDS,
  };
}
