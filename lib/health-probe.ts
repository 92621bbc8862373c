/**
 * Health probe of a central from inside its own container: the compose and stack health check in TLS mode,
 * where busybox netcat cannot speak to it. Sends one echo frame to 127.0.0.1 and exits 0 only if the very same
 * bytes come back within the time limit, so it proves the central answers its protocol, not merely listens.
 *
 *   bun run lib/health-probe.ts        (port: SERVER_PORT or 12345)
 *
 * With SERVER_TLS_CERT, SERVER_TLS_KEY and SERVER_TLS_CA set (the central's own variables, so the container's
 * environment is enough) it connects over mutual TLS, presenting the central's certificate as its client
 * certificate and verifying the central's against the CA for host 127.0.0.1 (a SAN of every server
 * certificate). Echo needs no hello, so no agency identity is needed. Without them it speaks plain TCP.
 */
import { encodeMessage, MessageType } from "./protocol/index.ts";

const TIME_LIMIT_MS = 3000;
const HOST = "127.0.0.1";

const port = Number(process.env.SERVER_PORT ?? 12345);
const { SERVER_TLS_CERT: cert, SERVER_TLS_KEY: key, SERVER_TLS_CA: ca } = process.env;
const tls = cert && key && ca ? { cert: Bun.file(cert), key: Bun.file(key), ca: Bun.file(ca), serverName: HOST } : undefined;

const frame = encodeMessage({ type: MessageType.Echo, payload: Buffer.from(`probe-${process.pid}`) });
const answer = Promise.withResolvers<string | undefined>();
const timer = setTimeout(() => answer.resolve(`no echo within ${TIME_LIMIT_MS} ms`), TIME_LIMIT_MS);
let received = Buffer.alloc(0);

try {
  await Bun.connect({
    hostname: HOST,
    port,
    tls,
    socket: {
      open(socket) {
        // Over TLS the socket opens before the handshake: a write now could be lost, so wait for it.
        if (!tls) socket.write(frame);
      },
      handshake(socket, success, error) {
        if (success && socket.authorized) socket.write(frame);
        else answer.resolve(`TLS handshake failed: ${error?.message ?? "certificate not authorized"}`);
      },
      data(socket, chunk) {
        received = Buffer.concat([received, chunk]);
        if (received.length >= frame.length) {
          answer.resolve(received.equals(frame) ? undefined : "a different answer came back");
          socket.end();
        }
      },
      close() {
        answer.resolve("the central closed the connection");
      },
      error(_socket, error) {
        answer.resolve(`connection error: ${error.message}`);
      },
    },
  });
} catch (error) {
  answer.resolve(`cannot connect to ${HOST}:${port}: ${(error as Error).message}`);
}

const failure = await answer.promise;
clearTimeout(timer);
if (failure) console.error(`health-probe: ${failure}`);
process.exit(failure ? 1 : 0);
