// Identity headers: the consumer, key id and plan of an allowed request are told to the upstream in the configured
// headers (x-tollgate-consumer, x-tollgate-key-id, x-tollgate-plan by default), and a copy a client sent is a
// forgery, removed from every forwarded request, matched or not. Also when spelled with '_' for '-': CGI, WSGI and
// many frameworks read `x_tollgate_consumer` as the same header (http/headername.ts).

import { PairTable, PairWriter } from "../abi/pairs";
import { ab, abLen } from "../bytes";
import { Config } from "../config/model";
import { elementAt } from "../element";
import { namesEqualDashFolded } from "./headername";
import { KeyRef } from "./keyref";

/** Forged identity headers marked by the last scan. */
let forged = 0;

/** Starts a request. */
@inline export function begin(): void { forged = 0; }

/** Whether the last request carried an identity header (so a pass-through request still needs a rewrite). */
export function forgedCount(): i32 { return forged; }

/** Header i (name kp, kl) has the length of some identity header's name: leave it out of the forwarded request if it is one. */
export function noteHeader(cfg: Config, t: PairTable, i: i32, kp: usize, kl: usize): void {
  const names = cfg.identityNames;
  for (let j = 0; j < cfg.identityCount; j++) {
    if (unchecked(names[j * 2 + 1]) == kl && namesEqualDashFolded(unchecked(names[j * 2]), kp, kl)) {
      t.skip(i);
      forged++;
      return;
    }
  }
}

/** Stages the identity headers of key `k` on plan `planIdx` (those configured; an empty name disables one). */
@inline export function addIdentity(cfg: Config, w: PairWriter, k: KeyRef, planIdx: i32): void {
  if (cfg.consumerHeader.byteLength > 0) w.add(ab(cfg.consumerHeader), abLen(cfg.consumerHeader), k.consumer, k.consumerLen);
  if (cfg.keyIdHeader.byteLength > 0) w.add(ab(cfg.keyIdHeader), abLen(cfg.keyIdHeader), k.keyId, k.keyIdLen);
  if (cfg.planHeader.byteLength > 0) {
    const pid = elementAt(cfg.plans, planIdx).id;
    w.add(ab(cfg.planHeader), abLen(cfg.planHeader), ab(pid), abLen(pid));
  }
}
