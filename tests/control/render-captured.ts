// `tollgate render` run in-process with what it prints captured (stdout writes and console.error lines).
import { run as renderRun } from '../../control/render-cli.js';

export async function renderCaptured(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const error = console.error;
  process.stdout.write = ((chunk: string | Uint8Array): boolean => { out += String(chunk); return true; }) as typeof process.stdout.write;
  console.error = (...args: unknown[]): void => { err += `${args.join(' ')}\n`; };
  try {
    return { code: await renderRun(argv), out, err };
  } finally {
    process.stdout.write = write;
    console.error = error;
  }
}
