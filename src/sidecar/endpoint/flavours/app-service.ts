import { MSI_TOKEN_PATH } from '../../../contract/endpoint.js';
import type { FlavourSpec } from './flavour.js';

/**
 * App Service 2019-08-01: `GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=…` with the
 * `X-IDENTITY-HEADER` secret. What the webhook points every SDK at.
 */
export const APP_SERVICE: FlavourSpec<'app_service'> = {
  id: 'app_service',
  title: 'App Service',
  method: 'GET',
  path: MSI_TOKEN_PATH,
  pathAnyCase: false,
  caller: 'identity-header',
  params: 'query',
  apiVersion: '2019-08-01',
};
