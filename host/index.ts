// The host's public entry point: createHost (the Envoy stand-in), startFront (its HTTP listener) and the API types.
// Other parts import only from here.
export { createHost } from './plugin-host.js';
export { startFront, type Front, type FrontOptions } from './front.js';
export * from './api.js';
