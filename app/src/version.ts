import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The service version, read once from package.json (dist/../package.json in the image,
 * src/../package.json under ts-node). Reading is fine on a read-only root filesystem.
 */
function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const VERSION = readVersion();
