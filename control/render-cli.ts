// `tollgate render [--out DIR]`: compile the store once and print (or write) the WasmPlugin YAML, for GitOps.
import { compile } from './compiler/compile.js';
import { parseSettingFlags, settingsHelp } from './cli-flags.js';
import { DirTarget } from './distribution/targets/dir.js';
import { usageOptions, wasmPluginOptions } from './distribution/targets/from-settings.js';
import { renderWasmPlugin, wasmPluginYaml } from './distribution/wasmplugin.js';
import { loadSettings, SettingsError } from './settings.js';
import { openSqliteStore } from './store/sqlite/index.js';
import { resolveReportToken } from './tokens.js';

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSettingFlags(argv, ['out']);
  } catch (err) {
    console.error(`tollgate render: ${(err as Error).message}`);
    return 2;
  }
  if (parsed.help) {
    console.log(`usage: tollgate render [--out DIR] [options]\n\n  --out DIR  write wasmplugin-<name>.yaml into DIR (atomically) instead of printing it\n${settingsHelp()}`);
    return 0;
  }
  try {
    const out = parsed.extra.out;
    const settings = loadSettings(process.env, parsed.flags);
    const store = openSqliteStore({ path: settings.dbPath });
    try {
      const reportToken = await resolveReportToken(store.secrets, settings.reportToken);
      const compiled = compile(await store.snapshot(), { now: Math.floor(Date.now() / 1000), usage: usageOptions(settings, reportToken) });
      const plugin = renderWasmPlugin(compiled.config, compiled.version, wasmPluginOptions(settings));
      if (out !== undefined) {
        await new DirTarget(out).publish(plugin);
        console.error(`tollgate render: wrote ${DirTarget.fileName(plugin)} (version ${compiled.version}, ${compiled.config.keys.length} keys)`);
      } else {
        process.stdout.write(wasmPluginYaml(plugin));
      }
      return 0;
    } finally {
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
