// The capacity benchmark's floor for the central's side: a bare Bun.listen that takes the load generator's
// frames, appends every bets frame's payload as it came to one file, fdatasyncs once per group (whatever arrived
// while the previous sync ran) and then answers each frame of the group, in order, with one fixed frame:
// OK for bets and END, a welcome for a hello, an empty winners list for the query. No decoding past the
// frame header, no checks, no rows, no flow control, no log lines.
//   bun lib/tooling/bench/central-floor.ts OUT [CERTS]      prints "port: N"; runs until SIGTERM
// With CERTS (a directory as `bun run gen-certs` writes it), mutual TLS as the central speaks it.
import { closeSync, fdatasync, openSync, readFileSync, writeSync } from "node:fs";
import type { Socket } from "bun";
import { withCapacity } from "../../util/bytes.ts";
import { certificatePaths } from "../../deployment/certs.ts";
import { DEFAULT_MAX_FRAME_BYTES, encodeMessage, FrameDecoder, MessageType } from "../../protocol/index.ts";
import { SocketWriter } from "../../transport/socket-writer.ts";

const REPLIES: Record<number, Buffer> = {
  [MessageType.Hello]: encodeMessage({ type: MessageType.Welcome, stored: 0 }),
  [MessageType.Bets]: encodeMessage({ type: MessageType.Ok, count: 0 }),
  [MessageType.End]: encodeMessage({ type: MessageType.Ok, count: 0 }),
  [MessageType.WinnersQuery]: encodeMessage({ type: MessageType.Winners, documents: [] }),
};

interface Peer {
  decoder: FrameDecoder;
  writer: SocketWriter;
}

/** Frames received since the last sync started, and who is owed an answer for each. */
class Group {
  bytes: Uint8Array = new Uint8Array(1 << 20);
  length = 0;
  readonly peers: Peer[] = [];
  readonly replies: Buffer[] = [];

  add(peer: Peer, type: number, payload: Buffer): void {
    const reply = REPLIES[type];
    if (!reply) throw new Error(`unexpected frame type ${type}`);
    if (type === MessageType.Bets) {
      // A view of the received chunk: copied here, before the decoder moves on.
      this.bytes = withCapacity(this.bytes, this.length + payload.length, this.length);
      this.bytes.set(payload, this.length);
      this.length += payload.length;
    }
    this.peers.push(peer);
    this.replies.push(reply);
  }

  clear(): void {
    this.length = 0;
    this.peers.length = 0;
    this.replies.length = 0;
  }
}

const [out, certs] = [process.argv[2]!, process.argv[3]];
const serverFiles = certs ? certificatePaths(certs, "server") : undefined;
const read = (path: string) => readFileSync(path, "utf8");
const fd = openSync(out, "a");
// Two groups swap: one fills while the other is written and synced.
let filling = new Group();
let syncing = new Group();
let busy = false;

function commit(): void {
  if (busy || filling.peers.length === 0) return;
  busy = true;
  [filling, syncing] = [syncing, filling];
  const group = syncing;
  let written = 0;
  while (written < group.length) written += writeSync(fd, group.bytes, written, group.length - written);
  fdatasync(fd, (error) => {
    if (error) throw error;
    for (let i = 0; i < group.peers.length; i++) group.peers[i]!.writer.writeSoon(group.replies[i]!);
    group.clear();
    busy = false;
    commit();
  });
}

const listener = Bun.listen<Peer>({
  hostname: "127.0.0.1",
  port: 0,
  tls: serverFiles
    ? { cert: read(serverFiles.cert), key: read(serverFiles.key), ca: read(serverFiles.ca), requestCert: true, rejectUnauthorized: true }
    : undefined,
  socket: {
    open(socket: Socket<Peer>) {
      socket.data = { decoder: new FrameDecoder(DEFAULT_MAX_FRAME_BYTES), writer: new SocketWriter(socket) };
    },
    data(socket, chunk) {
      const peer = socket.data;
      peer.decoder.push(chunk, (type, payload) => filling.add(peer, type, payload));
      commit();
    },
    drain(socket) {
      socket.data.writer.drain();
    },
    close(socket) {
      socket.data.writer.close();
    },
  },
});
process.on("SIGTERM", () => {
  listener.stop(true);
  closeSync(fd);
  process.exit(0);
});
console.log(`port: ${listener.port}`);
