'use strict';
// Preloaded into the embedded Hardhat node (`node --require anchor/dev-node-guard.js … hardhat node`,
// anchor/dev-node.ts): the node lives only as long as the process that started it. The owner
// holds the other end of the node's stdin; when the owner dies, even by SIGKILL, the kernel
// closes it and the node exits. A changed parent pid (the owner is gone, the node was
// re-parented) ends it too, in case the pipe is ever held open by someone else.
// Plain JavaScript: it runs in the Hardhat process, before any TypeScript loader.
const owner = process.ppid;
const leave = () => process.exit(0);
process.stdin.on('end', leave);
process.stdin.on('close', leave);
process.stdin.on('error', leave);
process.stdin.resume();
setInterval(() => {
  if (process.ppid !== owner) leave();
}, 500).unref();
