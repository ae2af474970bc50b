import { FLAVOURS, type Flavour } from '../../../contract/flavours.js';
import { APP_SERVICE } from './app-service.js';
import type { FlavourSpec } from './flavour.js';
import { IMDS } from './imds.js';
import { MSI } from './msi.js';

/**
 * Every flavour's module, by id. The type demands one entry per flavour of the contract, each of
 * its own id: a flavour added to src/contract/flavours.ts without its module here is a compile
 * error.
 */
export const FLAVOUR_SPECS: { readonly [F in Flavour]: FlavourSpec<F> } = { app_service: APP_SERVICE, imds: IMDS, msi: MSI };

/** The modules in the contract's order. */
export const FLAVOUR_LIST: readonly FlavourSpec[] = FLAVOURS.map((f) => FLAVOUR_SPECS[f]);

export type { FlavourSpec };
