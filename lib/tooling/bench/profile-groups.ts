// Groups a `bun --cpu-prof` profile of the central (bench --central --profile DIR) by what each sample was
// doing: the innermost function on its stack that names a step of a bet's path decides.
//   bun lib/tooling/bench/profile-groups.ts FILE.cpuprofile
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** Function name @ file name: a sample goes to the first group whose pattern matches a frame, innermost first. */
const GROUPS: [string, RegExp][] = [
  ["log lines", /^(log|info|debug|warning|enabled|formatLine|formatValue|timestamp|writeLine|reserve|flushLines|writeOut|writeSync|toISOString)@(log\.(ts|js))?$/],
  ["replies (ordered queue, OK frames, their sends)", /^(reply|addSettled|addPending|push|settle|writeSettled|whenEmpty|writeAnswers|writeSoon|gatherSoon|write|send|sendGathered|sendAllGathered|flushed|writeMessage|encodeMessage|start|field|ensure|finish|take)@(connection-server|reply-queue|socket-writer|writer|messages)\.(ts|js)$/],
  ["flow control (measure, decide, act)", /^(updateFlow|update|measure|decide|act|admitWaiting|isWaiting|resume|drain|forget)@(connection-server|flow-control)\.(ts|js)$/],
  ["row formatting (store)", /^(formatRows|field|fields|digits|integer|beginField|endRow|reserve|quotedField)@(store|csv-writer)\.(ts|js)$/],
  ["write and sync (store)", /^(flushGroup|flushEnds|append|fdatasync|fdatasyncCb|fsyncSync|syncData)@/],
  ["checks (Lottery.admit)", /^(admit|betFieldsError|checkName|codePoints|isPastDate|isUtf8|get fieldsAreUtf8|fieldsAreUtf8|betNumber|digitsValue|isWinningNumber|rangeText|checkAgency|isAgency)@/],
  ["decode (frames, BetBlock.over)", /^(over|walk|parseBets|parseMessage|decodeMessage|decodeWith|decode|completePartial|gather|payloadSize|push|readLength|fieldEnd|integer|string|rest)@(bet-block|messages|decoder|fields)\.(ts|js)$/],
  ["per connection (open, hello, close, idle sweep)", /^(onOpen|accept|open|onClose|close|closeIdle|hello|claim|release|hangUp|hangUpWith)@(connection-server|connection|agency-session|sessions)\.(ts|js)$/],
  ["event-loop turns (data callbacks, promises)", /^(onData|onFrame|data|handle|dispatch|bets|storeBets|idle|asyncFunctionDrive|run)@/],
];

const profile = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { nodes: ProfileNode[]; samples: number[] };
const nodes = new Map<number, ProfileNode>();
const parents = new Map<number, number>();
for (const node of profile.nodes) {
  nodes.set(node.id, node);
  for (const child of node.children ?? []) parents.set(child, node.id);
}
const perNode = new Map<number, number>();
for (const id of profile.samples) perNode.set(id, (perNode.get(id) ?? 0) + 1);

const totals = new Map<string, number>();
for (const [id, samples] of perNode) {
  let group: string | undefined;
  for (let at: number | undefined = id; at !== undefined && !group; at = parents.get(at)) {
    const { functionName, url } = nodes.get(at)!.callFrame;
    const frame = `${functionName}@${url.split("/").pop()}`;
    group = GROUPS.find(([, pattern]) => pattern.test(frame))?.[0];
  }
  totals.set(group ?? "other", (totals.get(group ?? "other") ?? 0) + samples);
}
console.log(`| group | samples | share |\n| --- | ---: | ---: |`);
for (const [group, samples] of [...totals].sort((a, b) => b[1] - a[1])) {
  console.log(`| ${group} | ${samples} | ${((100 * samples) / profile.samples.length).toFixed(1)}% |`);
}
