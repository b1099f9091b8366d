// The Meshlet dashboard, in the browser: polls the stats document once a second, listens to
// the decision stream, and draws every upstream and endpoint with the broken ones first, in
// red, with the reason the agent recorded. No framework and nothing fetched from elsewhere.
/* global document, fetch, EventSource, location, URLSearchParams */

/** Where the page reads: `?source=` in its URL, else what the serving listener put in the page. */
const SOURCES = {
  agent: { stats: '/api/v1/stats', events: '/api/v1/events', label: 'this agent' },
  mesh: { stats: '/api/v1/mesh/stats', events: '/api/v1/mesh/events', label: 'every agent, through the control plane' },
};
const POLL_MS = 1000;
/** Points kept per row for its sparkline: about a minute at one poll a second. */
const HISTORY = 60;
const MAX_DECISIONS = 50;
/** Every kind the decision stream names (DECISION_KINDS in src/observability/decisions.ts; a unit test keeps the two equal); SSE delivers named events only to their listeners. */
const DECISION_KINDS = ['breaker_opened', 'breaker_half_open', 'breaker_closed', 'breaker_forced', 'ejected', 'unejected', 'unreachable', 'reachable', 'panic', 'overflow', 'shed', 'rate_limited', 'budget_exhausted', 'fallback', 'concurrency_limit_changed', 'member_changed', 'service_health_changed', 'gossip_keys_changed'];
/** Decisions that change what a row shows: the stats are read again at once. */
const STATE_KINDS = new Set(['breaker_opened', 'breaker_half_open', 'breaker_closed', 'breaker_forced', 'ejected', 'unejected', 'unreachable', 'reachable']);
const BAD_KINDS = new Set(['breaker_opened', 'ejected', 'unreachable', 'panic', 'overflow', 'shed', 'rate_limited', 'budget_exhausted', 'fallback']);
const GOOD_KINDS = new Set(['breaker_closed', 'unejected', 'reachable']);

const sourceName = new URLSearchParams(location.search).get('source') ?? document.body.dataset.defaultSource ?? 'agent';
const source = SOURCES[sourceName] ?? SOURCES.agent;

/** Row key → { rate: number[], errors: number[] }. */
const history = new Map();
/** Upstream keys the reader opened (healthy ones) or closed (broken ones): their choice wins. */
const toggled = new Set();
let latest = [];
let polling = false;

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name.startsWith('data-')) el.dataset[name.slice(5).replace(/-(.)/g, (_, c) => c.toUpperCase())] = String(value);
    else el.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child);
  return el;
}

const rowKey = (node, upstream, endpoint = '') => `${node}\n${upstream}\n${endpoint}`;

function formatRate(n) {
  return n >= 10 ? String(Math.round(n)) : n.toFixed(1);
}
function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return ms >= 10 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}
function formatPercent(p) {
  return p === 0 ? '0 %' : p < 1 ? `${p.toFixed(2)} %` : `${p.toFixed(1)} %`;
}

/** 3 broken (open breaker, ejected, unreachable), 2 degraded (half-open, unhealthy), 1 failing calls, 0 fine. */
function endpointSeverity(e) {
  if (e.breaker?.state === 'open' || e.ejected || e.unreachable) return 3;
  if (e.breaker?.state === 'half_open' || e.health === 'unhealthy') return 2;
  return e.errorPercent >= 1 ? 1 : 0;
}
function endpointState(e) {
  if (e.breaker?.state === 'open') return 'open';
  if (e.ejected) return 'ejected';
  if (e.unreachable) return 'unreachable';
  if (e.breaker?.state === 'half_open') return 'half_open';
  if (e.health === 'unhealthy') return 'unhealthy';
  return e.breaker ? 'closed' : 'healthy';
}
function endpointReason(e) {
  if (e.breaker?.state === 'open' || e.breaker?.state === 'half_open') return e.breaker.reason;
  if (e.ejected) return e.ejectionReason || 'ejected by outlier detection';
  if (e.unreachable) return e.unreachableReason || 'unreachable: no connection could be made';
  return '';
}

function upstreamView(node, u) {
  const endpoints = u.endpoints.map((e) => ({ ...e, severity: endpointSeverity(e), state: endpointState(e), reason: endpointReason(e) }));
  endpoints.sort((a, b) => b.severity - a.severity || b.errorPercent - a.errorPercent || a.address.localeCompare(b.address));
  const own = u.breaker?.state ?? null;
  const ownSeverity = own === 'open' ? 3 : own === 'half_open' ? 2 : 0;
  const agentErrors = Object.values(u.errors ?? {}).reduce((a, b) => a + b, 0);
  const failing = u.errorPercent >= 1 || agentErrors > 0 ? 1 : 0;
  const severity = Math.max(ownSeverity, failing, ...endpoints.map((e) => e.severity));
  const broken = endpoints.filter((e) => e.severity >= 2);
  let state = own ?? (endpoints.some((e) => e.breaker) ? 'closed' : 'healthy');
  let label = state.replace('_', '-');
  if (ownSeverity < 3 && broken.length > 0) {
    state = broken[0].state;
    label = `${broken.length}/${endpoints.length} ${broken[0].state.replace('_', '-')}`;
  } else if (severity === 1 && own !== 'half_open') {
    state = 'errors';
    label = 'errors';
  }
  return { ...u, node, endpoints, severity, state, label, agentErrors, reason: ownSeverity > 0 ? u.breaker.reason : '' };
}

