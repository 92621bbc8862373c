// GET /: the status page, one self-contained HTML file (no external script, font, style or image: it
// works offline and the Content-Security-Policy below forbids anything else). It polls /status twice a
// second; the bets per second are the change in the total between polls.

export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lottery central</title>
<style>
  :root {
    --bg: #f4f5f7; --card: #fff; --text: #1d2330; --muted: #667085; --line: #e3e6eb;
    --bar: #2f6fed; --done: #12a150; --track: #e8ecf2; --warn: #c4320a;
  }
  @media (prefers-color-scheme: dark) {
    :root { --bg: #12151b; --card: #1b2029; --text: #e7eaf0; --muted: #98a2b3; --line: #2a303b; --track: #2a303b; }
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--text);
    font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  main { max-width: 960px; margin: 0 auto; padding: 16px; }
  header { display: flex; align-items: center; justify-content: space-between; gap: 12px; margin-bottom: 14px; }
  h1 { font-size: 1.35em; margin: 0; }
  .badge { padding: 3px 10px; border-radius: 999px; font-size: .85em; font-weight: 600; background: var(--track); color: var(--muted); }
  .badge.ok { background: #d1f5df; color: #0a6b35; }
  .badge.bad { background: #fde2d8; color: var(--warn); }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; margin-bottom: 14px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
  .card .label { color: var(--muted); font-size: .8em; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 1.6em; font-weight: 650; font-variant-numeric: tabular-nums; }
  .card .sub { color: var(--muted); font-size: .8em; font-variant-numeric: tabular-nums; }
  #draw { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--muted);
    border-radius: 10px; padding: 12px 14px; margin-bottom: 14px; font-weight: 600; }
  #draw[data-completed="true"] { border-left-color: var(--done); }
  .agencies { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 4px 14px; }
  .row { display: grid; grid-template-columns: 7.5em 1fr 7em 7.5em; align-items: center; gap: 12px;
    padding: 9px 0; border-bottom: 1px solid var(--line); }
  .row:last-child { border-bottom: 0; }
  .name { font-weight: 600; }
  .track { height: 14px; background: var(--track); border-radius: 7px; overflow: hidden; }
  .fill { height: 100%; width: 0; background: var(--bar); border-radius: 7px; transition: width .4s ease; }
  .row[data-ended="true"] .fill { background: var(--done); }
  .count { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
  .state { font-size: .85em; color: var(--muted); text-align: right; white-space: nowrap; }
  .row[data-ended="true"] .state { color: var(--done); font-weight: 600; }
  footer { color: var(--muted); font-size: .8em; margin-top: 12px; text-align: center; }
  @media (max-width: 560px) {
    main { padding: 10px; }
    .row { grid-template-columns: 1fr auto; grid-template-areas: "name count" "track track" "state state"; gap: 4px 10px; }
    .name { grid-area: name; } .count { grid-area: count; } .track { grid-area: track; }
    .state { grid-area: state; text-align: left; }
    .card .value { font-size: 1.3em; }
  }
</style>
</head>
<body>
<main>
  <header><h1>Lottery central</h1><span id="health" class="badge">connecting</span></header>
  <section class="cards">
    <div class="card"><div class="label">Bets stored</div><div class="value" id="total">0</div></div>
    <div class="card"><div class="label">Bets per second</div><div class="value" id="rate">0</div><div class="sub">peak <span id="peak">0</span></div></div>
    <div class="card"><div class="label">Agencies ended</div><div class="value" id="ended">0</div></div>
    <div class="card"><div class="label">Connections</div><div class="value" id="connections">0</div></div>
  </section>
  <div id="draw" data-completed="false">Draw: waiting</div>
  <section class="agencies" id="agencies"></section>
  <footer>Refreshed twice a second from <a href="/status">/status</a> · <a href="/metrics">/metrics</a> · up <span id="uptime">0 s</span></footer>
</main>
<script>
"use strict";
const number = new Intl.NumberFormat("en-US");
const $ = (id) => document.getElementById(id);
const rows = new Map();
/** Totals of the last polls, for the rate: [time in ms, bets stored]. */
const samples = [];
let peak = 0;

function row(agency) {
  let entry = rows.get(agency);
  if (entry) return entry;
  const element = document.createElement("div");
  element.className = "row";
  element.dataset.agency = String(agency);
  element.innerHTML = '<span class="name"></span><div class="track"><div class="fill"></div></div><span class="count"></span><span class="state"></span>';
  element.querySelector(".name").textContent = "Agency " + agency;
  $("agencies").append(element);
  entry = { element, fill: element.querySelector(".fill"), count: element.querySelector(".count"), state: element.querySelector(".state") };
  rows.set(agency, entry);
  return entry;
}

function show(status) {
  const health = $("health");
  health.textContent = status.health;
  health.className = "badge " + (status.health === "ok" ? "ok" : "bad");
  $("total").textContent = number.format(status.bets_stored);
  $("ended").textContent = status.draw.agencies_ended + " / " + status.draw.agencies;
  $("connections").textContent = number.format(status.connections);
  $("uptime").textContent = Math.round(status.uptime_seconds) + " s";

  const now = performance.now();
  samples.push([now, status.bets_stored]);
  while (samples.length > 2 && now - samples[0][0] > 2000) samples.shift();
  const [then, before] = samples[0];
  const rate = now > then ? ((status.bets_stored - before) * 1000) / (now - then) : 0;
  $("rate").textContent = number.format(Math.max(0, Math.round(rate)));
  peak = Math.max(peak, Math.round(rate));
  $("peak").textContent = number.format(peak);

  const draw = $("draw");
  draw.dataset.completed = String(status.draw.completed);
  draw.textContent = status.draw.completed
    ? "Draw done: " + number.format(status.draw.winners) + " winners"
    : "Draw: waiting for " + (status.draw.agencies - status.draw.agencies_ended) + " of " + status.draw.agencies + " agencies to end";

  const most = Math.max(1, ...status.agencies.map((a) => a.stored));
  for (const agency of status.agencies) {
    const entry = row(agency.agency);
    entry.element.dataset.ended = String(agency.ended);
    entry.fill.style.width = ((agency.stored / most) * 100).toFixed(2) + "%";
    entry.count.textContent = number.format(agency.stored);
    entry.count.dataset.value = String(agency.stored);
    entry.state.textContent = agency.winners !== undefined
      ? number.format(agency.winners) + " winners"
      : agency.ended ? "ended" : agency.connected ? "sending" : "not connected";
  }
}

async function poll() {
  try {
    const response = await fetch("/status", { cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    show(await response.json());
  } catch {
    $("health").textContent = "unreachable";
    $("health").className = "badge bad";
  }
  setTimeout(poll, 500);
}
poll();
</script>
</body>
</html>
`;
