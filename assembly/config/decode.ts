// Configuration decoding: raw JSON bytes → compiled Config, or a typed error naming the offending field.
// Follows docs/filter-config.md: unknown fields rejected at every level, any key order, any number spelling.

import { JsonScanner } from "../json/scanner";
import { HashIndex } from "../hashindex";
import { decodeDigest43 } from "../base64url";
import { decimal, sameBytes } from "../bytes";
import { periodFromName } from "../window";
import { PASS_ASTERISK, PASS_AUTHORITY } from "../http/form";
import {
  BUILD_OK, bytesHash, Operation, Operations, T_DOT, T_ESCAPE, T_OK, T_PARAM, T_WILDCARD_LAST, templateUnderPrefix, validateTemplate,
} from "../operations";
import { Api, Config, KeyFeedTarget, KeyLocation, Limit, Plan, STYLE_IETF, STYLE_LEGACY, UsageTarget } from "./model";
import { isHeaderName, isHostPattern, isId, isIntIn, isLimitId, isMethod } from "./validate";
import { MAX_SCOPED_SLOTS, scopeSlotKey } from "../quota/entry";

const MAX_SAFE: f64 = 9007199254740991;
/** contracts/filter-config.ts MAX_OPERATIONS_PER_API and MAX_OPERATION_COST. */
const MAX_OPERATIONS = 4096;
const MAX_COST: f64 = 1000000;
/** Limits per plan and default limits per operation (docs/filter-config.md "Limits that compose"). */
const MAX_PLAN_LIMITS = 16;
const MAX_OPERATION_LIMITS = 8;
const PER_NAMES: string[] = ["second", "minute", "hour", "day", "month"];

/** The slot key of a scoped limit: scope "<apiId>" or "<apiId>/<operationId>" with its period. */
function slotKeyOf(scope: string, per: i32): u32 {
  const b = String.UTF8.encode(scope);
  return scopeSlotKey(changetype<usize>(b), <usize>b.byteLength, per);
}

/** Sorted, without duplicates (a heap sort: Array#sort with a comparator costs ~2 KB of wasm). */
function sortedUnique(keys: u32[]): StaticArray<u32> {
  const n = keys.length;
  const a = new StaticArray<u32>(n);
  for (let i = 0; i < n; i++) unchecked(a[i] = keys[i]);
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(a, i, n);
  for (let end = n - 1; end > 0; end--) {
    const t = unchecked(a[0]); unchecked(a[0] = a[end]); unchecked(a[end] = t);
    siftDown(a, 0, end);
  }
  let m = 0;
  for (let i = 0; i < n; i++) if (i == 0 || unchecked(a[i]) != unchecked(a[m - 1])) unchecked(a[m++] = a[i]);
  const out = new StaticArray<u32>(m);
  for (let i = 0; i < m; i++) unchecked(out[i] = a[i]);
  return out;
}

function siftDown(a: StaticArray<u32>, i: i32, n: i32): void {
  while (true) {
    let c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && unchecked(a[c + 1]) > unchecked(a[c])) c++;
    if (unchecked(a[i]) >= unchecked(a[c])) return;
    const t = unchecked(a[i]); unchecked(a[i] = a[c]); unchecked(a[c] = t);
    i = c;
  }
}

function templateProblem(t: i32): string {
  if (t == T_WILDCARD_LAST) return "'*' only as the last segment";
  if (t == T_DOT) return "no '.' or '..' segment";
  if (t == T_ESCAPE) return "escapes must be %XX uppercase, not of unreserved chars, / or \\";
  if (t == T_PARAM) return "parameters are {name}: 1-64 printable ASCII chars, not / { }";
  return "segments must be normalized literals, {name} or a final *";
}

export class DecodeResult {
  config: Config | null = null;
  /** "<field path>: <problem>" when config is null. */
  error: string = "";
}

const DIGEST = memory.data(32);
const KEY_ID = memory.data(64);

function keyField(i: i32, n: i32): string {
  return "keys[" + decimal(i) + "]" + (n >= 0 ? "[" + decimal(n) + "]" : "");
}

class Decoder {
  s: JsonScanner;
  field: string = "";
  cfg: Config = new Config();

  len: usize;

  constructor(ptr: usize, len: usize) {
    this.s = new JsonScanner(ptr, len);
    this.len = len;
  }

  /** Records an error for `field`; always returns false so callers can `return this.bad(...)`. */
  bad(field: string, message: string): bool {
    if (this.field.length == 0) {
      this.field = field;
      this.s.fail(message);
    }
    return false;
  }

  /** After a scanner-level failure, attributes it to `field` if nothing more precise was recorded. */
  check(field: string): bool {
    if (this.s.failed && this.field.length == 0) this.field = field;
    return !this.s.failed;
  }

  bytes(): ArrayBuffer {
    const b = new ArrayBuffer(<i32>this.s.strLen);
    memory.copy(changetype<usize>(b), this.s.str, this.s.strLen);
    return b;
  }

  readString(field: string): bool {
    if (this.s.peek() != 0x22) return this.bad(field, "must be a string");
    this.s.readString();
    return this.check(field);
  }

