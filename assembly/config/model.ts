// The compiled, runtime form of the filter configuration (docs/filter-config.md). Built once per
// proxy_on_configure; the hot path only reads it. Byte strings are ArrayBuffers so requests compare raw bytes.

import { challengeFor } from "./challenge";
import { KeyTable } from "./keytable";

export class Api {
  id: ArrayBuffer = new ArrayBuffer(0);
  prefix: ArrayBuffer = new ArrayBuffer(0);
  /** Exact host names, or for "*.example.com" the suffix ".example.com" with wildcard[i] set. */
  hosts: ArrayBuffer[] = [];
  wildcard: bool[] = [];
  methods: ArrayBuffer[] = [];
}

export class Limit {
  constructor(public requests: u32, public per: i32) {}
}

export class Plan {
  id: ArrayBuffer = new ArrayBuffer(0);
  limits: Limit[] = [];
  /** Names as configured; resolved to apiBits once every API is known. */
  apiIdNames: string[] = [];
  /** Bit i set = the plan includes apis[i]. */
  apiBits: StaticArray<u32> = new StaticArray<u32>(0);

  allowsApi(i: i32): bool {
    const w = i >>> 5;
    if (w >= this.apiBits.length) return false;
    return (unchecked(this.apiBits[w]) & (1 << (i & 31))) != 0;
  }
}

export class KeyLocation {
  constructor(public isQuery: bool, public name: ArrayBuffer, public prefix: ArrayBuffer) {}
}

export class UsageTarget {
  cluster: ArrayBuffer = new ArrayBuffer(0);
  authority: ArrayBuffer = new ArrayBuffer(0);
  path: ArrayBuffer = new ArrayBuffer(0);
  intervalMs: u32 = 10000;
  timeoutMs: u32 = 5000;
  tokenHeader: ArrayBuffer = String.UTF8.encode("authorization");
  token: ArrayBuffer = new ArrayBuffer(0);
  hasToken: bool = false;
  maxEntries: i32 = 10000;
  /** Share of each hour/day/month limit admitted until the process has synced the fleet's counts (0…1). */
  coldStartShare: f64 = 0.1;
}

export class Config {
  apis: Api[] = [];
  plans: Plan[] = [];
  keys: KeyTable = new KeyTable();
  /** Default: header x-api-key, then query api_key. */
  locations: KeyLocation[] = [
    new KeyLocation(false, String.UTF8.encode("x-api-key"), new ArrayBuffer(0)),
    new KeyLocation(true, String.UTF8.encode("api_key"), new ArrayBuffer(0)),
  ];
  hideCredentials: bool = true;
  denyUnmatched: bool = false;
  /** PASS_ASTERISK | PASS_AUTHORITY (http/form.ts): request-target forms passed untouched instead of 400. */
  passPathForms: u32 = 0;
  rateLimitHeaders: bool = true;
  /** Identity header names; empty = disabled. */
  consumerHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-consumer");
  keyIdHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-key-id");
  planHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-plan");
  usage: UsageTarget | null = null;
  /**
   * Request headers never forwarded on an allowed request, as (name, prefix) views: the identity headers, and with
   * hideCredentials the header key locations (prefix: only values starting with it). Built by finish().
   */
  strip: StaticArray<usize> = new StaticArray<usize>(0);
  stripCount: i32 = 0;
  /** The first identityStripCount entries of strip are the identity headers (also stripped when spelled with '_'). */
  identityStripCount: i32 = 0;
  /** With hideCredentials, the query key locations' names as (ptr, len) views, removed from the forwarded path. */
  stripQuery: StaticArray<usize> = new StaticArray<usize>(0);
  stripQueryCount: i32 = 0;
  /** The WWW-Authenticate value of 401 replies (config/challenge.ts). Built by finish(). */
  wwwAuthenticate: ArrayBuffer = new ArrayBuffer(0);

  /** Derives the lookup structures the hot path uses. */
  finish(): void {
    const names = new Array<ArrayBuffer>();
    const prefixes = new Array<ArrayBuffer>();
    const none = new ArrayBuffer(0);
    if (this.consumerHeader.byteLength > 0) { names.push(this.consumerHeader); prefixes.push(none); }
    if (this.keyIdHeader.byteLength > 0) { names.push(this.keyIdHeader); prefixes.push(none); }
    if (this.planHeader.byteLength > 0) { names.push(this.planHeader); prefixes.push(none); }
    this.identityStripCount = names.length;
    if (this.hideCredentials) {
      for (let i = 0; i < this.locations.length; i++) {
        const loc = unchecked(this.locations[i]);
        if (!loc.isQuery) { names.push(loc.name); prefixes.push(loc.prefix); }
      }
    }
    this.stripCount = names.length;
    this.strip = new StaticArray<usize>(names.length * 4);
    for (let i = 0; i < names.length; i++) {
      unchecked(this.strip[i * 4] = changetype<usize>(unchecked(names[i])));
      unchecked(this.strip[i * 4 + 1] = <usize>unchecked(names[i]).byteLength);
      unchecked(this.strip[i * 4 + 2] = changetype<usize>(unchecked(prefixes[i])));
      unchecked(this.strip[i * 4 + 3] = <usize>unchecked(prefixes[i]).byteLength);
    }
    // The views point into these buffers; keep them reachable for the GC.
    this.stripOwners = names;
    // Query names are owned by this.locations, which the configuration keeps.
    let queries = 0;
    if (this.hideCredentials) {
      for (let i = 0; i < this.locations.length; i++) if (unchecked(this.locations[i]).isQuery) queries++;
    }
    this.stripQueryCount = queries;
    this.stripQuery = new StaticArray<usize>(queries * 2);
    let q = 0;
    for (let i = 0; i < this.locations.length && q < queries; i++) {
      const loc = unchecked(this.locations[i]);
      if (!loc.isQuery) continue;
      unchecked(this.stripQuery[q * 2] = changetype<usize>(loc.name));
      unchecked(this.stripQuery[q * 2 + 1] = <usize>loc.name.byteLength);
      q++;
    }
    this.wwwAuthenticate = challengeFor(this.locations);
  }

  stripOwners: ArrayBuffer[] = [];
}
