#!/usr/bin/env node
// The `tollgate` CLI. Sources are TypeScript, run through tsx so a clone works without a build step;
// the control service's container uses the esbuild bundle (dist/control.js) instead.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
