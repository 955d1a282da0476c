// At install (npm install -g of the package, or npm install in a checkout): the front door is
// compiled here, on this machine, with this package's paths and this Node baked in, since engines
// run it with sparse environments and it must find the agent without PATH. It is not in the
// package: a binary built elsewhere would name the wrong paths.
import './record-node-path.mjs';
await import('./build-front-door.mjs');
