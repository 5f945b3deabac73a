// The key a request presented, once found: from the configuration's static keys (config/keytable.ts) or from the
// process's key feed set (keyfeed/lookup.ts). Views only: static keys point into the configuration, feed keys into
// the host's copy of the bucket, which stays valid until the request callback returns.

import { KeyTable } from "../config/keytable";

export class KeyRef {
  keyId: usize = 0;
  keyIdLen: usize = 0;
  consumer: usize = 0;
  consumerLen: usize = 0;
  /** Index into the configuration's plans; -1 = no key (unknown digest, or a feed key of a plan not configured). */
  plan: i32 = -1;
  /** Unix seconds, 0 = none. */
  expiresAt: f64 = 0;
  notBefore: f64 = 0;

  @inline reset(): void { this.plan = -1; }

  @inline fromTable(t: KeyTable, i: i32): KeyRef {
    this.keyId = t.keyIdPtr(i);
    this.keyIdLen = t.keyIdLen(i);
    this.consumer = t.consumerPtr(i);
    this.consumerLen = t.consumerLen(i);
    this.plan = unchecked(t.plan[i]);
    this.expiresAt = unchecked(t.expiresAt[i]);
    this.notBefore = unchecked(t.notBefore[i]);
    return this;
  }
}
