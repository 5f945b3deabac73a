// The compiled, runtime form of the filter configuration (docs/filter-config.md). Built once per
// proxy_on_configure; the hot path only reads it. Byte strings are ArrayBuffers so requests compare raw bytes.

import { challengeFor } from "./challenge";
import { KeyTable } from "./keytable";
import { Operations } from "../operations";

export class Api {
  id: ArrayBuffer = new ArrayBuffer(0);
  prefix: ArrayBuffer = new ArrayBuffer(0);
  /** Exact host names, or for "*.example.com" the suffix ".example.com" with wildcard[i] set. */
  hosts: ArrayBuffer[] = [];
  wildcard: bool[] = [];
  methods: ArrayBuffer[] = [];
  /** The compiled operations (docs/filter-config.md "Operations"); null = none: every request under it is one unit. */
  operations: Operations | null = null;
  /** unknownOperation "pass": a request matching no operation is handled as if the API had none. */
  unknownPass: bool = false;
}

/** Header styles (rateLimitHeaderStyle): bits of Config.headerStyle. */
export const STYLE_LEGACY: u32 = 1;
export const STYLE_IETF: u32 = 2;
/** Longest limit id: an explicit one is ≤ 64, a default "<apiId>/<operationId>:<per>" ≤ 64 + 1 + 64 + 1 + 6. */
export const MAX_LIMIT_ID: usize = 136;

/** A limit (docs/filter-config.md "Limits that compose"): a plan's, or an operation's default. */
export class Limit {
  /** The name in a 429's `limit` member and in RateLimit-Policy: the configured id or the default one. */
  id: ArrayBuffer = new ArrayBuffer(0);
  /** The API it is scoped to (index in Config.apis), -1 = every request of the subscription. */
  api: i32 = -1;
  /** The operation it is scoped to (index in that API's operations), -1 = the whole API. */
  op: i32 = -1;
  /** Decided and counted, never enforced (limit.shadow or plan.shadow; an operation default's plan is applied at decision). */
  shadow: bool = false;
  /** Scoped limits: the key of its slot in the quota entry (scopeSlotKey of scope and per, never 0); 0 = unscoped. */
  slot: u32 = 0;
  /** As configured, resolved by the decoder's link step. */
  apiIdName: string | null = null;
  opIdName: string | null = null;
  constructor(public requests: u32, public per: i32) {}
}

export class Plan {
  id: ArrayBuffer = new ArrayBuffer(0);
  /** Unscoped limits first, then scoped ones (decode order within each). */
  limits: Limit[] = [];
  /** plan.shadow: every limit of the plan and every operation default under it is a shadow limit. */
  shadow: bool = false;
  /** Whether any limit of the plan is scoped, or any API of the plan has operation defaults. */
  scoped: bool = false;
  /** No scoped or shadow limit, no operation default under it: quota/entry.ts decidePlain decides its requests. */
  plain: bool = true;
  /** Scoped slots of its subscriptions' quota entries (quota/entry.ts; ≤ MAX_SCOPED_SLOTS). */
  slots: i32 = 0;
  /** Every slot key a limit applicable under this plan can use, sorted (fleet replies, keeping counts on a change). */
  slotKeys: StaticArray<u32> = new StaticArray<u32>(0);
  /** Names as configured; resolved to apiBits once every API is known. */
  apiIdNames: string[] = [];
  /** Bit i set = the plan includes apis[i]. */
  apiBits: StaticArray<u32> = new StaticArray<u32>(0);

