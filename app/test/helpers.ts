import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Client } from 'pg';
import { buildServer } from '../src/app';
import { loadConfig, type Config } from '../src/config';
import { createLogger, type Logger } from '../src/logger';
import { runMigrations } from '../src/migrations';

export const APP_DIR = join(__dirname, '..');
export const MIGRATIONS_DIR = join(APP_DIR, 'migrations');

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through "npm test" (scripts/test-with-postgres.sh)`);
  }
  return value;
}

/** The throwaway cluster's DATABASE_URL exported by scripts/test-with-postgres.sh. */
export function adminUrl(): string {
  return requireEnv('DATABASE_URL');
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Creates an empty database on the test cluster and returns its URL. */
export async function createTempDatabase(prefix = 't'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(adminUrl(), name),
    drop: async () => {
      const c = new Client({ connectionString: adminUrl() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function query<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Captures pino's JSON lines in memory. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
}

export const silentLogger = (): Logger => createLogger('error', new LogCapture());

export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'ERROR', READY_TIMEOUT_MS: '1000', ...env });
}

export interface RunningServer {
  app: FastifyInstance;
  baseUrl: string;
  logs: LogCapture;
  close: () => Promise<void>;
}

/** Builds the server in-process and listens on a random 127.0.0.1 port. */
export async function startServer(config: Config): Promise<RunningServer> {
  const logs = new LogCapture();
  const app = buildServer(config, { logger: createLogger(config.logLevel, logs) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    logs,
    close: async () => {
      if (!app.lifecycle.closed) await app.close();
      else await app.lifecycle.closed;
    },
  };
}

export async function migrate(url: string): Promise<void> {
  await runMigrations({ databaseUrl: url, dir: MIGRATIONS_DIR, logger: silentLogger() });
}

/** Runs pg_ctl on the test cluster as its owner (the suite may run as root, postgres may not). */
export function pgCtl(...args: string[]): void {
  const bin = join(requireEnv('PG_TEST_BINDIR'), 'pg_ctl');
  const full = [bin, '-D', requireEnv('PG_TEST_DATADIR'), '-l', requireEnv('PG_TEST_LOGFILE'), ...args];
  const asRoot = process.getuid?.() === 0;
  const [cmd, ...rest] = asRoot ? ['runuser', '-u', requireEnv('PG_TEST_OS_USER'), '--', ...full] : full;
  const r = spawnSync(cmd as string, rest, { encoding: 'utf8', cwd: '/' });
  if (r.status !== 0) {
    throw new Error(`pg_ctl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout || String(r.error)}`);
  }
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export interface SpawnedProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node <script>` from the compiled dist/ with only the given environment (plus PATH). */
export function spawnNode(script: string, env: Record<string, string>): SpawnedProcess {
  const child = spawn(process.execPath, [join(APP_DIR, 'dist', script)], {
    cwd: APP_DIR,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      // Only set when the suite runs on a relocated node build; harmless otherwise.
      ...(process.env.LD_LIBRARY_PATH ? { LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
