// Log lines read the way the course's parser (tp0-tests utils/line_parser.py) reads them: the line
// split on every "|", each part "key: value" once trimmed. A value holding a raw "|" would break a
// part off without its key, which throws here.

export interface ParsedLine {
  /** The time and level before `action:`. */
  time: string;
  level: string;
  fields: Map<string, string>;
}

export function parseLogLine(line: string): ParsedLine {
  const start = line.indexOf("action: ");
  if (start < 0) throw new Error(`not a log line: ${line}`);
  const [time = "", level = ""] = line.slice(0, start).trim().split(/\s+/);
  const fields = new Map<string, string>();
  for (const part of line.slice(start).split("|")) {
    const match = /^\s*([^\s:]+): (.*?)\s*$/.exec(part);
    if (!match) throw new Error(`a part without "key: value" in ${JSON.stringify(line)}: ${JSON.stringify(part)}`);
    fields.set(match[1]!, match[2]!);
  }
  return { time, level, fields };
}
