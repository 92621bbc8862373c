// Lines read exactly as the course's harness reads them (tp0-tests utils/line_parser.py): a line with
// "action:" is split on every "|"; its source is the longest [a-z]+[0-9]* run before the first "|" (the
// compose prefix "client1  | "); action and result are what follows the last ":" of the next two parts;
// every other part is a detail whose key runs to its last ":". A line with " exited with code " is a
// container's exit. Anything the harness would choke on throws here too.

export type CourseResult = "success" | "fail" | "in_progress";

export interface CourseLine {
  source: string | undefined;
  action: string;
  result: CourseResult;
  /** The details by key; "exit" lines have none. */
  details: Map<string, string>;
}

const SOURCE = /[a-z]+[0-9]*/g;
const EXIT = " exited with code ";
const RESULTS: readonly string[] = ["success", "fail", "in_progress"];

function cleanSource(source: string): string | undefined {
  let longest: string | undefined;
  for (const [match] of source.matchAll(SOURCE)) if (longest === undefined || match.length > longest.length) longest = match;
  return longest;
}

function lastColonValue(part: string): string {
  return part.slice(part.lastIndexOf(":") + 1).trim();
}

/** The harness's reading of one line, or undefined for a line it skips. */
export function parseCourseLine(text: string): CourseLine | undefined {
  const line = text.trimEnd();
  if (line.includes("action:")) {
    const parts = line.split("|");
    if (parts.length < 3) throw new Error(`fewer than three "|" parts (the harness's unpacking fails): ${JSON.stringify(line)}`);
    const [source, action, result, ...rest] = parts as [string, string, string, ...string[]];
    const parsedResult = lastColonValue(result);
    if (!RESULTS.includes(parsedResult)) throw new Error(`unknown result type in ${JSON.stringify(result)}`);
    const details = new Map<string, string>();
    for (const detail of rest) {
      const colon = detail.lastIndexOf(":");
      if (colon < 0) throw new Error(`missing colon (:) in detail ${JSON.stringify(detail)}`);
      const key = detail.slice(0, colon).trim();
      if (["source", "action", "result"].includes(key)) throw new Error(`invalid detail name in ${JSON.stringify(detail)}`);
      details.set(key, detail.slice(colon + 1).trim());
    }
    return { source: cleanSource(source), action: lastColonValue(action), result: parsedResult as CourseResult, details };
  }
  if (line.includes(EXIT)) {
    const parts = line.split(EXIT);
    if (parts.length !== 2) throw new Error(`more than one "${EXIT}" in ${JSON.stringify(line)}`);
    const code = Number(parts[1]);
    if (!Number.isInteger(code)) throw new Error(`an exit code that is not an integer in ${JSON.stringify(line)}`);
    return { source: cleanSource(parts[0]!), action: "exit", result: code === 0 ? "success" : "fail", details: new Map() };
  }
  return undefined;
}
