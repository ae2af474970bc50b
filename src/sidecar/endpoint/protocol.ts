/**
 * Wire details shared by the managed-identity protocols the endpoint speaks. Each flavour is one
 * module in ./flavours/ (path, method, caller check, api-version); their names are in the contract.
 */

/** Header names, lower-case as node delivers them. */
export const IDENTITY_HEADER = 'x-identity-header';
export const METADATA_HEADER = 'metadata';
/** Headers that say a proxy relayed the request (the caller is then not a process of the pod), as node delivers them, with their usual spelling. */
export const RELAY_HEADERS: Readonly<Record<string, string>> = { 'x-forwarded-for': 'X-Forwarded-For', forwarded: 'Forwarded', 'x-real-ip': 'X-Real-IP' };
/** The only body type of POST /msi/token (MSI_ENDPOINT, as Cloud Shell). */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** Query or form keys that select a user-assigned identity, and what they name. */
export const IDENTITY_SELECTORS: Record<string, 'client_id' | 'object_id' | 'resource_id'> = {
  client_id: 'client_id',
  clientid: 'client_id',
  object_id: 'object_id',
  principal_id: 'object_id',
  mi_res_id: 'resource_id',
  msi_res_id: 'resource_id',
  'msi-res-id': 'resource_id',
};

/** Largest form body accepted on POST /msi/token. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Largest request head accepted (node's maxHeaderSize). */
export const MAX_HEADER_BYTES = 8 * 1024;