  readBool(field: string): bool {
    const c = this.s.peek();
    if (c != 0x74 && c != 0x66) { this.bad(field, "must be a boolean"); return false; }
    return this.s.readBool();
  }

  readInt(field: string, min: f64, max: f64): f64 {
    const c = this.s.peek();
    if (c != 0x2d && (c < 0x30 || c > 0x39)) { this.bad(field, "must be an integer"); return 0; }
    if (!this.s.readNumber()) { this.check(field); return 0; }
    if (!isIntIn(this.s.num, min, max)) { this.bad(field, "must be an integer in " + decimal(<i64>min) + ".." + decimal(<i64>max)); return 0; }
    return this.s.num;
  }

  top(): bool {
    const s = this.s;
    if (!s.beginObject()) return this.check("(root)");
    let seenVersion = false, seenApis = false, seenPlans = false;
    for (let i = 0; s.nextMember(i); i++) {
      if (s.strIs("version")) {
        const v = this.readInt("version", 1, 1);
        if (s.failed) return false;
        seenVersion = v == 1;
      } else if (s.strIs("apis")) { if (!this.apis()) return false; seenApis = true; }
      else if (s.strIs("plans")) { if (!this.plans()) return false; seenPlans = true; }
      else if (s.strIs("keys")) { if (!this.keys()) return false; }
      else if (s.strIs("keyLocations")) { if (!this.keyLocations()) return false; }
      else if (s.strIs("hideCredentials")) { this.cfg.hideCredentials = this.readBool("hideCredentials"); }
      else if (s.strIs("denyUnmatched")) { this.cfg.denyUnmatched = this.readBool("denyUnmatched"); }
      else if (s.strIs("passPathForms")) { if (!this.passPathForms()) return false; }
      else if (s.strIs("rateLimitHeaders")) { this.cfg.rateLimitHeaders = this.readBool("rateLimitHeaders"); }
      else if (s.strIs("rateLimitHeaderStyle")) {
        if (!this.readString("rateLimitHeaderStyle")) return false;
        if (s.strIs("legacy")) this.cfg.headerStyle = STYLE_LEGACY;
        else if (s.strIs("ietf")) this.cfg.headerStyle = STYLE_IETF;
        else if (s.strIs("both")) this.cfg.headerStyle = STYLE_LEGACY | STYLE_IETF;
        else return this.bad("rateLimitHeaderStyle", "must be one of legacy, ietf, both");
      } else if (s.strIs("shadowHeader")) {
        if (!this.readString("shadowHeader")) return false;
        if (!isHeaderName(s.str, s.strLen, false)) return this.bad("shadowHeader", "must be a lowercase header name");
        this.cfg.shadowHeader = this.bytes();
      }
      else if (s.strIs("configVersion")) {
        if (!this.readString("configVersion")) return false;
        if (!isId(s.str, s.strLen)) return this.bad("configVersion", "must be 1-64 chars of [A-Za-z0-9._:-]");
        this.cfg.configVersion = this.bytes();
      }
      else if (s.strIs("identityHeaders")) { if (!this.identityHeaders()) return false; }
      else if (s.strIs("usage")) { if (!this.usage()) return false; }
      else if (s.strIs("keyFeed")) { if (!this.keyFeed()) return false; }
      else return this.bad(s.strValue(), "unknown field");
      if (s.failed) return this.check("(root)");
    }
    if (!this.check("(root)")) return false;
    if (!s.atEnd()) return this.bad("(root)", "trailing data after the configuration");
    if (!seenVersion) return this.bad("version", "required");
    if (!seenApis) return this.bad("apis", "required");
    if (!seenPlans) return this.bad("plans", "required");
    // keyFeed pulls from the control service `usage` names: without it there is nowhere to pull from.
    if (this.cfg.keyFeed != null && this.cfg.usage == null) return this.bad("keyFeed", "requires usage (the control service's cluster)");
    return this.link();
  }

