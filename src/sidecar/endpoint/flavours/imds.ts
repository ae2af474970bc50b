import { IMDS_TOKEN_PATH } from '../../../contract/endpoint.js';
import type { FlavourSpec } from './flavour.js';

/** IMDS 2018-02-01: `GET /metadata/identity/oauth2/token` with `Metadata: true` and no secret. */
export const IMDS: FlavourSpec<'imds'> = {
  id: 'imds',
  title: 'IMDS',
  method: 'GET',
  path: IMDS_TOKEN_PATH,
  pathAnyCase: true,
  caller: 'metadata',
  params: 'query',
  apiVersion: '2018-02-01',
};
