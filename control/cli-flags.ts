// The settings' CLI flags (one per env var, see settings.ts) for `tollgate control` and `tollgate render`.
import { parseArgs } from 'node:util';
import { SETTING_SPECS } from './settings.js';

export function settingsHelp(): string {
  const width = Math.max(...SETTING_SPECS.map((s) => s.flag.length + s.env.length + 6));
  return SETTING_SPECS.map((s) => `  ${`--${s.flag} (${s.env})`.padEnd(width)}  ${s.help}`).join('\n');
}

export interface ParsedFlags { flags: Record<string, string>; help: boolean; extra: Record<string, string | undefined> }

/** Setting flags plus `extraNames` (string options of the one command); throws on unknown flags. */
export function parseSettingFlags(argv: string[], extraNames: string[] = []): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const s of SETTING_SPECS) options[s.flag] = { type: 'string' };
  for (const name of extraNames) options[name] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const flags: Record<string, string> = {};
  const extra: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') continue;
    if (extraNames.includes(name)) extra[name] = value;
    else flags[name] = value;
  }
  return { flags, help: values.help === true, extra };
}