  apis(): bool {
    const s = this.s;
    if (!s.beginArray()) return this.check("apis");
    for (let i = 0; s.nextElement(i); i++) {
      const f = "apis[" + decimal(i) + "]";
      const api = new Api();
      let hasId = false, hasPrefix = false, hasUnknown = false;
      if (!s.beginObject()) return this.check(f);
      for (let j = 0; s.nextMember(j); j++) {
        if (s.strIs("id")) {
          if (!this.readString(f + ".id")) return false;
          if (!isId(s.str, s.strLen)) return this.bad(f + ".id", "must be 1-64 chars of [A-Za-z0-9._:-]");
          api.id = this.bytes();
          hasId = true;
        } else if (s.strIs("pathPrefix")) {
          if (!this.readString(f + ".pathPrefix")) return false;
          if (s.strLen < 1 || load<u8>(s.str) != 0x2f || s.strLen > 1024) return this.bad(f + ".pathPrefix", "must start with '/' (at most 1024 chars)");
          api.prefix = this.bytes();
          hasPrefix = true;
        } else if (s.strIs("hosts")) {
          if (!s.beginArray()) return this.check(f + ".hosts");
          for (let k = 0; s.nextElement(k); k++) {
            const hf = f + ".hosts[" + decimal(k) + "]";
            if (k >= 64) return this.bad(f + ".hosts", "at most 64 entries");
            if (!this.readString(hf)) return false;
            if (!isHostPattern(s.str, s.strLen)) return this.bad(hf, "must be a lowercase host name, optionally starting with '*.'");
            const wild = load<u8>(s.str) == 0x2a;
            if (wild) {
              const b = new ArrayBuffer(<i32>s.strLen - 1);
              memory.copy(changetype<usize>(b), s.str + 1, s.strLen - 1);
              api.hosts.push(b);
            } else api.hosts.push(this.bytes());
            api.wildcard.push(wild);
          }
          if (!this.check(f + ".hosts")) return false;
        } else if (s.strIs("methods")) {
          if (!s.beginArray()) return this.check(f + ".methods");
          for (let k = 0; s.nextElement(k); k++) {
            const mf = f + ".methods[" + decimal(k) + "]";
            if (k >= 16) return this.bad(f + ".methods", "at most 16 entries");
            if (!this.readString(mf)) return false;
            if (!isMethod(s.str, s.strLen)) return this.bad(mf, "must be 1-16 uppercase letters");
            api.methods.push(this.bytes());
          }
          if (!this.check(f + ".methods")) return false;
        } else if (s.strIs("operations")) {
          if (!this.operations(f, api)) return false;
        } else if (s.strIs("unknownOperation")) {
          if (!this.readString(f + ".unknownOperation")) return false;
          if (s.strIs("pass")) api.unknownPass = true;
          else if (!s.strIs("reject")) return this.bad(f + ".unknownOperation", "must be one of reject, pass");
          hasUnknown = true;
        } else return this.bad(f + "." + s.strValue(), "unknown field");
      }
      if (!this.check(f)) return false;
      if (!hasId) return this.bad(f + ".id", "required");
      if (!hasPrefix) return this.bad(f + ".pathPrefix", "required");
      if (hasUnknown && api.operations == null) return this.bad(f + ".unknownOperation", "only with operations (at least one)");
      if (api.operations != null && !this.compileOperations(f, api)) return false;
      for (let k = 0; k < this.cfg.apis.length; k++) {
        const other = unchecked(this.cfg.apis[k]).id;
        if (other.byteLength == api.id.byteLength && sameBytes(changetype<usize>(other), changetype<usize>(api.id), <usize>other.byteLength)) {
          return this.bad(f + ".id", "duplicate API id");
        }
      }
      this.cfg.apis.push(api);
    }
    return this.check("apis");
  }

  /** An API's `operations` array (checked further by compileOperations once the whole API is read). */
  operations(f: string, api: Api): bool {
    const s = this.s;
    const ops = new Operations();
    if (!s.beginArray()) return this.check(f + ".operations");
    for (let k = 0; s.nextElement(k); k++) {
      const opf = f + ".operations[" + decimal(k) + "]";
      if (k >= MAX_OPERATIONS) return this.bad(f + ".operations", "at most 4096 entries");
      let id: ArrayBuffer | null = null, method: ArrayBuffer | null = null, path: ArrayBuffer | null = null;
      let cost: f64 = 1;
      let limits: Limit[] | null = null;
      if (!s.beginObject()) return this.check(opf);
      for (let j = 0; s.nextMember(j); j++) {
        if (s.strIs("id")) {
          if (!this.readString(opf + ".id")) return false;
          if (!isId(s.str, s.strLen)) return this.bad(opf + ".id", "must be 1-64 chars of [A-Za-z0-9._:-]");
          id = this.bytes();
        } else if (s.strIs("method")) {
          if (!this.readString(opf + ".method")) return false;
          if (!isMethod(s.str, s.strLen)) return this.bad(opf + ".method", "must be 1-16 uppercase letters");
          method = this.bytes();
        } else if (s.strIs("path")) {
          if (!this.readString(opf + ".path")) return false;
          if (s.strLen < 1 || load<u8>(s.str) != 0x2f || s.strLen > 1024) return this.bad(opf + ".path", "must start with '/' (at most 1024 chars)");
          const t = validateTemplate(s.str, s.strLen);
          if (t != T_OK) return this.bad(opf + ".path", templateProblem(t));
          path = this.bytes();
        } else if (s.strIs("cost")) {
          cost = this.readInt(opf + ".cost", 0, MAX_COST);
          if (s.failed) return false;
        } else if (s.strIs("limits")) {
          const list = new Array<Limit>();
          if (!s.beginArray()) return this.check(opf + ".limits");
          for (let m = 0; s.nextElement(m); m++) {
            if (m >= MAX_OPERATION_LIMITS) return this.bad(opf + ".limits", "at most 8 entries");
            if (!this.limit(opf + ".limits[" + decimal(m) + "]", list, false)) return false;
          }
          if (!this.check(opf + ".limits")) return false;
          if (list.length > 0) limits = list;
        } else return this.bad(opf + "." + s.strValue(), "unknown field");
      }
      if (!this.check(opf)) return false;
      if (id == null) return this.bad(opf + ".id", "required");
      if (method == null) return this.bad(opf + ".method", "required");
      if (path == null) return this.bad(opf + ".path", "required");
      const op = new Operation(id, method, path, <u32>cost);
      op.limits = limits;
      ops.ops.push(op);
    }
    if (!this.check(f + ".operations")) return false;
    // Empty = no operations (the API is its prefix, as before operations existed).
    api.operations = ops.ops.length > 0 ? ops : null;
    return true;
  }

