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
  ["log lines", /^(log|formatLine|formatValue|writeLine|flushLines|writeOut|info|debug|writeSync|toISOString)@/],
  ["replies (ordered chain, OK frames, their sends)", /^(reply|settle|writeAnswers|writeSoon|sendGathered|sendAllGathered|send|writeMessage|take|updateFlow|releaseThrottled|release|drain|finish|start|field|encodeMessage)@(server|socket-writer|writer|messages|central)\.(ts|js)$/],
  ["row formatting (store)", /^(formatRows|field|fields|digits|integer|beginField|endRow|reserve|quotedField)@(store|csv|central)\.(ts|js)$/],
  ["write and sync (store)", /^(flushGroup|flushEnds|append|fdatasync|fdatasyncCb|syncData)@/],
  ["checks (Lottery.admit)", /^(admit|betFieldsError|checkName|isPastDate|isUtf8|get fieldsAreUtf8|fieldsAreUtf8|betNumber|digitsValue|isWinningNumber|rangeText|checkAgency)@/],
  ["decode (frames, BetBlock.over)", /^(over|parseBets|decodeMessage|completePartial|gather|payloadSize|readLength|integer|string|rest)@(bet-block|messages|decoder|central)\.(ts|js)$/],
  ["per connection (open, hello, close, idle sweep)", /^(onOpen|onClose|closeIdle|hello|hangUp)@/],
  ["event-loop turns (data callbacks, promises)", /^(onData|push|onFrame|data|storeBets|handle|guarded|asyncFunctionDrive|run|idle)@/],
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