function record(key, rate, errors) {
  let h = history.get(key);
  if (h === undefined) history.set(key, (h = { rate: [], errors: [] }));
  h.rate.push(rate);
  h.errors.push(errors);
  if (h.rate.length > HISTORY) {
    h.rate.shift();
    h.errors.shift();
  }
}

const SVG = 'http://www.w3.org/2000/svg';
function sparkline(key) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', `0 0 ${HISTORY} 24`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const points = history.get(key);
  if (points === undefined) return svg;
  const max = Math.max(1, ...points.rate);
  const offset = HISTORY - points.rate.length;
  const line = (values, scale, cls) => {
    const path = document.createElementNS(SVG, 'polyline');
    path.setAttribute('class', cls);
    path.setAttribute('points', values.map((v, i) => `${offset + i},${(23 - (22 * v) / scale).toFixed(1)}`).join(' '));
    svg.append(path);
  };
  line(points.rate, max, 'rate');
  if (points.errors.some((v) => v > 0)) line(points.errors, 100, 'err');
  return svg;
}

function figures(x) {
  return [
    h('span', { class: 'num' }, formatRate(x.requestsPerSecond)),
    h('span', { class: x.errorPercent >= 1 ? 'num bad' : 'num' }, formatPercent(x.errorPercent)),
    h('span', { class: 'num' }, formatMs(x.p50Ms)),
    h('span', { class: 'num' }, formatMs(x.p99Ms)),
  ];
}

function renderUpstream(u) {
  const key = rowKey(u.node, u.name);
  const open = (u.severity >= 2) !== toggled.has(key);
  const head = h('div', { class: 'row', role: 'button', tabindex: 0, 'aria-expanded': String(open), 'data-key': key },
    h('span', { class: 'name', title: `${u.node} ${u.name}` }, h('span', { class: 'toggle' }, open ? '▾' : '▸'), h('span', { class: 'node' }, u.node), u.name),
    h('span', {}, h('span', { class: `pill ${u.state}` }, u.label)),
    ...figures(u),
    h('span', { class: u.retries > 0 ? 'num bad' : 'num' }, String(u.retries)),
    h('span', { class: u.fallbacks > 0 ? 'num bad' : 'num' }, String(u.fallbacks)),
    h('span', { class: u.ejections > 0 ? 'num bad' : 'num' }, String(u.ejections)),
    sparkline(key),
  );
  const toggle = () => {
    if (toggled.has(key)) toggled.delete(key);
    else toggled.add(key);
    render();
  };
  head.addEventListener('click', toggle);
  head.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      toggle();
    }
  });
  const article = h('article', { class: `upstream sev-${u.severity}`, 'data-node': u.node, 'data-upstream': u.name, 'data-state': u.state }, head);
  if (u.reason) article.append(h('div', { class: u.severity >= 3 ? 'reason' : 'reason amber' }, `upstream breaker: ${u.reason}`));
  if (u.agentErrors > 0) article.append(h('div', { class: 'reason amber' }, `answered by the agent: ${Object.entries(u.errors).map(([code, n]) => `${n} ${code}`).join(', ')}`));
  const list = h('div', { class: 'endpoints', hidden: !open });
  for (const e of u.endpoints) {
    const ekey = rowKey(u.node, u.name, e.address);
    const row = h('div', { class: `row endpoint sev-${e.severity}`, 'data-endpoint': e.address, 'data-state': e.state },
      h('span', { class: 'name', title: e.address }, e.address),
      h('span', {}, h('span', { class: `pill ${e.state}` }, e.state.replace('_', '-'))),
      ...figures(e),
      h('span'), h('span'), h('span', { class: 'num' }, e.ejected ? 'ejected' : e.unreachable ? 'unreachable' : ''),
      sparkline(ekey),
    );
    list.append(row);
    if (e.reason) list.append(h('div', { class: e.severity >= 3 ? 'reason' : 'reason amber', 'data-reason-for': e.address }, e.reason));
  }
  article.append(list);
  return article;
}

