// `tollgate render [--out DIR]`: compile the store once and print (or write) every target's object as YAML, for
// GitOps: a WasmPlugin, TrafficExtension or EnvoyExtensionPolicy, by the target's resource kind (docs/deploy.md).
import { parseSettingFlags, settingsHelp } from './cli-flags.js';
import { DirTarget } from './distribution/targets/dir.js';
import { pluginImage, usageEndpoint } from './distribution/targets/from-settings.js';
import { renderTarget } from './distribution/distributor.js';
import { RenderError, resourceYaml } from './distribution/resources/resource.js';
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
    console.log(`usage: tollgate render [--out DIR] [options]\n\n  --out DIR  write <kind>-<name>.yaml per target (wasmplugin-, trafficextension-, envoyextensionpolicy-; an Envoy Gateway target's envoypatchpolicy- too) into DIR (atomically) instead of printing them\n${settingsHelp()}`);
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
      let failed = 0;
      for (const target of snapshot.targets) {
        let rendered;
        try {
          rendered = renderTarget(snapshot, target, { plugin: pluginImage(settings), usage: usageEndpoint(settings) });
        } catch (err) {
          // One target that cannot be rendered (say, an EnvoyExtensionPolicy with a file:// filter url) does not
          // hold back the others; the exit status says something is missing.
          if (!(err instanceof RenderError)) throw err;
          console.error(`tollgate render: target ${target.namespace}/${target.name} (${target.kind ?? 'WasmPlugin'}): ${err.message}`);
          failed++;
          continue;
        }
        if (rendered.resource.kind === 'EnvoyExtensionPolicy' && rendered.companions.length === 0) {
          // Routes only: tollgate cannot see their Gateway, so nothing gives it the cluster the filter calls.
          console.error(`tollgate render: target ${target.namespace}/${target.name} (EnvoyExtensionPolicy) names no Gateway: add Envoy cluster ${rendered.compiled.config.usage?.cluster ?? ''} to its routes' Gateway with an EnvoyPatchPolicy (docs/deploy.md, Envoy Gateway)`);
        }
        if (out !== undefined) {
          await new DirTarget(out).publish(rendered);
          const files = [...rendered.companions, rendered.resource].map((o) => DirTarget.fileName(o)).join(', ');
          console.error(`tollgate render: wrote ${files} (version ${rendered.compiled.version})`);
        } else {
          docs.push(...rendered.companions.map(resourceYaml), resourceYaml(rendered.resource));
        }
      }
      if (out === undefined) process.stdout.write(docs.join('---\n'));
      return failed === 0 ? 0 : 1;
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
