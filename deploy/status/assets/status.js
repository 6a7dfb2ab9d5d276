// The status page's script: the snapshot and every change over one WebSocket (/ws), drawn with DOM calls only —
// identities come from any SIP client, so nothing received is ever parsed as HTML. No build step, no library.

/** Cards kept on the page (the server keeps as many). */
const MAX_CARDS = 200;

const LANES = {
  static: ['UE', 'partner SIP core', 'partner MMS', 'primary SIP core / IMS', 'primary HSS'],
  dynamic: ['UE', 'IdMS', 'partner SIP core', 'partner MMS', 'primary MMS', 'primary SIP core / IMS', 'primary HSS'],
};
/** Per flow and step: from lane, to lane, label, kind (sip, cx, idm). Equal lanes: the entity determines something itself. */
const STEPS = {
  static: {
    2: [0, 1, 'REGISTER', 'sip'], 3: [1, 2, 'MAR', 'cx'], 4: [2, 2, 'mapping'], 5: [2, 3, 'MAR', 'cx'], 6: [3, 4, 'MAR', 'cx'],
    7: [4, 3, 'MAA', 'cx'], 8: [3, 2, 'MAA', 'cx'], 9: [2, 2, 'mapping'], 10: [2, 1, 'MAA', 'cx'], 11: [1, 0, '401', 'sip'],
    12: [0, 1, 'REGISTER (auth)', 'sip'], 13: [1, 0, '200 OK', 'sip'],
  },
  dynamic: {
    1: [0, 1, 'IdM: tokens', 'idm'], 2: [0, 2, 'REGISTER', 'sip'], 3: [2, 3, 'MAR', 'cx'], 4: [3, 3, 'binding'], 5: [3, 4, 'MAR', 'cx'],
    6: [4, 6, 'MAR (via SIP core)', 'cx'], 7: [6, 4, 'MAA (via SIP core)', 'cx'], 8: [4, 3, 'MAA', 'cx'], 9: [3, 3, 'binding'],
    10: [3, 2, 'MAA', 'cx'], 11: [2, 0, '401', 'sip'], 12: [0, 2, 'REGISTER (auth)', 'sip'], 13: [2, 0, '200 OK', 'sip'],
  },
};

const $ = (sel) => document.querySelector(sel);
/** An element with text and attributes; children appended. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.className = v;
    else if (k === 'style') for (const [p, x] of Object.entries(v)) e.style.setProperty(p, x);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

/** Server clock minus ours: expiries count down in the server's time (the page may be on another machine, over ssh). */
let skew = 0;
const regs = new Map();

function outcomeOf(r) {
  if (!r.result) return 'pending';
  return r.result.status >= 200 && r.result.status < 300 ? 'ok' : 'failed';
}

