// Fixed rate-limit windows aligned to UTC calendar boundaries. Times are whole unix seconds (f64 holds them
// exactly far beyond any real date and matches the configuration's number type).

export const PER_SECOND: i32 = 0;
export const PER_MINUTE: i32 = 1;
export const PER_HOUR: i32 = 2;
export const PER_DAY: i32 = 3;
export const PER_MONTH: i32 = 4;
export const PERIOD_COUNT: i32 = 5;

/** Period code for a name ("second" … "month"), or -1. */
export function periodFromName(name: string): i32 {
  if (name == "second") return PER_SECOND;
  if (name == "minute") return PER_MINUTE;
  if (name == "hour") return PER_HOUR;
  if (name == "day") return PER_DAY;
  if (name == "month") return PER_MONTH;
  return -1;
}

/** Days since 1970-01-01 of the first day of the month containing `days` (civil-calendar arithmetic). */
function monthStartDays(days: i64): i64 {
  // Shift the era to start on 0000-03-01 so leap days fall at the end of the year.
  const z = days + 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const dayOfMonth0 = doy - (153 * mp + 2) / 5;
  return days - dayOfMonth0;
}

/** Number of days in the month starting at day `startDays`. */
function monthLengthDays(startDays: i64): i64 {
  // The first of the next month is at least 28 and at most 31 days later; find it by taking the month start of
  // a day safely inside the next month.
  return monthStartDays(startDays + 31) - startDays;
}

@inline function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/** Start (unix seconds) of the window of period `per` containing `now`. */
export function windowStart(per: i32, now: i64): i64 {
  switch (per) {
    case PER_SECOND: return now;
    case PER_MINUTE: return floorDiv(now, 60) * 60;
    case PER_HOUR: return floorDiv(now, 3600) * 3600;
    case PER_DAY: return floorDiv(now, 86400) * 86400;
    default: return monthStartDays(floorDiv(now, 86400)) * 86400;
  }
}

/** End (exclusive, unix seconds) of the window of period `per` that starts at `start`. */
export function windowEnd(per: i32, start: i64): i64 {
  switch (per) {
    case PER_SECOND: return start + 1;
    case PER_MINUTE: return start + 60;
    case PER_HOUR: return start + 3600;
    case PER_DAY: return start + 86400;
    default: return start + monthLengthDays(floorDiv(start, 86400)) * 86400;
  }
}
