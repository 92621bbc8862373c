// The reasons of the E frames with which a central turns a connection away before serving it. Both
// sides take them from here: the central to send them, the agency to tell a passing refusal (retried
// like a dropped connection) from one that retrying cannot change.

/** A central that is stopping accepts no new connection; its successor will. */
export const SHUTTING_DOWN_REASON = "the central is shutting down";

/** A central at its connection limit; a slot frees when another connection ends. */
const TOO_MANY_CONNECTIONS_REASON = "too many connections";

/** The reason a central at its limit of `limit` connections sends. */
export function tooManyConnectionsReason(limit: number): string {
  return `${TOO_MANY_CONNECTIONS_REASON} (${limit})`;
}

/** Whether a refusal will pass by itself, so that the agency may retry it with its backoff. */
export function isTransientRefusal(reason: string): boolean {
  return reason === SHUTTING_DOWN_REASON || reason.startsWith(`${TOO_MANY_CONNECTIONS_REASON} (`);
}
