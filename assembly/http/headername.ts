// Header-name comparison that treats '-' and '_' as the same byte. CGI, WSGI and many frameworks expose a request
// header as HTTP_X_TOLLGATE_CONSUMER whichever of the two the client used, so a forged `x_tollgate_consumer` must be
// stripped like `x-tollgate-consumer`.

/** Whether `n` bytes at `a` and `b` are equal with '-' and '_' treated as equal (names are lowercase already). */
export function namesEqualDashFolded(a: usize, b: usize, n: usize): bool {
  for (let i: usize = 0; i < n; i++) {
    const x = load<u8>(a + i), y = load<u8>(b + i);
    if (x == y) continue;
    if ((x == 0x2d || x == 0x5f) && (y == 0x2d || y == 0x5f)) continue;
    return false;
  }
  return true;
}