  /** Cross-checks an API's operations against the API, then compiles the matcher. */
  compileOperations(f: string, api: Api): bool {
    const ops = api.operations!;
    const list = ops.ops;
    // Ids by hash: 4,096 operations must not cost 8 million comparisons (configure: ~300 → ~110 ms on the host).
    const ids = new HashIndex();
    ids.reset(list.length);
    for (let k = 0; k < list.length; k++) {
      const op = unchecked(list[k]);
      const opf = f + ".operations[" + decimal(k) + "]";
      const h = bytesHash(changetype<usize>(op.id), <usize>op.id.byteLength);
      for (let j = ids.first(h); j >= 0; j = ids.next(h)) {
        const other = unchecked(list[j]).id;
        if (other.byteLength == op.id.byteLength && sameBytes(changetype<usize>(other), changetype<usize>(op.id), <usize>other.byteLength)) {
          return this.bad(opf + ".id", "duplicate operation id");
        }
      }
      ids.insert(h, k);
      if (!templateUnderPrefix(changetype<usize>(op.path), <usize>op.path.byteLength, changetype<usize>(api.prefix), <usize>api.prefix.byteLength)) {
        return this.bad(opf + ".path", "can never match: not under the API's pathPrefix");
      }
      if (api.methods.length > 0) {
        let listed = false;
        for (let m = 0; m < api.methods.length; m++) {
          const am = unchecked(api.methods[m]);
          if (am.byteLength == op.method.byteLength && sameBytes(changetype<usize>(am), changetype<usize>(op.method), <usize>am.byteLength)) listed = true;
        }
        if (!listed) return this.bad(opf + ".method", "can never match: not one of the API's methods");
      }
    }
    if (ops.build() != BUILD_OK) {
      return this.bad(f + ".operations[" + decimal(ops.dup) + "]", "duplicate method and template (parameter names ignored)");
    }
    return true;
  }

  plans(): bool {
    const s = this.s;
    if (!s.beginArray()) return this.check("plans");
    for (let i = 0; s.nextElement(i); i++) {
      const f = "plans[" + decimal(i) + "]";
      const plan = new Plan();
      let hasId = false, hasLimits = false, hasApiIds = false;
      if (!s.beginObject()) return this.check(f);
      for (let j = 0; s.nextMember(j); j++) {
        if (s.strIs("id")) {
          if (!this.readString(f + ".id")) return false;
          if (!isId(s.str, s.strLen)) return this.bad(f + ".id", "must be 1-64 chars of [A-Za-z0-9._:-]");
          plan.id = this.bytes();
          hasId = true;
        } else if (s.strIs("limits")) {
          hasLimits = true;
          if (!s.beginArray()) return this.check(f + ".limits");
          for (let k = 0; s.nextElement(k); k++) {
            const lf = f + ".limits[" + decimal(k) + "]";
            if (k >= MAX_PLAN_LIMITS) return this.bad(f + ".limits", "at most 16 entries");
            if (!this.limit(lf, plan.limits, true)) return false;
          }
          if (!this.check(f + ".limits")) return false;
        } else if (s.strIs("shadow")) {
          plan.shadow = this.readBool(f + ".shadow");
          if (s.failed) return false;
        } else if (s.strIs("apiIds")) {
          hasApiIds = true;
          if (!s.beginArray()) return this.check(f + ".apiIds");
          for (let k = 0; s.nextElement(k); k++) {
            const af = f + ".apiIds[" + decimal(k) + "]";
            if (!this.readString(af)) return false;
            if (!isId(s.str, s.strLen)) return this.bad(af, "must be 1-64 chars of [A-Za-z0-9._:-]");
            plan.apiIdNames.push(s.strValue());
          }
          if (!this.check(f + ".apiIds")) return false;
        } else return this.bad(f + "." + s.strValue(), "unknown field");
      }
      if (!this.check(f)) return false;
      if (!hasId) return this.bad(f + ".id", "required");
      if (!hasLimits) return this.bad(f + ".limits", "required");
      if (!hasApiIds) return this.bad(f + ".apiIds", "required");
      this.cfg.plans.push(plan);
    }
    return this.check("plans");
  }

