// One CLI, several subcommands. Each subcommand lives with the part it belongs to and exports
// `run(argv): Promise<number>` (the exit code); this file only dispatches, loading just the one it needs.

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  start: { summary: 'run the whole mesh locally: control service, sidecar (host + filter), demo upstream', load: () => import('../mesh/cli.js') },
  control: { summary: 'run the control service', load: () => import('../control/cli.js') },
  render: { summary: 'compile the store into each target\'s WasmPlugin/TrafficExtension/EnvoyExtensionPolicy YAML (GitOps)', load: () => import('../control/render-cli.js') },
  discover: { summary: 'service discovery: what it did, or with --dry-run what it would do (APIs from annotated Services)', load: () => import('../control/discovery/cli.js') },
  import: { summary: 'import an OpenAPI document as an API with operations (into a running control service)', load: () => import('../control/import-cli.js') },
  'migrate-store': { summary: 'copy a SQLite store into a new PostgreSQL database', load: () => import('../control/migrate-store-cli.js') },
  publish: { summary: 'push the filter to an OCI registry as an Istio Wasm image', load: () => import('../oci/cli.js') },
  replay: { summary: 'run recorded requests through the filter on the Envoy-like host', load: () => import('../host/replay/cli.js') },
  // The admin CLI (docs/cli.md): one yargs tree in cli/admin/, against a running control service.
  apis: { summary: 'list, show, create and delete APIs', load: () => import('./admin/index.js').then((m) => m.command('apis')) },
  plans: { summary: 'list, show, create and delete plans', load: () => import('./admin/index.js').then((m) => m.command('plans')) },
  consumers: { summary: 'list, show, create and delete consumers', load: () => import('./admin/index.js').then((m) => m.command('consumers')) },
  keys: { summary: 'create (printed once), list, revoke and rotate keys', load: () => import('./admin/index.js').then((m) => m.command('keys')) },
  usage: { summary: 'usage totals, and `usage export` for billing (CSV/NDJSON)', load: () => import('./admin/index.js').then((m) => m.command('usage')) },
  completion: { summary: 'print the bash or zsh completion script', load: () => import('./admin/index.js').then((m) => m.command('completion')) },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: tollgate <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'tollgate <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // What the completion scripts ask (cli/admin/index.ts): every command's name and summary, for the first word.
  if (name === '--get-yargs-completions') {
    const admin = await import('./admin/index.js');
    return admin.complete(rest, Object.entries(commands).map(([n, c]) => [n, c.summary] as const));
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    console.error(`tollgate: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}