function time(ms) {
  const d = new Date(ms);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * A step's time from the registration's first REGISTER: ms, seconds beyond 10 s, negative for step 1 (the IdM
 * exchange, which may be long before).
 */
function offset(ms) {
  const abs = Math.abs(ms);
  const text = abs < 10_000 ? String(abs) : `${Math.round(abs / 1000)} s`;
  return `${ms < 0 ? '−' : '+'}${text}`;
}

/** Rungs grouped by step occurrence: consecutive rungs of one step (logged by several roles) are one arrow. */
function groups(rungs) {
  const out = [];
  for (const r of rungs) {
    const last = out[out.length - 1];
    if (last && last.step === r.step) last.rungs.push(r);
    else out.push({ step: r.step, rungs: [r] });
  }
  return out;
}

function arrow(flow, g, start) {
  const def = STEPS[flow][g.step];
  const first = g.rungs[0];
  const title = g.rungs.map((r) => `step ${r.step} (${r.node}; logged by ${r.role} at ${offset(r.at - start)}${Math.abs(r.at - start) < 10_000 ? ' ms' : ''}): ${r.text}`).join('\n');
  const row = el('div', { class: 'row', 'data-step': g.step, title });
  row.append(el('span', { class: 't', text: offset(first.at - start) }));
  const track = el('div', { class: 'track' });
  if (!def) {
    track.append(el('span', { class: 'self', style: { 'grid-column': '1 / -1' }, text: `${g.step}: ${first.text}` }));
  } else if (def[0] === def[1]) {
    track.append(el('span', { class: 'self', style: { 'grid-column': `${def[0] + 1}` }, text: `${g.step} ${def[2]}` }));
  } else {
    const [a, b] = def[0] < def[1] ? [def[0], def[1]] : [def[1], def[0]];
    const span = b - a + 1;
    track.append(el('span', {
      class: `arrow ${def[3] ?? ''} ${def[0] < def[1] ? 'right' : 'left'}`, style: { 'grid-column': `${a + 1} / ${b + 2}`, '--span': String(span) },
      text: `${g.step} ${def[2]}`,
    }));
  }
  row.append(track);
  return row;
}

/** The final answer when it is not step 13: an arrow from the registrar back to the UE in red. */
function failedRow(r, start) {
  const reg = r.flow === 'dynamic' ? 2 : 1;
  const row = el('div', { class: 'row', 'data-step': 'result', title: r.result.text });
  row.append(el('span', { class: 't', text: offset(r.result.at - start) }));
  const track = el('div', { class: 'track' });
  track.append(el('span', { class: 'arrow failed left', style: { 'grid-column': `1 / ${reg + 2}`, '--span': String(reg + 1) }, text: String(r.result.status) }));
  row.append(track);
  return row;
}

function card(r) {
  const outcome = outcomeOf(r);
  const start = r.startedAt;
  const c = el('article', { class: 'reg', 'data-id': r.id, 'data-call-id': r.callId, 'data-outcome': outcome, 'data-result': r.result?.status ?? '', 'data-flow': r.flow });
  const status = r.result ? `${r.result.status}` : 'challenged…';
  c.append(el('div', { class: 'reg-head' },
    el('span', { class: `badge ${outcome}`, text: status }),
    el('span', { class: 'badge flow', text: r.flow === 'dynamic' ? 'dynamic §10.6.2.3' : 'static §10.6.2.2' }),
    el('strong', { class: 'mono', text: r.partner.impu ?? r.partner.impi ?? '?' }),
    el('span', { class: 'muted', text: `${time(r.startedAt)}${r.result?.totalMs !== undefined ? ` · ${r.result.totalMs} ms` : ''} · ${r.registrar}` })));
  const ids = el('dl', { class: 'ids' });
  const pair = (k, v) => { if (v) ids.append(el('dt', { text: k }), el('dd', { class: 'mono', text: v })); };
  pair('partner', [r.partner.impi, r.partner.impu].filter(Boolean).join('  '));
  pair('primary', [r.primary.impi, ...(r.primary.impus ?? [])].filter(Boolean).join('  ') + (r.primary.realm ? `  (${r.primary.realm})` : ''));
  pair('mcptt_id', r.mcpttId);
  pair('Call-ID', r.callId);
  if (r.result) pair('result', r.result.text);
  c.append(ids);

  const lanes = LANES[r.flow];
  const ladder = el('div', { class: 'ladder', style: { '--lanes': String(lanes.length) } });
  ladder.append(el('div', { class: 'lanes' }, ...lanes.map((l) => el('span', { text: l }))));
  for (const g of groups(r.rungs)) {
    ladder.append(arrow(r.flow, g, start));
    if (g.step === 2 && r.vector === 'kept' && !r.rungs.some((x) => x.step === 3)) {
      ladder.append(el('div', { class: 'note', text: 'steps 3–10: a vector kept from an earlier MAA of this identity (no MAR)' }));
    }
  }
  if (r.result && r.result.status !== 200) ladder.append(failedRow(r, start));
  c.append(ladder);

  const rows = r.rungs.map((x) => el('tr', {},
    el('td', { class: 'mono', text: offset(x.at - start) }), el('td', { text: x.step }), el('td', { text: x.node }), el('td', { text: x.role }),
    el('td', { text: x.text }),
    el('td', { class: 'mono hide-narrow', text: Object.entries(x.fields).filter(([k]) => /impi|impu|session|call_id|result|items|realm|status/i.test(k)).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join(' ') })));
  c.append(el('details', {}, el('summary', { text: `every step as logged (${r.rungs.length})` }),
    el('div', { class: 'table-wrap' }, el('table', {}, el('tr', {}, ...['+ms', 'step', 'by', 'logged by', 'text'].map((h) => el('th', { text: h })), el('th', { class: 'hide-narrow', text: 'fields' })), ...rows))));
  return c;
}

function matches(r, q) {
  if (!q || !r.partner) return true;
  const hay = [r.callId, r.partner.impi, r.partner.impu, r.primary.impi, ...(r.primary.impus ?? []), r.mcpttId, r.result?.status, r.flow, r.registrar].join(' ').toLowerCase();
  return hay.includes(q);
}

function drawRegistration(r) {
  const list = $('#reg-list');
  list.querySelector('.empty')?.remove();
  const next = card(r);
  next.hidden = !matches(r, $('#filter').value.trim().toLowerCase());
  const old = list.querySelector(`[data-id="${CSS.escape(r.id)}"]`);
  if (old) old.replaceWith(next);
  else list.prepend(next);
  regs.set(r.id, r);
  while (list.children.length > MAX_CARDS) {
    const last = list.lastElementChild;
    regs.delete(last.getAttribute('data-id'));
    last.remove();
  }
}

/**
 * Text that may wrap after `@ . ; / :` (long SIP identities in narrow columns) without changing what is copied: <wbr>
 * elements, not characters.
 */
function breakable(text) {
  const f = document.createDocumentFragment();
  for (const part of String(text ?? '').split(/(?<=[@.;/:])/)) f.append(part, document.createElement('wbr'));
  return f;
}

function table(head, rows) {
  if (rows.length === 0) return el('p', { class: 'muted', text: 'none' });
  return el('div', { class: 'table-wrap' }, el('table', {}, el('tr', {}, ...head.map((h) => el('th', { text: h }))),
    ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c instanceof Node ? c : breakable(c)))))));
}