  /** One limit into `out`; `scoped`: a plan's (apiId and operationId allowed), else an operation's default. */
  limit(f: string, out: Limit[], scoped: bool): bool {
    const s = this.s;
    let requests: f64 = -1;
    let per = -1;
    let id: ArrayBuffer | null = null, apiId: string | null = null, opId: string | null = null;
    let shadow = false;
    if (!s.beginObject()) return this.check(f);
    for (let j = 0; s.nextMember(j); j++) {
      if (s.strIs("id")) {
        if (!this.readString(f + ".id")) return false;
        if (!isLimitId(s.str, s.strLen)) return this.bad(f + ".id", "must be 1-64 chars of [A-Za-z0-9._:/-]");
        id = this.bytes();
      } else if (scoped && s.strIs("apiId")) {
        if (!this.readString(f + ".apiId")) return false;
        if (!isId(s.str, s.strLen)) return this.bad(f + ".apiId", "must be 1-64 chars of [A-Za-z0-9._:-]");
        apiId = s.strValue();
      } else if (scoped && s.strIs("operationId")) {
        if (!this.readString(f + ".operationId")) return false;
        if (!isId(s.str, s.strLen)) return this.bad(f + ".operationId", "must be 1-64 chars of [A-Za-z0-9._:-]");
        opId = s.strValue();
      } else if (s.strIs("shadow")) {
        shadow = this.readBool(f + ".shadow");
        if (s.failed) return false;
      } else if (s.strIs("requests")) {
        requests = this.readInt(f + ".requests", 1, 2147483647);
        if (s.failed) return false;
      } else if (s.strIs("per")) {
        if (!this.readString(f + ".per")) return false;
        per = periodFromName(s.strValue());
        if (per < 0) return this.bad(f + ".per", "must be one of second, minute, hour, day, month");
      } else return this.bad(f + "." + s.strValue(), "unknown field");
    }
    if (!this.check(f)) return false;
    if (requests < 0) return this.bad(f + ".requests", "required");
    if (per < 0) return this.bad(f + ".per", "required");
    if (opId != null && apiId == null) return this.bad(f + ".operationId", "requires apiId");
    const l = new Limit(<u32>requests, per);
    if (id != null) l.id = id;
    l.apiIdName = apiId;
    l.opIdName = opId;
    l.shadow = shadow;
    out.push(l);
    return true;
  }

  keys(): bool {
    const s = this.s;
    const t = this.cfg.keys;
    if (!s.beginArray()) return this.check("keys");
    const estimate = <i32>(this.len / 55) + 16;
    t.reserve(estimate, estimate * 24);
    for (let i = 0; s.nextElement(i); i++) {
      // Field names are built only on error (keyField): 10,000 keys must parse in well under 20 ms, and the
      // minimal runtime collects garbage only after proxy_on_configure returns.
      if (!s.beginArray()) return this.check(keyField(i, -1));
      let n = 0;
      let keyIdPtr: usize = 0, keyIdLen: usize = 0;
      let plan: f64 = 0, expiresAt: f64 = 0, notBefore: f64 = 0;
      for (; s.nextElement(n); n++) {
        if (n >= 6) return this.bad(keyField(i, -1), "at most 6 items");
        if (n <= 2) {
          if (s.peek() != 0x22) return this.bad(keyField(i, n), "must be a string");
          if (!s.readString()) return this.check(keyField(i, n));
          if (n == 0) {
            if (s.strLen != 43 || !decodeDigest43(s.str, DIGEST)) return this.bad(keyField(i, 0), "digest must be 43 base64url chars (SHA-256, no padding)");
          } else if (!isId(s.str, s.strLen)) {
            return this.bad(keyField(i, n), "must be 1-64 chars of [A-Za-z0-9._:-]");
          } else if (n == 1) {
            // The scanner's string buffer is reused by the next item: keep the key id until the consumer is read.
            keyIdLen = s.strLen;
            memory.copy(KEY_ID, s.str, keyIdLen);
            keyIdPtr = KEY_ID;
          } else {
            t.add(DIGEST, keyIdPtr, keyIdLen, s.str, s.strLen, 0, 0, 0);
          }
        } else {
          const c = s.peek();
          if (c != 0x2d && (c < 0x30 || c > 0x39)) return this.bad(keyField(i, n), "must be an integer");
          if (!s.readNumber()) return this.check(keyField(i, n));
          const v = s.num;
          if (!isIntIn(v, 0, MAX_SAFE)) return this.bad(keyField(i, n), "must be an integer in 0..9007199254740991");
          if (n == 3) plan = v; else if (n == 4) expiresAt = v; else notBefore = v;
        }
      }
      if (s.failed) return this.check(keyField(i, -1));
      if (n < 4) return this.bad(keyField(i, -1), "needs at least 4 items [digest, keyId, consumerId, planIndex]");
      const k = t.count - 1;
      unchecked(t.plan[k] = <i32>Math.min(plan, 2147483647));
      unchecked(t.expiresAt[k] = expiresAt);
      unchecked(t.notBefore[k] = notBefore);
    }
    return this.check("keys");
  }

