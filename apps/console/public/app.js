// The operator console's page: plain JavaScript (no build step), charts with uPlot served by the console
// itself. It signs in with a token kept in this tab's sessionStorage, sends it on every /v1 call, shows and
// enables what the token's scopes allow, and refreshes the page it shows on a timer without reloading.
(() => {
  'use strict';
  const TOKEN_KEY = 'access-console-token';
  const REFRESH_MS = 5000;
  const main = document.getElementById('main');
  const statusLine = document.getElementById('status');
  let token = sessionStorage.getItem(TOKEN_KEY);
  let session = null;
  let page = null;
  let timer = null;
  const charts = new Map();

  const OUTCOME_COLORS = {
    admitted_allowance: '#2da44e', admitted_credits: '#0969da', rate_limited: '#bf8700',
    concurrency_limited: '#8250df', load_shed: '#cf222e', insufficient_credits: '#57606a', suspended: '#000000',
  };
  const PALETTE = ['#0969da', '#cf222e', '#2da44e', '#bf8700', '#8250df', '#1b7c83', '#e16f24', '#57606a', '#bc4c00', '#116329', '#a40e26', '#0550ae'];
  const colorOf = (name, i) => OUTCOME_COLORS[name] || PALETTE[i % PALETTE.length];

  // ---------------------------------------------------------------------------------------------------------
  // Helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  const fmt = (n, digits = 0) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits }));
  const time = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '–');
  const epoch = (s) => time(new Date(s * 1000).toISOString());

  class ApiError extends Error {
    constructor(status, problem) { super(problem && problem.detail ? problem.detail : `HTTP ${status}`); this.status = status; this.problem = problem; }
  }

  async function api(path, options = {}) {
    const response = await fetch(path, {
      method: options.method || 'GET',
      headers: { authorization: `Bearer ${token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) },
      body: options.body ? JSON.stringify(options.body) : undefined,
    });
    const body = await response.json().catch(() => null);
    // Signed in and now unknown: the token was revoked. (While signing in, the form says what went wrong.)
    if (response.status === 401 && session !== null) { signOut('Your token is not known (or was revoked): sign in again.'); throw new ApiError(401, body); }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.className = isError ? 'error' : '';
  }

  function table(columns, rows, options = {}) {
    if (rows.length === 0) return el('p', { class: 'empty' }, options.empty || 'Nothing yet.');
    return el('table', { 'data-table': options.name },
      el('thead', {}, el('tr', {}, columns.map((c) => el('th', { class: c.num ? 'num' : undefined }, c.title)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, columns.map((c) => el('td', { class: c.num ? 'num' : undefined }, c.cell(r)))))));
  }

  /**
   * Draws or updates a time-series chart in `holder`: `data` is {t: [epoch s], series: {name: [value|null]}}.
   * The holder's data-points attribute counts the values drawn, so a test (or a person) can tell an empty chart.
   */
  function chart(holder, id, data, options = {}) {
    const names = Object.keys(data.series).sort();
    // A count's quiet buckets are filled with 0 (options.zeroFilled): those are not data drawn.
    const drawn = (v) => v !== null && v !== undefined && !(options.zeroFilled && v === 0);
    const points = names.reduce((sum, n) => sum + data.series[n].filter(drawn).length, 0);
    holder.dataset.points = String(points);
    const key = `${id}:${names.join('|')}`;
    const existing = charts.get(id);
    if (data.t.length === 0) {
      if (existing) { existing.plot.destroy(); charts.delete(id); }
      holder.replaceChildren(el('p', { class: 'empty' }, options.empty || 'No data in this window yet.'));
      return;
    }
    const aligned = [data.t, ...names.map((n) => data.series[n])];
    if (existing && existing.key === key && existing.holder === holder) { existing.plot.setData(aligned); return; }
    if (existing) existing.plot.destroy();
    holder.replaceChildren();
    const width = Math.max(320, holder.clientWidth || 560);
    const plot = new uPlot({
      width, height: 220,
      scales: { x: { time: true }, y: options.range ? { range: options.range } : {} },
      series: [{}, ...names.map((n, i) => ({
        label: n, stroke: colorOf(n, i), width: 1.5, spanGaps: false,
        ...(options.bars ? { fill: colorOf(n, i) + '99', paths: uPlot.paths.bars({ size: [0.6, 40] }) } : {}),
        value: (u, v) => (v === null || v === undefined ? '–' : fmt(v, 3)),
      }))],
      axes: [{}, { size: 60, label: options.unit || '' }],
      legend: { live: true },
    }, aligned, holder);
    charts.set(id, { plot, key, holder });
  }

  function card(title, ...body) {
    return el('section', { class: 'card' }, el('h3', {}, title), ...body);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sign in

  function signOut(message) {
    token = null;
    session = null;
    sessionStorage.removeItem(TOKEN_KEY);
    stopPage();
    showSignIn(message);
  }

  function showSignIn(message) {
    document.getElementById('nav').hidden = true;
    document.getElementById('who').textContent = '';
    const input = el('input', { type: 'password', name: 'token', placeholder: 'access_…', autocomplete: 'off', 'aria-label': 'token' });
    const error = el('p', { class: 'error' }, message || '');
    const form = el('form', { class: 'signin card', onsubmit: async (e) => {
      e.preventDefault();
      token = input.value.trim();
      try {
        session = await api('/v1/console/session');
        sessionStorage.setItem(TOKEN_KEY, token);
        start();
      } catch (err) {
        token = null;
        error.textContent = err.status === 403 ? 'This token lacks ledger:read, which the console needs.' : `Sign-in failed: ${err.message}`;
      }
    } },
      el('h2', {}, 'Sign in'),
      el('p', {}, 'Paste a token (', el('code', {}, 'npx access tokens create --scope ledger:read'), '; add ', el('code', {}, 'ledger:admin'), ' to redrive dead letters). ', 'npm start prints one with every scope.'),
      el('div', { class: 'row' }, input, el('button', { class: 'primary', type: 'submit' }, 'Sign in')),
      error);
    main.replaceChildren(form);
    input.focus();
  }

  function can(scope) { return session !== null && session.scopes.includes(scope); }

  // ---------------------------------------------------------------------------------------------------------
  // Pages

  const pages = {
    overview: () => {
      const holders = {
        decisions: el('div', { class: 'chart', 'data-chart': 'decisions' }),
        multipliers: el('div', { class: 'chart', 'data-chart': 'multipliers' }),
        lag: el('div', { class: 'chart', 'data-chart': 'lag' }),
        freshness: el('div', { class: 'chart', 'data-chart': 'freshness' }),
        deadletters: el('div', { class: 'chart', 'data-chart': 'deadletters' }),
      };
      const totals = el('div', { 'data-totals': '' });
      const problems = el('div', { class: 'error' });
      main.replaceChildren(el('h2', {}, 'Overview · last 15 minutes'), problems,
        el('div', { class: 'grid' },
          card('Decisions per second by outcome', holders.decisions, totals),
          card('Load multiplier per (model, plan, priority)', holders.multipliers),
          card('Consumer lag per group (messages)', holders.lag),
          card('Balance freshness (ms)', holders.freshness),
          card('Dead letters per hour (24 h)', holders.deadletters)));
      return async () => {
        const o = await api('/v1/console/overview');
        chart(holders.decisions, 'decisions', o.decisions, { unit: 'per s', zeroFilled: true });
        chart(holders.multipliers, 'multipliers', o.multipliers, { range: [0, 1.6] });
        chart(holders.lag, 'lag', o.lag, { empty: 'No lag reported yet (credit-ledger and usage-ingest /metrics).' });
        chart(holders.freshness, 'freshness', o.freshness, { unit: 'ms', empty: 'No balance applied in the last minute yet.' });
        chart(holders.deadletters, 'deadletters', { t: o.deadLettersPerHour.t, series: { 'dead letters': o.deadLettersPerHour.count } }, { bars: true });
        const sums = Object.entries(o.decisions.series).map(([outcome, values]) => ({ outcome, n: values.reduce((s, v) => s + (v || 0), 0) * 10 }));
        totals.replaceChildren(table([
          { title: 'outcome', cell: (r) => el('span', { class: 'tag', 'data-outcome': r.outcome, style: `border-color:${colorOf(r.outcome, 0)}` }, r.outcome) },
          { title: 'decisions in 15 min', num: true, cell: (r) => fmt(r.n) },
        ], sums.sort((a, b) => b.n - a.n), { name: 'outcomes', empty: 'No decisions in the last 15 minutes.' }));
        problems.textContent = o.problems.join(' · ');
      };
    },

    accounts: (accountId) => (accountId ? accountPage(accountId) : accountSearch()),

    limits: () => {
      const body = el('div');
      main.replaceChildren(el('h2', {}, 'Limits'), body);
      return async () => {
        const l = await api('/v1/console/limits');
        const c = l.controller;
        body.replaceChildren(
          card('Plans (config/plans.yaml)', table([
            { title: 'plan', cell: (p) => p.name },
            { title: 'requests/min per user', num: true, cell: (p) => fmt(p.requestsPerMinute) },
            { title: 'concurrent per user', num: true, cell: (p) => fmt(p.concurrentRequests) },
            { title: 'credits/min per account', num: true, cell: (p) => fmt(p.creditsPerMinute) },
            { title: 'priorities', cell: (p) => p.priorities.join(', ') },
            { title: 'allowance', cell: (p) => p.allowance.map((a) => `${a.family} ${fmt(a.credits)}/${a.window}`).join(', ') || '–' },
          ], l.plans, { name: 'plans' })),
          card('Load multipliers in force, and why (load-feedback)', c.unavailable
            ? el('p', { class: 'error' }, `load-feedback: ${c.unavailable}`)
            : table([
              { title: 'model', cell: (m) => m.model }, { title: 'plan', cell: (m) => m.plan }, { title: 'priority', cell: (m) => m.priority },
              { title: 'multiplier', num: true, cell: (m) => el('strong', {}, fmt(m.multiplier, 3)) },
              { title: 'last change', cell: (m) => (m.reason ? `${m.reason} at ${time(m.changedAt)}` : 'none seen') },
              { title: 'controller inputs', cell: (m) => (m.inputs ? Object.entries(m.inputs).map(([k, v]) => `${k}=${fmt(v, 3)}`).join('  ') : '–') },
            ], c.multipliers.filter((m) => m.multiplier !== 1 || m.reason !== null), { name: 'multipliers', empty: 'Every multiplier is 1.' })),
          c.unavailable ? '' : card('Fleet load samples (the controller\u2019s load input)', table([
            { title: 'model', cell: (s) => s.model }, { title: 'region', cell: (s) => s.region },
            { title: 'utilization', num: true, cell: (s) => fmt(s.utilization, 3) }, { title: 'queue', num: true, cell: (s) => fmt(s.queueDepth) },
            { title: 'p95 ms', num: true, cell: (s) => fmt(s.p95LatencyMs) }, { title: 'capacity credits/s', num: true, cell: (s) => fmt(s.capacityCreditsPerSecond) },
            { title: 'sampled', cell: (s) => epoch(s.sampledAtMs / 1000) },
          ], c.samples, { name: 'samples', empty: 'No fleet has reported load.' })),
          card('Most active users (7 days) and their reputation', table([
            { title: 'account', cell: (u) => el('a', { href: `#/accounts/${encodeURIComponent(u.account_id)}` }, u.account_id) },
            { title: 'user', cell: (u) => u.user_id },
            { title: 'requests', num: true, cell: (u) => fmt(u.requests) },
            { title: 'rejection ratio', num: true, cell: (u) => fmt(u.rejection_ratio, 3) },
            { title: 'failure ratio', num: true, cell: (u) => fmt(u.failure_ratio, 3) },
            { title: 'burstiness', num: true, cell: (u) => fmt(u.burstiness, 2) },
            { title: 'reputation factor', num: true, cell: (u) => el('strong', {}, fmt(u.factor, 3)) },
          ], l.activeUsers, { name: 'users' })));
      };
    },

    deadletters: () => {
      const body = el('div');
      main.replaceChildren(el('h2', {}, 'Dead letters'), body);
      const redriven = new Set();
      return async () => {
        const d = await api('/v1/console/deadletters');
        const admin = can('ledger:admin');
        body.replaceChildren(
          el('p', {}, `${fmt(d.total)} on ${d.topic} (newest first).`, admin ? '' : ' Redrive needs a token with ledger:admin.'),
          table([
            { title: 'recorded', cell: (l) => time(l.recordedAt) },
            { title: 'from', cell: (l) => `${l.topic} [${l.partition}] @${l.offset}` },
            { title: 'key', cell: (l) => l.key ?? '(null)' },
            { title: 'consumer', cell: (l) => l.consumer },
            { title: 'reason', cell: (l) => el('span', { class: 'error' }, l.reason) },
            { title: `value`, cell: (l) => el('pre', {}, l.value.text + (l.value.truncated ? '\n… (cut)' : '')) },
            { title: '', cell: (l) => el('button', {
              'data-redrive': l.id, disabled: !admin || redriven.has(l.id), title: admin ? `Republish to ${l.topic}` : 'needs ledger:admin',
              onclick: async (e) => {
                const button = e.currentTarget;
                button.disabled = true;
                try {
                  const r = await api('/v1/console/deadletters/redrive', { method: 'POST', body: { id: l.id } });
                  redriven.add(l.id);
                  button.textContent = 'Redriven';
                  setStatus(`Redriven ${r.redriven} to ${r.topic}`);
                } catch (err) {
                  button.disabled = false;
                  setStatus(`Redrive failed: ${err.message}`, true);
                }
              } }, redriven.has(l.id) ? 'Redriven' : 'Redrive') },
          ], d.deadLetters, { name: 'deadletters', empty: 'No dead letters.' }));
      };
    },
  };

  function accountSearch() {
    const input = el('input', { type: 'text', name: 'q', placeholder: 'account id contains…', 'aria-label': 'search accounts' });
    const results = el('div');
    let last = null;
    let debounce = null;
    input.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => void refresh(), 250); });
    main.replaceChildren(el('h2', {}, 'Accounts'), el('div', { class: 'row' }, input), results);
    input.focus();
    async function refresh() {
      const q = input.value.trim();
      const r = await api(`/v1/console/accounts?q=${encodeURIComponent(q)}`);
      if (last !== null && q !== input.value.trim()) return;
      last = q;
      results.replaceChildren(table([
        { title: 'account', cell: (a) => el('a', { href: `#/accounts/${encodeURIComponent(a.account_id)}`, 'data-account': a.account_id }, a.account_id) },
        { title: 'plan', cell: (a) => a.plan },
        { title: 'decisions (7 d)', num: true, cell: (a) => fmt(a.decisions) },
        { title: 'rejections', num: true, cell: (a) => fmt(a.rejections) },
        { title: 'last decision', cell: (a) => epoch(a.last_decision) },
      ], r.accounts, { name: 'accounts', empty: 'No account with decisions in the last 7 days matches.' }));
    }
    return refresh;
  }

  function accountPage(accountId) {
    const summary = el('div');
    const usageRequests = el('div', { class: 'chart', 'data-chart': 'usage-requests' });
    const usageCredits = el('div', { class: 'chart', 'data-chart': 'usage-credits' });
    const grants = el('div');
    const holds = el('div');
    const decisions = el('div');
    const events = el('div');
    const pager = { afterVersion: 0, previous: [], next: null };
    main.replaceChildren(
      el('h2', {}, el('a', { href: '#/accounts' }, 'Accounts'), ' / ', el('span', { 'data-account-id': accountId }, accountId)), summary,
      el('div', { class: 'grid' }, card('Requests by model and endpoint (6 h, per 5 min)', usageRequests), card('Charged credits by model and endpoint', usageCredits)),
      el('div', { class: 'grid' }, card('Grants, in burn order', grants), card('Open holds', holds)),
      card('Decisions, newest first', decisions),
      card('Ledger events', events));

    async function loadEvents() {
      const page = await api(`/v1/console/accounts/${encodeURIComponent(accountId)}/events?afterVersion=${pager.afterVersion}&limit=25`);
      pager.next = page.events.length === 25 ? page.nextAfterVersion : null;
      events.replaceChildren(
        el('div', { class: 'row' },
          el('button', { 'data-events': 'previous', disabled: pager.previous.length === 0, onclick: () => { pager.afterVersion = pager.previous.pop(); void loadEvents(); } }, '← Earlier'),
          el('span', {}, page.events.length ? `versions ${page.events[0].version}–${page.events[page.events.length - 1].version}` : 'no events'),
          el('button', { 'data-events': 'next', disabled: pager.next === null, onclick: () => { pager.previous.push(pager.afterVersion); pager.afterVersion = pager.next; void loadEvents(); } }, 'Later →')),
        table([
          { title: 'version', num: true, cell: (e) => e.version },
          { title: 'type', cell: (e) => e.type },
          { title: 'at', cell: (e) => time(e.occurredAt) },
          { title: 'data', cell: (e) => el('code', {}, JSON.stringify(e.data)) },
        ], page.events, { name: 'events', empty: 'No ledger events.' }));
    }

    let first = true;
    return async () => {
      const a = await api(`/v1/console/accounts/${encodeURIComponent(accountId)}`);
      const b = a.balance;
      summary.replaceChildren(b === null
        ? el('p', { class: 'empty' }, 'The ledger has no account with this id.')
        : el('p', { 'data-balance': '' }, `plan ${b.plan} · balance ${fmt(b.balanceCredits)} · held ${fmt(b.heldCredits)} · available `, el('strong', {}, fmt(b.availableCredits)), ` credits · version ${b.version}`));
      chart(usageRequests, 'usage-requests', a.usage.requests, { empty: 'No completed requests in 6 hours.' });
      chart(usageCredits, 'usage-credits', a.usage.chargedCredits, { empty: 'No completed requests in 6 hours.' });
      grants.replaceChildren(table([
        { title: 'grant', cell: (g) => g.grantId }, { title: 'source', cell: (g) => g.source },
        { title: 'priority', num: true, cell: (g) => g.priority }, { title: 'remaining', num: true, cell: (g) => fmt(g.remainingCredits) },
        { title: 'expires', cell: (g) => time(g.expiresAt) },
      ], b === null ? [] : b.grants, { name: 'grants', empty: 'No grants.' }));
      holds.replaceChildren(table([
        { title: 'admission', cell: (h) => h.admission_id }, { title: 'held', num: true, cell: (h) => fmt(h.held) }, { title: 'since', cell: (h) => epoch(h.since) },
      ], a.holds, { name: 'holds', empty: 'No open holds.' }));
      decisions.replaceChildren(table([
        { title: 'at', cell: (d) => epoch(d.t) }, { title: 'user', cell: (d) => d.user_id },
        { title: 'model / endpoint', cell: (d) => `${d.model} ${d.endpoint} (${d.priority})` },
        { title: 'decision', cell: (d) => el('span', { class: `tag ${d.decision}` }, d.decision === 'admitted' ? `admitted via ${d.decided_by}` : d.reason) },
        { title: 'credits', num: true, cell: (d) => fmt(d.estimated_credits) },
        { title: 'retry after', num: true, cell: (d) => (d.retry_after_ms === null ? '–' : `${fmt(d.retry_after_ms)} ms`) },
        { title: 'load × reputation', num: true, cell: (d) => `${fmt(d.load_multiplier, 2)} × ${fmt(d.reputation_factor, 2)}` },
      ], a.decisions, { name: 'decisions', empty: 'No decisions.' }));
      // The event stream keeps the page the operator is on; only the first load fetches it by itself.
      if (first) { first = false; await loadEvents(); }
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Routing and refresh

  function stopPage() {
    clearInterval(timer);
    timer = null;
    for (const c of charts.values()) c.plot.destroy();
    charts.clear();
    page = null;
  }

  async function refresh() {
    if (page === null) return;
    const current = page;
    try {
      await current.refresh();
      if (page === current) setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      if (page === current && err.status !== 401) setStatus(`${err.message}`, true);
    }
  }

  function route() {
    if (session === null) return;
    stopPage();
    const [name, arg] = location.hash.replace(/^#\/?/, '').split('/');
    const pageName = pages[name] ? name : 'overview';
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === pageName);
    page = { name: pageName, refresh: pages[pageName](arg ? decodeURIComponent(arg) : undefined) };
    void refresh();
    timer = setInterval(() => void refresh(), REFRESH_MS);
  }

  function start() {
    document.getElementById('nav').hidden = false;
    document.getElementById('who').replaceChildren(
      `${session.name || 'token'} · ${session.scopes.join(' ')} `,
      el('button', { onclick: () => signOut('Signed out.') }, 'Sign out'));
    route();
  }

  window.addEventListener('hashchange', route);
  if (token) {
    api('/v1/console/session').then((s) => { session = s; start(); }, () => signOut());
  } else {
    showSignIn();
  }
})();