  @inline allowsApi(i: i32): bool {
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

/** keyFeed (docs/filter-config.md): where and how the process pulls its key set; rides on `usage`'s target. */
export class KeyFeedTarget {
  snapshotPath: ArrayBuffer = new ArrayBuffer(0);
  deltasPath: ArrayBuffer = new ArrayBuffer(0);
  waitS: u32 = 25;
  pageKeys: u32 = 2000;
  retryMs: u32 = 2000;
  /** whenNoKeys "allow": requests pass unchecked while the process holds no key set (default "deny": 401). */
  allowWithoutSet: bool = false;
}

/** Longest configured header name (the schema's and validate.ts's limit). */
export const MAX_NAME = 128;
/** Bits of Config.nameLengths. */
export const NAME_IDENTITY: u8 = 1;
export const NAME_LOCATION: u8 = 2;

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
  /** rateLimitHeaderStyle as STYLE_* bits: legacy (default), ietf, or both. */
  headerStyle: u32 = STYLE_LEGACY;
  /** shadowHeader: sent upstream naming the shadow limit that would have rejected; empty = none. */
  shadowHeader: ArrayBuffer = new ArrayBuffer(0);
  /** configVersion: echoed in usage reports (proxy.configVersion); empty = none. */
  configVersion: ArrayBuffer = new ArrayBuffer(0);
  /** Identity header names; empty = disabled. */
  consumerHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-consumer");
  keyIdHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-key-id");
  planHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-plan");
  usage: UsageTarget | null = null;
  keyFeed: KeyFeedTarget | null = null;
  /**
   * The configured identity header names as (ptr, len) views, never forwarded from a client (http/identity.ts).
   * Built by finish(); the views point into the three names above, which the configuration keeps.
   */
  identityNames: StaticArray<usize> = new StaticArray<usize>(0);
  identityCount: i32 = 0;
  /** With hideCredentials, the query key locations' names as (ptr, len) views, removed from the forwarded path. */
  stripQuery: StaticArray<usize> = new StaticArray<usize>(0);
  stripQueryCount: i32 = 0;
  /** 256 flags: the bytes a raw query parameter name can start with to decode to one of stripQuery (http/query.ts). */
  stripQueryFirst: StaticArray<u8> = new StaticArray<u8>(256);
  /** The WWW-Authenticate value of 401 replies (config/challenge.ts). Built by finish(). */
  wwwAuthenticate: ArrayBuffer = new ArrayBuffer(0);
  /** Whether any API is host-restricted; if none is, the request's host decides nothing and is not normalized. */
  hostMatters: bool = false;
  /**
   * By name length (0 … MAX_NAME), NAME_* bits: whether an identity header or a header key location has a name of
   * that length. The request scan looks further only at headers whose name length is marked, so a typical header
   * costs one load. Built by finish().
   */
  nameLengths: StaticArray<u8> = new StaticArray<u8>(MAX_NAME + 1);

  /** Derives the lookup structures the hot path uses. */
  finish(): void {
    const names = new Array<ArrayBuffer>();
    if (this.consumerHeader.byteLength > 0) names.push(this.consumerHeader);
    if (this.keyIdHeader.byteLength > 0) names.push(this.keyIdHeader);
    if (this.planHeader.byteLength > 0) names.push(this.planHeader);
    // A client's copy of the shadow header would forge "a shadow limit would have rejected": removed like identity.
    if (this.shadowHeader.byteLength > 0) names.push(this.shadowHeader);
    this.identityCount = names.length;
    this.identityNames = new StaticArray<usize>(names.length * 2);
    for (let i = 0; i < names.length; i++) {
      unchecked(this.identityNames[i * 2] = changetype<usize>(unchecked(names[i])));
      unchecked(this.identityNames[i * 2 + 1] = <usize>unchecked(names[i]).byteLength);
    }
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
      const c = load<u8>(changetype<usize>(loc.name));
      unchecked(this.stripQueryFirst[c] = 1);
      if (c == 0x20) unchecked(this.stripQueryFirst[0x2b] = 1); // '+' decodes to a space
      unchecked(this.stripQueryFirst[0x25] = 1); // an escape can decode to anything
      q++;
    }
    this.wwwAuthenticate = challengeFor(this.locations);
    this.hostMatters = false;
    for (let i = 0; i < this.apis.length; i++) if (unchecked(this.apis[i]).hosts.length > 0) this.hostMatters = true;
    const lengths = this.nameLengths;
    for (let i = 0; i < names.length; i++) {
      const n = unchecked(names[i]).byteLength;
      if (n <= MAX_NAME) unchecked(lengths[n] |= NAME_IDENTITY);
    }
    for (let i = 0; i < this.locations.length; i++) {
      const loc = unchecked(this.locations[i]);
      if (!loc.isQuery && loc.name.byteLength <= MAX_NAME) unchecked(lengths[loc.name.byteLength] |= NAME_LOCATION);
    }
  }
}
