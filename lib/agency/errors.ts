/** The run cannot go on (an invalid single bet, a refused request, answers that contradict ours); retrying cannot help. */
export class AgencyFailedError extends Error {
  override readonly name = "AgencyFailedError";
}

/** The agency was asked to stop (SIGTERM). */
export class StoppedError extends Error {
  override readonly name = "StoppedError";
}
