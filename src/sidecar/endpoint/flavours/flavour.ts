import type { Flavour } from '../../../contract/flavours.js';

/**
 * One managed-identity protocol the endpoint speaks, as data: where it is reached, who may call
 * it, where its parameters travel and which api-version it speaks. The request checks and the
 * server read these fields; nothing else in the endpoint names a flavour.
 */
export interface FlavourSpec<F extends Flavour = Flavour> {
  id: F;
  /** how the refusals and the README name it */
  title: string;
  method: 'GET' | 'POST';
  path: string;
  /** IMDS matches its path in any case, as Azure's does */
  pathAnyCase: boolean;
  /** `identity-header`: the X-IDENTITY-HEADER secret; `metadata`: `Metadata: true`, as the real service */
  caller: 'identity-header' | 'metadata';
  /** `query`: GET parameters (remembered per query string); `form`: a form body, checked every time */
  params: 'query' | 'form';
  /** the one api-version accepted when the caller sends one; undefined: any */
  apiVersion: string | undefined;
}
