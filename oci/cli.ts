// `tollgate publish`: push the filter to an OCI registry as an image Istio's WasmPlugin can pull, and/or write it as an
// OCI image layout directory.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveCredentials, type Credentials } from './auth.js';
import { digestHex } from './digest.js';
import { writeOciLayout } from './layout.js';
import { buildWasmImage, type ImageFormat } from './manifest.js';
import { pushImage } from './push.js';
import { formatReference, isLoopbackHost, parseReference, type ImageReference } from './reference.js';
import { RegistryClient } from './registry.js';

const USAGE = `usage: tollgate publish <registry>/<repository>:<tag> [options]
       tollgate publish --oci-layout DIR [options]

Pushes the filter through the OCI distribution API and prints the WasmPlugin url and sha256.

options:
  --wasm FILE           module to publish (default build/tollgate.wasm)
  --format FORMAT       artifact (default): Wasm artifact, two layers (runtime config JSON + raw wasm)
                        compat: one gzip tar layer holding plugin.wasm
  --root-id ID          Proxy-Wasm root id recorded in the artifact's runtime config (default tollgate);
                        repeat for several
  --insecure            plain HTTP, for loopback test registries
  --oci-layout DIR      also write an OCI image layout directory (instead, when no reference is given)
  --username USER       registry user; the password is read from stdin (--password-stdin)
  --password-stdin      read the password from standard input
  -h, --help            this text

Credentials, first found wins: --username/--password-stdin, TOLLGATE_REGISTRY_USERNAME/TOLLGATE_REGISTRY_PASSWORD,
then $DOCKER_CONFIG/config.json or ~/.docker/config.json (credHelpers/credsStore helper, else auths[<registry>].auth).
Without any, the push is anonymous.
Trust a private CA with NODE_EXTRA_CA_CERTS=<pem file>.`;

interface PublishArgs {
  reference: ImageReference | undefined;
  wasmPath: string;
  format: ImageFormat;
  rootIds: string[];
  insecure: boolean;
  layoutDir: string | undefined;
  username: string | undefined;
  passwordStdin: boolean;
}

class UsageError extends Error {}

function parsePublishArgs(argv: string[]): PublishArgs | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      wasm: { type: 'string', default: 'build/tollgate.wasm' },
      format: { type: 'string', default: 'artifact' },
      'root-id': { type: 'string', multiple: true },
      insecure: { type: 'boolean', default: false },
      'oci-layout': { type: 'string' },
      username: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw new UsageError(`expected one image reference, got ${positionals.length}`);
  if (positionals.length === 0 && values['oci-layout'] === undefined) throw new UsageError('missing image reference (or --oci-layout DIR)');
  if (values.format !== 'artifact' && values.format !== 'compat') throw new UsageError(`--format must be artifact or compat, not '${values.format}'`);
  if (values['password-stdin'] !== (values.username !== undefined)) throw new UsageError('--username and --password-stdin go together');
  const first = positionals[0];
  return {
    reference: first === undefined ? undefined : parseReference(first),
    wasmPath: values.wasm,
    format: values.format,
    rootIds: values['root-id'] ?? ['tollgate'],
    insecure: values.insecure,
    layoutDir: values['oci-layout'],
    username: values.username,
    passwordStdin: values['password-stdin'],
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function readWasm(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const hint = path === 'build/tollgate.wasm' ? " (run 'npm run build' first)" : '';
    throw new Error(`cannot read ${path}${hint}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  let args: PublishArgs | 'help';
  try {
    args = parsePublishArgs(argv);
  } catch (error) {
    console.error(`tollgate publish: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  try {
    const wasm = readWasm(args.wasmPath);
    const image = buildWasmImage(wasm, { format: args.format, rootIds: args.rootIds });
    const ref = args.reference;
    if (args.layoutDir !== undefined) {
      writeOciLayout(args.layoutDir, image, ref?.tag ?? 'latest');
      console.log(`wrote OCI image layout ${args.layoutDir} (${image.format}, ${image.manifestDigest})`);
    }
    if (ref === undefined) return 0;
    if (args.insecure && !isLoopbackHost(ref.registry)) {
      console.error(`tollgate publish: warning: --insecure sends to ${ref.registry} over plain HTTP`);
    }
    const flagCredentials: Credentials | undefined = args.username === undefined ? undefined : { username: args.username, password: await readStdin() };
    const credentials = resolveCredentials(ref.registry, flagCredentials, process.env);
    const client = new RegistryClient({ registry: ref.registry, repository: ref.repository, insecure: args.insecure, credentials });
    const result = await pushImage(client, image, ref.tag);
    console.log(`pushed ${formatReference(ref)} (${image.format}, ${wasm.length} bytes of wasm; blobs: ${result.uploaded.length} uploaded, ${result.skipped.length} already present)`);
    console.log(`digest: ${result.manifestDigest}`);
    console.log(`\nWasmPlugin spec:\n  url: oci://${formatReference(ref)}\n  sha256: ${digestHex(result.manifestDigest)}`);
    return 0;
  } catch (error) {
    console.error(`tollgate publish: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
