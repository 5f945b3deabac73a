// The control service's programmatic surface for other parts (the local mesh, end-to-end tests).
export { startControl, type RunningControl } from './server.js';
export { buildApp, type BuildOptions } from './app.js';
export { defaultSettings, loadSettings, type ControlSettings, type DistributionTarget } from './settings.js';
export { compile, type CompiledConfig } from './compiler/compile.js';
export { renderWasmPlugin, wasmPluginYaml, type WasmPlugin } from './distribution/wasmplugin.js';
