/**
 * The agent's socket: one request per connection, answered once (src/agent/protocol.ts). Requests
 * run concurrently; a connection that says nothing for long is dropped.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { Agent } from './agent.js';
import { FrameReader, encodeFrame, parseRequest, type CliRequest, type HookRequest } from './protocol.js';

/** A client that has not sent its whole request by then is gone. */
const REQUEST_TIMEOUT_MS = 30_000;

export function createAgentServer(agent: Agent, log: () => Logger): Server {
  return createServer({ allowHalfOpen: false }, (socket) => serveConnection(agent, socket, log));
}

function serveConnection(agent: Agent, socket: Socket, log: () => Logger): void {
  const reader = new FrameReader();
  let done = false;
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    if (done) return;
    let frame: Buffer | undefined;
    try {
      frame = reader.push(chunk);
    } catch (err) {
      done = true;
      log().warn({ err: (err as Error).message }, 'a request the agent refuses');
      socket.destroy();
      return;
    }
    if (!frame) return;
    done = true;
    socket.setTimeout(0);
    void answer(agent, frame, log).then((reply) => socket.end(encodeFrame(reply)));
  });
}

async function answer(agent: Agent, frame: Buffer, log: () => Logger): Promise<unknown> {
  let req;
  try {
    req = parseRequest(frame);
  } catch (err) {
    const message = (err as Error).message;
    log().warn({ err: message }, 'a request the agent cannot read; the front door fails open');
    // The same shape every client understands as a refusal to act; the front door fails open on it.
    return { v: 1, ok: false, message };
  }
  try {
    switch (req.kind) {
      case 'prepare':
        return await agent.handlePrepare(req);
      case 'record':
      case 'report':
        return await agent.handleHook(req as HookRequest);
      default:
        return await agent.handleCli(req as CliRequest);
    }
  } catch (err) {
    // A bug of ours must not stop a container: fail open (strict mode only refuses what it knows).
    log().error({ kind: req.kind, err: (err as Error).stack }, 'the agent failed a request; answering so the container goes on');
    return req.kind === 'prepare' ? { v: 1, go: true } : { v: 1, ok: true };
  }
}
