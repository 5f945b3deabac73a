// Preloaded into the control service child by `tollgate start` (node --import): the child's stdin is a pipe whose
// other end only the mesh holds, so it ends when the mesh goes away in any way, SIGKILL included (no exit hook runs
// then). The control service then shuts down as on SIGTERM instead of being orphaned holding the port and the store.
// Plain JavaScript: it runs before tsx is registered.
const terminate = () => process.kill(process.pid, 'SIGTERM');
process.stdin.once('end', terminate);
process.stdin.once('error', terminate);
process.stdin.resume();
// Watching must not keep the service alive once it has shut down by itself.
process.stdin.unref();
