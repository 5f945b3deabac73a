// A parse worker's entry when the service runs from source: TypeScript through tsx, registered in this thread (the
// CLI registers tsx in its own thread only). The bundle needs no such entry: its worker loads dist/control.js itself.
import { register } from 'tsx/esm/api';

register();
await import('./parse-worker.ts');
