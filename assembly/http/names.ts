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
export const H_WWW_AUTHENTICATE = String.UTF8.encode("www-authenticate");
export const H_ALLOW = String.UTF8.encode("allow");
