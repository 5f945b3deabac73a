// The host's public entry point: createHost (the Envoy stand-in) and its types. Other parts import only from here.
export { createHost } from './plugin-host.js';
export * from './api.js';
