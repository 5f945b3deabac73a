// `tollgate control`: run the control service.
import { parseSettingFlags, settingsHelp } from './cli-flags.js';
import { serve } from './server.js';
import { loadSettings, SettingsError } from './settings.js';

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSettingFlags(argv);
  } catch (err) {
    console.error(`tollgate control: ${(err as Error).message}\n\nusage: tollgate control [options]\n${settingsHelp()}`);
    return 2;
  }
  if (parsed.help) {
    console.log(`usage: tollgate control [options]\n\nEvery option can also be set by the environment variable in brackets.\n${settingsHelp()}`);
    return 0;
  }
  try {
    return await serve(loadSettings(process.env, parsed.flags));
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(`tollgate control: ${err.message}`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      console.error(`tollgate control: cannot listen: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
}
