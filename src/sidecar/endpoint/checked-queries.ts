import type { Flavour } from '../../contract/flavours.js';

/** Longest query string remembered: SDKs send ~100 characters; longer ones are checked every time. */
export const MAX_REMEMBERED_QUERY_CHARS = 512;
/** Most query strings remembered per flavour; a full set is emptied and starts again. */
export const MAX_REMEMBERED_QUERIES = 64;

/**
 * The outcome of checking a query string, remembered for the exact string and flavour that passed.
 * An app asks with the same query string again and again; checking it (URL decoding, api-version,
 * resource, identity selector, allowed scopes) is pure — the same string of the same flavour always
 * gives the same outcome — so it is done once. Only what the query alone decides is remembered:
 * everything taken from the request's headers (relay headers, the secret, Metadata) is checked on
 * every request, and a request whose query differs from a remembered one in any character is
 * checked afresh. Only queries that passed are remembered; bounded in entries and length.
 *
 * @example
 * const checked = new CheckedQueries<Checked>();
 * const c = checked.get('app_service', query) ?? checked.remember('app_service', query, check(query));
 */
export class CheckedQueries<T> {
  private readonly byFlavour = new Map<Flavour, Map<string, T>>();

  /** The remembered outcome for exactly this query string of this flavour, if any. */
  get(flavour: Flavour, query: string): T | undefined {
    return this.byFlavour.get(flavour)?.get(query);
  }

  /** Remembers a passed check (unless the query is too long to keep) and returns it. */
  remember(flavour: Flavour, query: string, outcome: T): T {
    if (query.length > MAX_REMEMBERED_QUERY_CHARS) return outcome;
    let m = this.byFlavour.get(flavour);
    if (!m) {
      m = new Map();
      this.byFlavour.set(flavour, m);
    }
    if (m.size >= MAX_REMEMBERED_QUERIES) m.clear();
    m.set(query, outcome);
    return outcome;
  }

  /** Entries held, over every flavour (for tests). */
  size(): number {
    let n = 0;
    for (const m of this.byFlavour.values()) n += m.size;
    return n;
  }
}
