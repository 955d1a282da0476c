/**
 * The CLI's side of the agent's socket (src/agent/protocol.ts): it finds the agent serving a state
 * directory by STATE_DIR/agent.json, which the agent writes.
 */
import { connect } from 'node:net';
import { runningAgent } from '../agent/main.js';
import { FrameReader, encodeFrame, type CliReply, type CliRequest } from '../agent/protocol.js';

export class NoAgentError extends Error {
  override name = 'NoAgentError';
}

export async function askAgent(stateDir: string, request: CliRequest, timeoutMs = 60_000): Promise<CliReply> {
  const agent = runningAgent(stateDir);
  if (!agent) throw new NoAgentError(`no oci-ftrace agent serves ${stateDir} (it starts with the first traced container)`);
  return new Promise((resolve, reject) => {
    const socket = connect(agent.socket);
    const reader = new FrameReader();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the agent did not answer in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => socket.write(encodeFrame(request)));
    socket.on('data', (chunk: Buffer) => {
      const frame = reader.push(chunk);
      if (!frame) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(JSON.parse(frame.toString('utf8')) as CliReply);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the agent at ${agent.socket}: ${err.message}`));
    });
  });
}
