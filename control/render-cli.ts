// `tollgate render [--out DIR]`: compile the store once and print (or write) every target's WasmPlugin YAML, for
// GitOps.
import { parseSettingFlags, settingsHelp } from './cli-flags.js';
import { DirTarget } from './distribution/targets/dir.js';
import { pluginImage, usageEndpoint } from './distribution/targets/from-settings.js';
import { renderTarget } from './distribution/distributor.js';
import { wasmPluginYaml } from './distribution/wasmplugin.js';
import { loadSettings, SettingsError } from './settings.js';
import { composeCore } from './compose.js';

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSettingFlags(argv, ['out']);
  } catch (err) {
    console.error(`tollgate render: ${(err as Error).message}`);
    return 2;
  }
  if (parsed.help) {
    console.log(`usage: tollgate render [--out DIR] [options]\n\n  --out DIR  write wasmplugin-<name>.yaml per target into DIR (atomically) instead of printing them\n${settingsHelp()}`);
    return 0;
  }
  try {
    const out = parsed.extra.out;
    const settings = loadSettings(process.env, parsed.flags);
    // The same parts as the service (compose.ts): the default target follows the settings as when it starts.
    const { store, usage } = await composeCore(settings, undefined);
    try {
      const snapshot = await store.snapshot();
      const docs: string[] = [];
      for (const target of snapshot.targets) {
        const { compiled, wasmPlugin } = renderTarget(snapshot, target, { plugin: pluginImage(settings), usage: usageEndpoint(settings) });
        if (out !== undefined) {
          await new DirTarget(out).publish(wasmPlugin);
          console.error(`tollgate render: wrote ${DirTarget.fileName(wasmPlugin)} (version ${compiled.version})`);
        } else {
          docs.push(wasmPluginYaml(wasmPlugin));
        }
      }
      if (out === undefined) process.stdout.write(docs.join('---\n'));
      return 0;
    } finally {
      await usage.close();
      await store.close();
    }
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(`tollgate render: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
