// The host's public entry point: createHost (the Envoy stand-in), startFront (its HTTP listener) and the API types.
// Other parts import only from here; tests and benchmarks may reach into a room (abi/, runtime/, http/) for internals.
export { createHost } from './runtime/plugin-host.js';
export { startFront, type Front, type FrontOptions } from './http/front.js';
export * from './contract.js';
