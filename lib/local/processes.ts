import type { Subprocess } from "bun";

/** Calls `onLine` for each line of a process's output stream, as it comes. */
export async function forEachLine(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) onLine(line);
  }
  rest += decoder.decode();
  if (rest) onLine(rest);
}

export interface RunningProcess {
  name: string;
  process: Subprocess<"ignore", "pipe", "pipe">;
  /** Every line the process printed so far, stdout and stderr interleaved as read. */
  lines: string[];
  /** Called with each new line. */
  listeners: Set<(line: string) => void>;
  /** Resolves once the process has exited and its output has been read. */
  done: Promise<number>;
}

/** Starts a `bun` process whose output lines are kept and passed to `onLine`. */
export function startBun(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  onLine: (name: string, line: string) => void = () => {},
  cwd?: string,
): RunningProcess {
  const process = Bun.spawn([globalThis.process.execPath, ...args], {
    env,
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const collect = (line: string) => {
    lines.push(line);
    onLine(name, line);
    for (const listener of listeners) listener(line);
  };
  const done = Promise.all([forEachLine(process.stdout, collect), forEachLine(process.stderr, collect)]).then(
    () => process.exited,
  );
  return { name, process, lines, listeners, done };
}

/** Resolves with the first line matching `pattern`, or rejects if the process exits first. */
export function waitForLine(running: RunningProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  const seen = running.lines.map((line) => line.match(pattern)).find(Boolean);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const listener = (line: string) => {
      const match = line.match(pattern);
      if (!match) return;
      running.listeners.delete(listener);
      resolve(match);
    };
    running.listeners.add(listener);
    running.done.then((code) => {
      if (!running.listeners.delete(listener)) return;
      reject(new Error(`${running.name} exited with ${code} before printing ${pattern}:\n${running.lines.join("\n")}`));
    });
  });
}
