// A one-file ustar archive. Written by hand rather than with an npm tar library because we need exactly one regular
// file with a fixed header (mtime 0, uid/gid 0, no user names) so that the same wasm always yields the same bytes and
// therefore the same layer digest; that is 512 header bytes, which is less code than configuring a library to be
// deterministic.

const BLOCK = 512;

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: '${value}' does not fit in ${length} bytes`);
  bytes.copy(header, offset);
}

// Numeric fields are zero-padded octal followed by a NUL, filling the field.
function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar: ${value} does not fit in a ${length}-byte field`);
  writeString(header, offset, length, digits.padStart(length - 1, '0') + '\0');
}

function ustarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  writeString(header, 0, 100, name);
  writeOctal(header, 100, 8, 0o644); // mode
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, 0); // mtime: fixed, for reproducible digests
  header.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  header.write('0', 156, 'ascii'); // typeflag: regular file
  writeString(header, 257, 6, 'ustar\0');
  writeString(header, 263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return header;
}

/** A tar archive holding one regular file `name` with `content`. */
export function singleFileTar(name: string, content: Uint8Array): Buffer {
  const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
  return Buffer.concat([ustarHeader(name, content.length), content, Buffer.alloc(padding), Buffer.alloc(2 * BLOCK)]);
}
