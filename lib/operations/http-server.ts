import type { Server } from "bun";
import type { CentralState } from "../central/server.ts";
import type { Logger } from "../log.ts";
import { EXPOSITION_CONTENT_TYPE } from "./exposition.ts";
import { renderMetrics } from "./metrics.ts";
import { PAGE_CONTENT_SECURITY_POLICY, STATUS_PAGE } from "./page.ts";
import { status } from "./status.ts";

/**
 * Seconds a keep-alive HTTP connection may say nothing before Bun closes it. One that never completes
 * a request (silent, or its headers sent slowly) Bun closes after about 10 s of its own (12 s measured
 * on Bun 1.4.5), whatever this says: either way a hostile client's socket is held for seconds only.
 */
const IDLE_TIMEOUT_SECONDS = 10;
/** Every endpoint is a GET: a request with a body is refused before it is read. */
const MAX_REQUEST_BODY_BYTES = 1024;

const NO_STORE = { "cache-control": "no-store", "x-content-type-options": "nosniff" };

/**
 * The central's HTTP side: metrics, health, status and the status page, plain HTTP on a port of its
 * own. It only reads the central's state (CentralState): it never writes to the store or answers an
 * agency. It runs on the central's event loop, so every answer is built at once from counters, with
 * nothing awaited; oversized headers are refused by Bun itself (431) and idle connections time out.
 */
export class HttpServer {
  private constructor(private readonly server: Server<undefined>) {}

  get port(): number {
    return this.server.port ?? 0;
  }

  /** Listens on `port` (0: a free one) on every interface; throws if it cannot (a port in use). */
  static start(state: CentralState, port: number, log: Logger): HttpServer {
    const server = Bun.serve({
      hostname: "0.0.0.0",
      port,
      // Bun would otherwise let a second process bind the same port, and share the requests between them.
      reusePort: false,
      idleTimeout: IDLE_TIMEOUT_SECONDS,
      maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
      development: false,
      fetch: (request) => respond(state, request),
      error: (error) => {
        log.error("http", "fail", { error: String(error) });
        return new Response("internal error\n", { status: 500, headers: NO_STORE });
      },
    });
    log.info("http_listen", "success", { port: server.port ?? 0 });
    return new HttpServer(server);
  }

  /** Closes the listener and every HTTP connection. */
  stop(): void {
    void this.server.stop(true);
  }
}

function respond(state: CentralState, request: Request): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("only GET and HEAD\n", { status: 405, headers: { ...NO_STORE, allow: "GET, HEAD" } });
  }
  switch (new URL(request.url).pathname) {
    case "/metrics":
      return new Response(renderMetrics(state), { headers: { ...NO_STORE, "content-type": EXPOSITION_CONTENT_TYPE } });
    case "/healthz": {
      const health = state.health;
      return new Response(health === "ok" ? "ok\n" : `${health}\n`, {
        status: health === "ok" ? 200 : 503,
        headers: { ...NO_STORE, "content-type": "text/plain; charset=utf-8" },
      });
    }
    case "/status":
      return Response.json(status(state), { headers: NO_STORE });
    case "/":
      return new Response(STATUS_PAGE, {
        headers: { ...NO_STORE, "content-type": "text/html; charset=utf-8", "content-security-policy": PAGE_CONTENT_SECURITY_POLICY },
      });
    default:
      return new Response("not found\n", { status: 404, headers: { ...NO_STORE, "content-type": "text/plain; charset=utf-8" } });
  }
}