  keyLocations(): bool {
    const s = this.s;
    const locs: KeyLocation[] = [];
    if (!s.beginArray()) return this.check("keyLocations");
    for (let i = 0; s.nextElement(i); i++) {
      const f = "keyLocations[" + decimal(i) + "]";
      if (i >= 8) return this.bad("keyLocations", "at most 8 entries");
      let header: ArrayBuffer | null = null, query: ArrayBuffer | null = null;
      let prefix = new ArrayBuffer(0);
      let hasPrefix = false;
      if (!s.beginObject()) return this.check(f);
      for (let j = 0; s.nextMember(j); j++) {
        if (s.strIs("header")) {
          if (!this.readString(f + ".header")) return false;
          if (!isHeaderName(s.str, s.strLen, false)) return this.bad(f + ".header", "must be a lowercase header name");
          header = this.bytes();
        } else if (s.strIs("prefix")) {
          if (!this.readString(f + ".prefix")) return false;
          if (s.strLen < 1 || s.strLen > 64) return this.bad(f + ".prefix", "must be 1-64 chars");
          prefix = this.bytes();
          hasPrefix = true;
        } else if (s.strIs("query")) {
          if (!this.readString(f + ".query")) return false;
          if (s.strLen < 1 || s.strLen > 128) return this.bad(f + ".query", "must be 1-128 chars");
          query = this.bytes();
        } else return this.bad(f + "." + s.strValue(), "unknown field");
      }
      if (!this.check(f)) return false;
      if (header != null && query == null) locs.push(new KeyLocation(false, header, prefix));
      else if (query != null && header == null && !hasPrefix) locs.push(new KeyLocation(true, query, prefix));
      else return this.bad(f, "must be {\"header\"[, \"prefix\"]} or {\"query\"}");
    }
    if (!this.check("keyLocations")) return false;
    if (locs.length == 0) return this.bad("keyLocations", "at least 1 entry");
    this.cfg.locations = locs;
    return true;
  }

  /** passPathForms: ["asterisk", "authority"] in any order (a repeat is harmless). */
  passPathForms(): bool {
    const s = this.s;
    let bits: u32 = 0;
    if (!s.beginArray()) return this.check("passPathForms");
    for (let i = 0; s.nextElement(i); i++) {
      const f = "passPathForms[" + decimal(i) + "]";
      if (!this.readString(f)) return false;
      if (s.strIs("asterisk")) bits |= PASS_ASTERISK;
      else if (s.strIs("authority")) bits |= PASS_AUTHORITY;
      else return this.bad(f, "must be one of asterisk, authority");
    }
    if (!this.check("passPathForms")) return false;
    this.cfg.passPathForms = bits;
    return true;
  }

  identityHeaders(): bool {
    const s = this.s;
    if (!s.beginObject()) return this.check("identityHeaders");
    for (let j = 0; s.nextMember(j); j++) {
      const isC = s.strIs("consumer"), isK = s.strIs("keyId"), isP = s.strIs("plan");
      if (!isC && !isK && !isP) return this.bad("identityHeaders." + s.strValue(), "unknown field");
      const f = "identityHeaders." + (isC ? "consumer" : isK ? "keyId" : "plan");
      if (!this.readString(f)) return false;
      if (!isHeaderName(s.str, s.strLen, true)) return this.bad(f, "must be a lowercase header name or empty");
      if (isC) this.cfg.consumerHeader = this.bytes();
      else if (isK) this.cfg.keyIdHeader = this.bytes();
      else this.cfg.planHeader = this.bytes();
    }
    return this.check("identityHeaders");
  }

  usage(): bool {
    const s = this.s;
    const u = new UsageTarget();
    let hasCluster = false, hasAuthority = false, hasPath = false, hasInterval = false;
    if (!s.beginObject()) return this.check("usage");
    for (let j = 0; s.nextMember(j); j++) {
      if (s.strIs("cluster")) {
        if (!this.readString("usage.cluster")) return false;
        if (s.strLen < 1 || s.strLen > 512) return this.bad("usage.cluster", "must be 1-512 chars");
        u.cluster = this.bytes(); hasCluster = true;
      } else if (s.strIs("authority")) {
        if (!this.readString("usage.authority")) return false;
        if (s.strLen < 1 || s.strLen > 512) return this.bad("usage.authority", "must be 1-512 chars");
        u.authority = this.bytes(); hasAuthority = true;
      } else if (s.strIs("path")) {
        if (!this.readString("usage.path")) return false;
        if (s.strLen < 1 || load<u8>(s.str) != 0x2f || s.strLen > 1024) return this.bad("usage.path", "must start with '/' (at most 1024 chars)");
        u.path = this.bytes(); hasPath = true;
      } else if (s.strIs("intervalMs")) {
        u.intervalMs = <u32>this.readInt("usage.intervalMs", 100, 3600000); hasInterval = true;
      } else if (s.strIs("timeoutMs")) {
        u.timeoutMs = <u32>this.readInt("usage.timeoutMs", 100, 60000);
      } else if (s.strIs("maxEntries")) {
        u.maxEntries = <i32>this.readInt("usage.maxEntries", 1, 1000000);
      } else if (s.strIs("coldStartShare")) {
        const c = s.peek();
        if (c != 0x2d && (c < 0x30 || c > 0x39)) return this.bad("usage.coldStartShare", "must be a number");
        if (!s.readNumber()) return this.check("usage.coldStartShare");
        if (!(s.num >= 0 && s.num <= 1)) return this.bad("usage.coldStartShare", "must be a number in 0..1");
        u.coldStartShare = s.num;
      } else if (s.strIs("tokenHeader")) {
        if (!this.readString("usage.tokenHeader")) return false;
        if (!isHeaderName(s.str, s.strLen, false)) return this.bad("usage.tokenHeader", "must be a lowercase header name");
        u.tokenHeader = this.bytes();
      } else if (s.strIs("token")) {
        if (!this.readString("usage.token")) return false;
        if (s.strLen > 1024) return this.bad("usage.token", "at most 1024 chars");
        u.token = this.bytes(); u.hasToken = true;
      } else return this.bad("usage." + s.strValue(), "unknown field");
      if (s.failed) return false;
    }
    if (!this.check("usage")) return false;
    if (!hasCluster) return this.bad("usage.cluster", "required");
    if (!hasAuthority) return this.bad("usage.authority", "required");
    if (!hasPath) return this.bad("usage.path", "required");
    if (!hasInterval) return this.bad("usage.intervalMs", "required");
    this.cfg.usage = u;
    return true;
  }

