// An address where a connection attempt gets no answer, as when a central's old address is held by
// nobody: a listening socket (made through libc, as Bun's listeners accept at once) that never accepts,
// with a backlog of 0 and one connection already queued, so the kernel drops every further SYN.
import { FFIType, ptr } from "bun:ffi";
import { openLibc } from "../../lib/storage/libc.ts";

const AF_INET = 2;
const SOCK_STREAM = 1;

const libc = openLibc({
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
}).symbols;

export interface Blackhole {
  close(): void;
}

/** A black hole at `ipv4:port` (a loopback address such as 127.0.0.3, so that any port is free there). */
export async function blackhole(ipv4: string, port: number): Promise<Blackhole> {
  const fd = libc.socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw new Error("socket() failed");
  // struct sockaddr_in: family (host order), port (network order), address, 8 bytes of zeros.
  const address = new Uint8Array(16);
  const view = new DataView(address.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, port, false);
  address.set(ipv4.split(".").map(Number), 4);
  if (libc.bind(fd, ptr(address), address.length) !== 0 || libc.listen(fd, 0) !== 0) {
    libc.close(fd);
    throw new Error(`cannot listen on ${ipv4}:${port}`);
  }
  // Fills the queue of one: the next SYN finds it full.
  const queued = await Bun.connect({ hostname: ipv4, port, socket: { data() {} } });
  return {
    close() {
      queued.terminate();
      libc.close(fd);
    },
  };
}
