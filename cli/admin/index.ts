// The admin CLI's entry (docs/cli.md): cli/main.ts hands `tollgate apis|plans|consumers|keys|usage|completion …` here.
// Exit codes: 0 done; 1 the service answered with an error (its problem+json printed readably); 2 a usage error (bad
// flags, no token, a config file that is unreadable or readable by others); 3 the service could not be reached.
import yargs, { type Argv } from 'yargs';
import { adminCommands } from './commands.js';
import { ProblemError, UnreachableError } from './client.js';
import { UsageError } from './config.js';
import { formatProblem } from './output.js';

export const EXIT = { ok: 0, problem: 1, usage: 2, unreachable: 3 } as const;
/** Top-level names this module answers (cli/main.ts routes them here). */
export const ADMIN_COMMANDS = ['apis', 'plans', 'consumers', 'keys', 'usage', 'completion'] as const;
const SHELLS = ['bash', 'zsh'] as const;

/** Thrown by yargs' fail hook so the message reaches run() instead of yargs printing and exiting. */
class ParseFailure extends Error {}

interface Global { url?: string; token?: string; config?: string; output: 'table' | 'json' }

/**
 * The whole tree on one yargs instance. `others`: the rest of tollgate's top-level commands, listed for completion only
 * (cli/main.ts runs them with their own parsers).
 */
function parser(argv: string[], others: readonly (readonly [string, string])[] = []): Argv<Global> {
  let y = yargs(argv)
    .scriptName('tollgate')
    .usage('usage: tollgate <command> <subcommand> [options]')
    .option('url', { type: 'string', global: true, describe: 'control service URL (else TOLLGATE_URL, the config file, http://127.0.0.1:7070)' })
    .option('token', { type: 'string', global: true, describe: 'admin token (else TOLLGATE_TOKEN, TOLLGATE_ADMIN_TOKEN, the config file)' })
    .option('config', { type: 'string', global: true, describe: 'config file (else TOLLGATE_CONFIG, ~/.config/tollgate/config.json)' })
    .option('output', { alias: 'o', choices: ['table', 'json'] as const, default: 'table' as const, global: true, describe: 'output format' })
    .strict()
    .exitProcess(false)
    .help()
    .version(false)
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    // Completion replies come from `--get-yargs-completions`; the script itself is printed by `completion <shell>`.
    .completion('__completion', false)
    .fail((msg, err) => { throw err ?? new ParseFailure(msg); }) as Argv<Global>;
  y = adminCommands(y)
    .command('completion <shell>', 'print the shell completion script (bash or zsh)', (c: Argv) => c.positional('shell', { choices: SHELLS, demandOption: true }),
      (a) => { printCompletionScript(a.shell as (typeof SHELLS)[number]); });
  for (const [name, summary] of others) if (!(ADMIN_COMMANDS as readonly string[]).includes(name)) y = y.command(name, summary) as Argv<Global>;
  return y.demandCommand(1, 'name a command');
}

/**
 * Prints the completion script. yargs picks the script by $SHELL when its completion helper is made: make one under
 * the asked shell. The script calls `tollgate --get-yargs-completions …`, which cli/main.ts sends to complete() below.
 */
export function printCompletionScript(shell: (typeof SHELLS)[number]): void {
  const saved = { SHELL: process.env.SHELL, ZSH_NAME: process.env.ZSH_NAME };
  process.env.SHELL = shell === 'zsh' ? '/bin/zsh' : '/bin/bash';
  delete process.env.ZSH_NAME;
  try {
    yargs([]).scriptName('tollgate').completion('completion', false).exitProcess(false).showCompletionScript();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

/** Runs `tollgate <argv…>` for an admin command; resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  // `tollgate usage export … | head`: a reader that went away is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  try {
    await parser(argv).parseAsync();
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ProblemError) {
      process.stderr.write(formatProblem(err.status, err.problem));
      return EXIT.problem;
    }
    if (err instanceof UnreachableError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.unreachable;
    }
    if (err instanceof UsageError || err instanceof ParseFailure) {
      process.stderr.write(`tollgate: ${err.message}\n(run with --help for the options)\n`);
      return EXIT.usage;
    }
    // yargs' own validation errors (YError) are usage errors too.
    if ((err as Error).name === 'YError') {
      process.stderr.write(`tollgate: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

/** `tollgate --get-yargs-completions <words…>` from a completion script: prints the candidates, one per line. */
export async function complete(argv: string[], others: readonly (readonly [string, string])[]): Promise<number> {
  try {
    await parser(['--get-yargs-completions', ...argv], others).parseAsync();
  } catch {
    // A half-typed line may not parse: offer nothing rather than an error in the user's shell.
  }
  return EXIT.ok;
}

/** cli/main.ts's view of one admin command: `run(rest)` with its name put back in front. */
export const command = (name: string): { run(argv: string[]): Promise<number> } => ({ run: (argv) => run([name, ...argv]) });
