import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseFault, parseScheduleOptions } from './faults.js';
import { BodyTooLarge, readBody, sendJson } from './http.js';
import type { Fault, FaultScheduleOptions } from './types.js';

/** The controls the admin API exposes for out-of-process tests, benchmarks and the soak. */
export interface AdminControls {
  state(): Record<string, unknown>;
  inject(fault: Fault, o: FaultScheduleOptions): void;
  clearFaults(): void;
  setTokenLifetime(sec: number): void;
  setRefreshIn(sec: number | undefined): void;
}

/** Base path of the admin API. */
export const ADMIN_PREFIX = '/_emulator/';

/**
 * Serves the admin API:
 * `GET /_emulator/state`, `POST /_emulator/faults` `{fault, count?, durationMs?, scope?}`,
 * `DELETE /_emulator/faults`, `POST /_emulator/lifetime` `{seconds, refreshIn?}` (refreshIn null clears it).
 *
 * @example
 * if (path.startsWith(ADMIN_PREFIX)) return handleAdmin(req, res, path, controls);
 */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string, c: AdminControls): Promise<void> {
  const route = `${req.method ?? 'GET'} ${path}`;
  try {
    switch (route) {
      case 'GET /_emulator/state':
        return sendJson(res, 200, c.state());
      case 'POST /_emulator/faults': {
        const body = await readJsonObject(req);
        const fault = parseFault(body.fault);
        const schedule = parseScheduleOptions(body);
        c.inject(fault, schedule);
        return sendJson(res, 201, { injected: fault, ...schedule });
      }
      case 'DELETE /_emulator/faults':
        c.clearFaults();
        return sendJson(res, 200, { cleared: true });
      case 'POST /_emulator/lifetime': {
        const body = await readJsonObject(req);
        const seconds = body.seconds;
        if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1) throw new Error('seconds must be a whole number of at least 1');
        const refreshIn = body.refreshIn;
        if (refreshIn !== undefined && refreshIn !== null && (typeof refreshIn !== 'number' || !Number.isInteger(refreshIn) || refreshIn < 1)) {
          throw new Error('refreshIn must be a whole number of at least 1, or null to stop sending refresh_in');
        }
        c.setTokenLifetime(seconds);
        if (refreshIn !== undefined) c.setRefreshIn(refreshIn === null ? undefined : (refreshIn as number));
        return sendJson(res, 200, { seconds, refreshIn: refreshIn ?? null });
      }
      default:
        return sendJson(res, 404, {
          error: 'not_found',
          error_description: `No admin endpoint ${route}. Use GET /_emulator/state, POST or DELETE /_emulator/faults, POST /_emulator/lifetime.`,
        });
    }
  } catch (err) {
    const status = err instanceof BodyTooLarge ? 413 : 400;
    sendJson(res, status, { error: 'invalid_request', error_description: err instanceof Error ? err.message : String(err) });
  }
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req, 64 * 1024);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error('the request body must be a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('the request body must be a JSON object');
  return value as Record<string, unknown>;
}
