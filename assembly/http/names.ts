// Every header name the filter reads or writes itself, in one place (configured names, such as key locations and
// identity headers, live in the configuration). Lowercase, as Envoy hands header names to filters.

export const H_METHOD = String.UTF8.encode(":method");
export const H_PATH = String.UTF8.encode(":path");
export const H_AUTHORITY = String.UTF8.encode(":authority");
export const H_STATUS = String.UTF8.encode(":status");
export const H_CONTENT_TYPE = String.UTF8.encode("content-type");
export const H_RETRY_AFTER = String.UTF8.encode("retry-after");
export const H_RATELIMIT_LIMIT = String.UTF8.encode("ratelimit-limit");
export const H_RATELIMIT_REMAINING = String.UTF8.encode("ratelimit-remaining");
export const H_RATELIMIT_RESET = String.UTF8.encode("ratelimit-reset");
export const H_RATELIMIT = String.UTF8.encode("ratelimit");
export const H_RATELIMIT_POLICY = String.UTF8.encode("ratelimit-policy");
export const H_WWW_AUTHENTICATE = String.UTF8.encode("www-authenticate");
export const H_ALLOW = String.UTF8.encode("allow");

// The pseudo-header names read on every request and response, as little-endian words of their bytes, so a header
// name is recognised by one or two integer compares instead of a byte compare (tests/assembly/names.spec.ts checks
// them against the names above).
/** ":path": bytes 0-3, byte 4. */
export const PATH_W0: u32 = 0x7461703a;
export const PATH_B4: u8 = 0x68;
/** ":method": bytes 0-3, bytes 3-6. */
export const METHOD_W0: u32 = 0x74656d3a;
export const METHOD_W3: u32 = 0x646f6874;
/** ":authority": bytes 0-7, bytes 8-9. */
export const AUTHORITY_W0: u64 = 0x69726f687475613a;
export const AUTHORITY_H8: u16 = 0x7974;
/** ":status": bytes 0-3, bytes 3-6. */
export const STATUS_W0: u32 = 0x6174733a;
export const STATUS_W3: u32 = 0x73757461;

/** Whether the `n` bytes at `p` are ":path", ":method", ":authority" or ":status". */
@inline export function isPath(p: usize, n: usize): bool { return n == 5 && load<u32>(p) == PATH_W0 && load<u8>(p, 4) == PATH_B4; }
@inline export function isMethod(p: usize, n: usize): bool { return n == 7 && load<u32>(p) == METHOD_W0 && load<u32>(p, 3) == METHOD_W3; }
@inline export function isAuthority(p: usize, n: usize): bool { return n == 10 && load<u64>(p) == AUTHORITY_W0 && load<u16>(p, 8) == AUTHORITY_H8; }
@inline export function isStatus(p: usize, n: usize): bool { return n == 7 && load<u32>(p) == STATUS_W0 && load<u32>(p, 3) == STATUS_W3; }
