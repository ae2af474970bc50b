import { MSI_TOKEN_PATH } from '../../../contract/endpoint.js';
import type { FlavourSpec } from './flavour.js';

/** The legacy `MSI_ENDPOINT` (Cloud Shell): `POST /msi/token` with a form body and `Metadata: true`. */
export const MSI: FlavourSpec<'msi'> = {
  id: 'msi',
  title: 'MSI_ENDPOINT',
  method: 'POST',
  path: MSI_TOKEN_PATH,
  pathAnyCase: false,
  caller: 'metadata',
  params: 'form',
  apiVersion: undefined,
};