/** Seconds left until `at` (server clock), as text. */
function left(at) {
  const s = Math.round((at - (Date.now() + skew)) / 1000);
  if (s <= 0) return 'expired';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
const countdown = (at) => el('span', { class: 'countdown', 'data-at': at, text: left(at) });

function section(id, rows, head, cells) {
  const s = $(`#${id}`);
  s.querySelector('.count').textContent = rows.total > rows.rows.length ? `(${rows.rows.length} of ${rows.total})` : `(${rows.total})`;
  s.querySelector('.body').replaceChildren(table(head, rows.rows.map(cells)));
}

function drawState(s) {
  skew = s.at - Date.now();
  $('#realms').textContent = `primary ${s.realms.primary} · partner${s.realms.partners.length > 1 ? 's' : ''} ${s.realms.partners.map((p) => p.realm).join(', ')}`;
  $('#roles-body').replaceChildren(table(['role', 'listens', 'Diameter connections'], s.roles.map((r) => [
    el('span', {}, el('strong', { text: r.name }), el('div', { class: 'muted', text: r.system })),
    el('span', { class: 'mono' }, ...Object.entries(r.addresses).map(([k, v]) => el('div', {}, `${k.replace(/Url$/, '')} `, breakable(v)))),
    r.where === 'process' ? 'child process: its state is in its own logs' : !r.peers ? '—' : el('span', {},
      ...(r.peers.length === 0 && !(r.down ?? []).length ? ['none open'] : []),
      ...r.peers.map((p) => el('div', { class: p.state === 'open' && p.health === 'okay' ? '' : 'muted' },
        breakable(p.originHost ?? p.remoteAddress), ` ${p.role}: ${p.state}, watchdog ${p.health}`)),
      ...(r.down ?? []).map((d) => el('div', { class: 'down' },
        breakable(d.originHost ?? d.target), ` (${d.target}) down: ${d.state === 'connecting' ? 'connecting' : 'retrying'}`
          + `${d.failedAttempts ? `, ${d.failedAttempts} failed attempt${d.failedAttempts > 1 ? 's' : ''}` : ''}${d.lastError ? ` (${d.lastError})` : ''}`))),
  ])));
  section('subscribers', s.subscribers, ['IMPI', 'IMPUs', 'credentials', 'mcptt_id', 'allowed partners', 'SQN'], (x) => [
    x.impi, x.impus.join(' '), [x.k_set ? 'AKA' : '', x.ha1_set ? 'password' : ''].filter(Boolean).join(', '), x.mcptt_id, x.allowed_partners.join(' '), x.sqn]);
  section('mappings', s.mappings, ['system', 'partner IMPI', 'primary IMPI', 'IMPUs (partner → primary)'], (m) => [
    m.system, m.partner_impi, `${m.primary_impi} (${m.primary_realm})`, m.impus.map((p) => `${p.partner} → ${p.primary}`).join('\n')]);
  section('migrations', s.migrations, ['system', 'mcptt_id', 'partner identities', 'primary identities', 'expires in'], (m) => [
    m.system, m.mcpttId, [m.partnerImpi, ...m.partnerImpus].join(' '), [m.primaryImpi, ...m.primaryImpus].join(' '), countdown(m.expiresAt)]);
  section('bindings', s.bindings, ['system', 'AOR', 'IMPI', 'contacts (expires in)'], (b) => [
    b.system, b.aor, b.impi, el('span', {}, ...b.contacts.map((c) => el('div', { class: 'mono' }, breakable(`${c.uri} via ${c.source}`), ' — ', countdown(s.at + c.expires * 1000))))]);
}

function snapshot(m) {
  drawState(m.state);
  for (const r of m.registrations) drawRegistration(r);
  $('#reg-count').textContent = `(${m.total} seen)`;
}

function link(text, st) {
  const l = $('#link');
  l.textContent = text;
  l.dataset.state = st;
}

let delay = 1000;
function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.onopen = () => {
    delay = 1000;
    link('live', 'live');
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'snapshot') snapshot(m);
    else if (m.type === 'state') drawState(m.state);
    else if (m.type === 'registrations') {
      for (const r of m.registrations) drawRegistration(r);
      $('#reg-count').textContent = `(${m.total} seen)`;
    }
  };
  ws.onclose = () => {
    link(`disconnected; retrying in ${delay / 1000} s`, 'down');
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30_000);
  };
}

$('#filter').addEventListener('input', () => {
  const q = $('#filter').value.trim().toLowerCase();
  for (const c of $('#reg-list').querySelectorAll('.reg')) c.hidden = !matches(regs.get(c.getAttribute('data-id')) ?? {}, q);
});
setInterval(() => {
  for (const e of document.querySelectorAll('.countdown')) e.textContent = left(Number(e.getAttribute('data-at')));
}, 1000);
connect();
