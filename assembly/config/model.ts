// The compiled, runtime form of the filter configuration (docs/filter-config.md). Built once per
// proxy_on_configure; the hot path only reads it. Byte strings are ArrayBuffers so requests compare raw bytes.

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
  rateLimitHeaders: bool = true;
  /** Identity header names; empty = disabled. */
  consumerHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-consumer");
  keyIdHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-key-id");
  planHeader: ArrayBuffer = String.UTF8.encode("x-tollgate-plan");
  usage: UsageTarget | null = null;
}
