import { describe, expect, it } from 'vitest';
import { FLAVOURS, type Flavour } from '../../../src/contract/flavours.js';
import type { FlavourSpec } from '../../../src/sidecar/endpoint/flavours/flavour.js';
import { FLAVOUR_LIST, FLAVOUR_SPECS } from '../../../src/sidecar/endpoint/flavours/registry.js';
import { ENDPOINTS_TEXT, routeOf } from '../../../src/sidecar/endpoint/request.js';
import { APP_SERVICE } from '../../../src/sidecar/endpoint/flavours/app-service.js';
import { IMDS } from '../../../src/sidecar/endpoint/flavours/imds.js';

describe('flavour modules behind a typed registry', () => {
  it('has one module per flavour of the contract, each under its own id', () => {
    expect(Object.keys(FLAVOUR_SPECS).sort()).toEqual([...FLAVOURS].sort());
    for (const f of FLAVOURS) expect(FLAVOUR_SPECS[f].id).toBe(f);
    expect(FLAVOUR_LIST.map((f) => f.id)).toEqual(FLAVOURS);
  });

  it('a registry missing a flavour, or holding one under another id, does not compile', () => {
    // @ts-expect-error: msi is missing
    const missing: { readonly [F in Flavour]: FlavourSpec<F> } = { app_service: APP_SERVICE, imds: IMDS };
    // @ts-expect-error: the IMDS module under the app_service id
    const swapped: { readonly [F in Flavour]: FlavourSpec<F> } = { app_service: IMDS, imds: IMDS, msi: FLAVOUR_SPECS.msi };
    expect([missing, swapped]).toHaveLength(2);
  });

  it('routes every module by its method and path, and names a wrong method on a known path', () => {
    for (const f of FLAVOUR_LIST) {
      expect(routeOf(f.method, f.path)).toEqual({ flavour: f.id });
      expect(routeOf(f.method, `/${f.path}/`)).toEqual({ flavour: f.id });
      expect(routeOf('DELETE', f.path)).toEqual({ methodNotAllowed: true });
    }
    expect(routeOf('GET', '/METADATA/identity/oauth2/token')).toEqual({ flavour: 'imds' });
    expect(routeOf('GET', '/MSI/TOKEN')).toBeUndefined();
    expect(routeOf('GET', '/nothing')).toBeUndefined();
  });

  it('the 404 names every endpoint', () => {
    expect(ENDPOINTS_TEXT).toBe('GET /msi/token (App Service), GET /metadata/identity/oauth2/token (IMDS) or POST /msi/token (MSI_ENDPOINT)');
  });
});