  path(field: string): ArrayBuffer | null {
    if (!this.readString(field)) return null;
    const s = this.s;
    if (s.strLen < 1 || load<u8>(s.str) != 0x2f || s.strLen > 1024) { this.bad(field, "must start with '/' (at most 1024 chars)"); return null; }
    return this.bytes();
  }

  keyFeed(): bool {
    const s = this.s;
    const k = new KeyFeedTarget();
    let hasSnapshot = false, hasDeltas = false, hasWait = false, hasPage = false, hasRetry = false;
    if (!s.beginObject()) return this.check("keyFeed");
    for (let j = 0; s.nextMember(j); j++) {
      if (s.strIs("snapshotPath")) {
        const p = this.path("keyFeed.snapshotPath");
        if (p == null) return false;
        k.snapshotPath = p; hasSnapshot = true;
      } else if (s.strIs("deltasPath")) {
        const p = this.path("keyFeed.deltasPath");
        if (p == null) return false;
        k.deltasPath = p; hasDeltas = true;
      } else if (s.strIs("waitS")) {
        k.waitS = <u32>this.readInt("keyFeed.waitS", 0, 30); hasWait = true;
      } else if (s.strIs("pageKeys")) {
        k.pageKeys = <u32>this.readInt("keyFeed.pageKeys", 1, 10000); hasPage = true;
      } else if (s.strIs("retryMs")) {
        k.retryMs = <u32>this.readInt("keyFeed.retryMs", 100, 3600000); hasRetry = true;
      } else if (s.strIs("whenNoKeys")) {
        if (!this.readString("keyFeed.whenNoKeys")) return false;
        if (s.strIs("allow")) k.allowWithoutSet = true;
        else if (s.strIs("deny")) k.allowWithoutSet = false;
        else return this.bad("keyFeed.whenNoKeys", "must be one of deny, allow");
      } else return this.bad("keyFeed." + s.strValue(), "unknown field");
      if (s.failed) return false;
    }
    if (!this.check("keyFeed")) return false;
    if (!hasSnapshot) return this.bad("keyFeed.snapshotPath", "required");
    if (!hasDeltas) return this.bad("keyFeed.deltasPath", "required");
    if (!hasWait) return this.bad("keyFeed.waitS", "required");
    if (!hasPage) return this.bad("keyFeed.pageKeys", "required");
    if (!hasRetry) return this.bad("keyFeed.retryMs", "required");
    this.cfg.keyFeed = k;
    return true;
  }

  /** The index of the API with this id, or -1. */
  apiIndex(name: string): i32 {
    const b = String.UTF8.encode(name);
    const apis = this.cfg.apis;
    for (let a = 0; a < apis.length; a++) {
      const id = unchecked(apis[a]).id;
      if (id.byteLength == b.byteLength && sameBytes(changetype<usize>(id), changetype<usize>(b), <usize>id.byteLength)) return a;
    }
    return -1;
  }