function render() {
  const upstreams = latest.flatMap((n) => n.upstreams.map((u) => upstreamView(n.node, u)));
  upstreams.sort((a, b) => b.severity - a.severity || b.errorPercent - a.errorPercent || a.name.localeCompare(b.name) || a.node.localeCompare(b.node));
  const container = $('upstreams');
  // The rows are drawn anew each time: the one a keyboard reader is on keeps the focus.
  const focused = document.activeElement?.dataset?.key;
  container.replaceChildren(...upstreams.map(renderUpstream));
  if (focused !== undefined) [...container.querySelectorAll('[data-key]')].find((el) => el.dataset.key === focused)?.focus();
  if (upstreams.length === 0) container.append(h('p', { class: 'empty' }, 'No upstreams.'));

  const openBreakers = upstreams.reduce((n, u) => n + (u.breaker?.state === 'open' ? 1 : 0) + u.endpoints.filter((e) => e.breaker?.state === 'open').length, 0);
  const ejected = upstreams.reduce((n, u) => n + u.endpoints.filter((e) => e.ejected).length, 0);
  // Counted once: an endpoint whose breaker is open or that is ejected is counted as that.
  const unreachable = upstreams.reduce((n, u) => n + u.endpoints.filter((e) => e.unreachable && !e.ejected && e.breaker?.state !== 'open').length, 0);
  const broken = openBreakers + ejected + unreachable;
  const degraded = upstreams.filter((u) => u.severity > 0 && u.severity < 3).length;
  const summary = $('summary');
  const parts = [];
  if (openBreakers > 0) parts.push(`${openBreakers} open breaker${openBreakers === 1 ? '' : 's'}`);
  if (ejected > 0) parts.push(`${ejected} ejected endpoint${ejected === 1 ? '' : 's'}`);
  if (unreachable > 0) parts.push(`${unreachable} unreachable endpoint${unreachable === 1 ? '' : 's'}`);
  if (degraded > 0) parts.push(`${degraded} degraded upstream${degraded === 1 ? '' : 's'}`);
  summary.textContent = parts.length > 0 ? parts.join(' · ') : `all ${upstreams.length} upstreams healthy`;
  summary.className = `summary ${broken > 0 ? 'broken' : degraded > 0 ? 'degraded' : 'healthy'}`;
  document.title = broken > 0 ? `(${broken}) Meshlet` : 'Meshlet';
}

async function poll() {
  if (polling) return;
  polling = true;
  try {
    const res = await fetch(source.stats, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${source.stats}: HTTP ${res.status}`);
    const body = await res.json();
    // An agent answers with one node's stats; the control plane with { nodes: [...] }.
    latest = Array.isArray(body.nodes) ? body.nodes : [body];
    const seen = new Set();
    for (const n of latest) {
      for (const u of n.upstreams) {
        const key = rowKey(n.node, u.name);
        seen.add(key);
        record(key, u.requestsPerSecond, u.errorPercent);
        for (const e of u.endpoints) {
          const ekey = rowKey(n.node, u.name, e.address);
          seen.add(ekey);
          record(ekey, e.requestsPerSecond, e.errorPercent);
        }
      }
    }
    for (const key of history.keys()) if (!seen.has(key)) history.delete(key);
    $('source').textContent = `${source.label} · ${latest.length === 1 ? latest[0].node : `${latest.length} agents`} · last ${Math.round((latest[0]?.windowMs ?? 0) / 1000)} s`;
    render();
  } catch (err) {
    const summary = $('summary');
    summary.textContent = `stats unreachable: ${err.message}`;
    summary.className = 'summary broken';
  } finally {
    polling = false;
  }
}

function addDecision(d) {
  const list = $('decisions');
  const at = new Date(d.at);
  const where = [d.node, d.scope, d.endpoint].filter(Boolean).join(' ');
  const item = h('li', { class: BAD_KINDS.has(d.kind) ? 'bad' : GOOD_KINDS.has(d.kind) ? 'good' : '', 'data-kind': d.kind },
    h('time', { datetime: at.toISOString() }, at.toLocaleTimeString([], { hour12: false })),
    h('span', { class: 'kind' }, d.kind.replace(/_/g, ' ') + (d.count > 1 ? ` ×${d.count}` : '')),
    h('span', { class: 'where' }, where),
    h('span', { class: 'why' }, d.reason),
  );
  list.prepend(item);
  while (list.children.length > MAX_DECISIONS) list.lastElementChild.remove();
}

function listen() {
  const live = $('live');
  const events = new EventSource(source.events);
  events.addEventListener('open', () => {
    live.dataset.live = 'live';
    live.textContent = 'live';
  });
  events.addEventListener('error', () => {
    // EventSource reconnects by itself, resuming after the last event id it saw.
    live.dataset.live = 'down';
    live.textContent = 'event stream lost, reconnecting…';
  });
  for (const kind of DECISION_KINDS) {
    events.addEventListener(kind, (event) => {
      const decision = JSON.parse(event.data);
      addDecision(decision);
      if (STATE_KINDS.has(decision.kind)) void poll();
    });
  }
}

listen();
void poll();
setInterval(() => void poll(), POLL_MS);