  /**
   * Limits that compose (docs/filter-config.md): operation defaults get their scope, default id and slot key; a
   * plan's limits are checked against its APIs (apiId among its apiIds, operationId an operation of that API, ids
   * unique after defaults), and the plan gets its scoped slot count and keys.
   */
  linkLimits(): bool {
    const cfg = this.cfg;
    const apiKeys = new Array<u32[]>(cfg.apis.length);
    for (let a = 0; a < cfg.apis.length; a++) {
      const api = unchecked(cfg.apis[a]);
      const keys = new Array<u32>();
      unchecked(apiKeys[a] = keys);
      const ops = api.operations;
      if (ops == null) continue;
      const apiId = String.UTF8.decode(api.id);
      for (let k = 0; k < ops.ops.length; k++) {
        const op = unchecked(ops.ops[k]);
        const ls = op.limits;
        if (ls == null) continue;
        const scope = apiId + "/" + String.UTF8.decode(op.id);
        for (let m = 0; m < ls.length; m++) {
          const l = unchecked(ls[m]);
          l.api = a;
          l.op = k;
          if (l.id.byteLength == 0) l.id = String.UTF8.encode(scope + ":" + unchecked(PER_NAMES[l.per]));
          l.slot = slotKeyOf(scope, l.per);
          keys.push(l.slot);
          for (let q = 0; q < m; q++) {
            const o = unchecked(ls[q]).id;
            if (o.byteLength == l.id.byteLength && sameBytes(changetype<usize>(o), changetype<usize>(l.id), <usize>o.byteLength)) {
              return this.bad("apis[" + decimal(a) + "].operations[" + decimal(k) + "].limits[" + decimal(m) + "]", "duplicate limit id '" + String.UTF8.decode(l.id) + "'");
            }
          }
        }
      }
    }
    for (let i = 0; i < cfg.plans.length; i++) {
      const plan = unchecked(cfg.plans[i]);
      const keys = new Array<u32>();
      for (let k = 0; k < plan.limits.length; k++) {
        const l = unchecked(plan.limits[k]);
        const lf = "plans[" + decimal(i) + "].limits[" + decimal(k) + "]";
        let scope = "";
        if (l.apiIdName != null) {
          const name = l.apiIdName!;
          const a = this.apiIndex(name);
          if (a < 0 || !plan.allowsApi(a)) return this.bad(lf + ".apiId", "'" + name + "' is not one of the plan's apiIds");
          l.api = a;
          scope = name;
          if (l.opIdName != null) {
            const opName = l.opIdName!;
            const ops = unchecked(cfg.apis[a]).operations;
            const ob = String.UTF8.encode(opName);
            let found = -1;
            if (ops != null) {
              for (let k2 = 0; k2 < ops.ops.length; k2++) {
                const id = unchecked(ops.ops[k2]).id;
                if (id.byteLength == ob.byteLength && sameBytes(changetype<usize>(id), changetype<usize>(ob), <usize>id.byteLength)) { found = k2; break; }
              }
            }
            if (found < 0) return this.bad(lf + ".operationId", "'" + opName + "' is not an operation of API '" + name + "'");
            l.op = found;
            scope = name + "/" + opName;
          }
          l.slot = slotKeyOf(scope, l.per);
          keys.push(l.slot);
          plan.scoped = true;
        }
        if (l.id.byteLength == 0) l.id = String.UTF8.encode((scope.length > 0 ? scope + ":" : "") + unchecked(PER_NAMES[l.per]));
        if (plan.shadow) l.shadow = true;
        for (let q = 0; q < k; q++) {
          const o = unchecked(plan.limits[q]).id;
          if (o.byteLength == l.id.byteLength && sameBytes(changetype<usize>(o), changetype<usize>(l.id), <usize>o.byteLength)) {
            return this.bad(lf + ".id", "duplicate limit id '" + String.UTF8.decode(l.id) + "' (also limits[" + decimal(q) + "]; ids are unique in a plan)");
          }
        }
      }
      for (let a = 0; a < cfg.apis.length; a++) {
        if (!plan.allowsApi(a)) continue;
        const ak = unchecked(apiKeys[a]);
        if (ak.length > 0) plan.scoped = true;
        for (let k = 0; k < ak.length; k++) keys.push(unchecked(ak[k]));
      }
      let anyShadow = false;
      for (let k = 0; k < plan.limits.length; k++) if (unchecked(plan.limits[k]).shadow) anyShadow = true;
      plan.plain = !plan.scoped && !anyShadow;
      plan.slotKeys = sortedUnique(keys);
      plan.slots = min(plan.slotKeys.length, MAX_SCOPED_SLOTS);
    }
    return true;
  }

  /** Cross-references: plan API ids, key plan indexes, duplicate digests. */
  link(): bool {
    const cfg = this.cfg;
    const words = (cfg.apis.length + 31) >>> 5;
    for (let i = 0; i < cfg.plans.length; i++) {
      const plan = unchecked(cfg.plans[i]);
      plan.apiBits = new StaticArray<u32>(words);
      for (let k = 0; k < plan.apiIdNames.length; k++) {
        const name = String.UTF8.encode(unchecked(plan.apiIdNames[k]));
        let found = -1;
        for (let a = 0; a < cfg.apis.length; a++) {
          const id = unchecked(cfg.apis[a]).id;
          if (id.byteLength == name.byteLength && sameBytes(changetype<usize>(id), changetype<usize>(name), <usize>id.byteLength)) { found = a; break; }
        }
        if (found < 0) return this.bad("plans[" + decimal(i) + "].apiIds[" + decimal(k) + "]", "unknown API id '" + unchecked(plan.apiIdNames[k]) + "'");
        unchecked(plan.apiBits[found >>> 5] |= 1 << (found & 31));
      }
    }
    if (!this.linkLimits()) return false;
    const t = cfg.keys;
    for (let i = 0; i < t.count; i++) {
      if (unchecked(t.plan[i]) >= cfg.plans.length) return this.bad("keys[" + decimal(i) + "][3]", "plan index out of range");
    }
    const dup = t.build();
    if (dup >= 0) return this.bad("keys[" + decimal(dup) + "][0]", "duplicate digest");
    cfg.finish();
    return true;
  }
}

/** Decodes `len` bytes of JSON at `ptr`. Never traps. */
export function decodeConfig(ptr: usize, len: usize): DecodeResult {
  const r = new DecodeResult();
  if (len == 0) {
    r.error = "(root): configuration is empty";
    return r;
  }
  const d = new Decoder(ptr, len);
  if (d.top() && !d.s.failed) {
    r.config = d.cfg;
  } else {
    r.error = (d.field.length > 0 ? d.field : "(root)") + ": " + d.s.error + " (at byte " + decimal(d.s.offset) + ")";
  }
  d.s.release(); // everything kept was copied out of the scanner's buffer
  return r;
}
