// warden dashboard: polls GET /dashboard (JSON) and renders it.
//
// Rules this file keeps (the page is served with a strict CSP):
// - every string that comes from warden or a program (names, reasons, log lines, messages)
//   is put in the page as text (textContent / append of strings), never parsed as HTML;
// - no inline styles, no eval; sizes of bars and sparklines are SVG attributes;
// - every request goes to this page's own origin (root-relative paths, mode same-origin);
//   the token lives in sessionStorage only and is sent as `Authorization: Bearer`.
'use strict';

(() => {
  const POLL_MS = 2000;
  const MAX_BACKOFF_S = 30;
  const AUTH_RETRY_MS = 30000;
  const FETCH_TIMEOUT_MS = 10000;
  const LOG_TAIL = 200;
  const TOKEN_KEY = 'warden.token';
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- small helpers

  /** Creates an element; `text` sets textContent, `cls` the class, others are attributes. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'cls') node.className = v;
        else if (k === 'hidden') node.hidden = true;
        else node.setAttribute(k, String(v));
      }
    }
    for (const c of children) {
      if (c !== undefined && c !== null) node.append(c);
    }
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  /** Sets text only when it changed (no DOM churn, no repeated live-region announcements). */
  function setText(node, text) {
    const t = text === undefined || text === null ? '' : String(text);
    if (node.textContent !== t) node.textContent = t;
  }

  function setClass(node, cls) {
    if (node.className !== cls) node.className = cls;
  }

  function setAttr(node, name, value) {
    const v = String(value);
    if (node.getAttribute(name) !== v) node.setAttribute(name, v);
  }

  function setHidden(node, hidden) {
    if (node.hidden !== hidden) node.hidden = hidden;
  }

  function isNum(x) {
    return typeof x === 'number' && Number.isFinite(x);
  }

  /** A CSS-class-safe word out of a program-supplied value, from a known list only. */
  function word(value, allowed, fallback) {
    return allowed.includes(value) ? value : fallback;
  }

  function humanDuration(seconds) {
    if (!isNum(seconds)) return '—';
    let s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    if (m > 0) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function humanBytes(bytes) {
    if (!isNum(bytes)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let v = bytes;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
  }

  function humanPercent(p) {
    if (!isNum(p)) return '—';
    return `${p < 10 ? p.toFixed(1) : Math.round(p)}%`;
  }

  function ratioPercent(r) {
    return isNum(r) ? Math.max(0, Math.min(100, r * 100)) : 0;
  }

  function parseTime(iso) {
    if (typeof iso !== 'string') return null;
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? null : t;
  }

  function pad2(n) {
    return String(n).padStart(2, '0');
  }

  /** Local clock time; with the date when not today. */
  function clock(iso) {
    const t = parseTime(iso);
    if (!t) return typeof iso === 'string' ? iso : '—';
    const hms = `${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}`;
    const now = new Date();
    if (t.toDateString() === now.toDateString()) return hms;
    const md = `${pad2(t.getMonth() + 1)}-${pad2(t.getDate())}`;
    return t.getFullYear() === now.getFullYear() ? `${md} ${hms}` : `${t.getFullYear()}-${md} ${hms}`;
  }

  function ago(iso) {
    const t = parseTime(iso);
    if (!t) return '';
    return `${humanDuration((Date.now() - t.getTime()) / 1000)} ago`;
  }

  function timeEl(iso, cls) {
    const t = el('time', { cls, text: clock(iso) });
    if (typeof iso === 'string') {
      t.dateTime = iso;
      t.title = iso;
    }
    return t;
  }

  // ---------------------------------------------------------------- token (sessionStorage only)

  let memoryToken = '';

  function getToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (_) {
      return memoryToken;
    }
  }

  function storeToken(token) {
    memoryToken = token;
    try {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      // Storage disabled: the token lives in this page's memory only.
    }
  }

  function showTokenState() {
    setText($('token-status'), getToken() ? 'token set (this tab only)' : 'no token');
    setClass($('token-status'), getToken() ? 'token-status token-set' : 'token-status');
  }

  // ---------------------------------------------------------------- requests (same origin only)

  class HttpError extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  /** fetch() of a root-relative path on this origin, with the token and a timeout. */
  async function request(path, options) {
    if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || path.includes('\\')) {
      throw new Error('refusing a request outside this origin');
    }
    const opts = options || {};
    const headers = new Headers(opts.headers || {});
    const token = getToken();
    if (token) headers.set('Authorization', `Bearer ${token}`);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    try {
      return await fetch(path, {
        method: opts.method || 'GET',
        headers,
        mode: 'same-origin',
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
        signal: controller.signal,
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw new Error(`no answer within ${FETCH_TIMEOUT_MS / 1000} s`);
      throw new Error('could not reach warden');
    } finally {
      clearTimeout(timer);
    }
  }

  /** The `error` of a JSON error body, else the start of the body. */
  async function errorText(res) {
    let body = '';
    try {
      body = await res.text();
    } catch (_) {
      return res.statusText || '';
    }
    try {
      const j = JSON.parse(body);
      if (j && typeof j.error === 'string') {
        return Array.isArray(j.errors) && j.errors.length ? `${j.error}: ${j.errors.join('; ')}` : j.error;
      }
    } catch (_) {
      // not JSON
    }
    body = body.trim();
    return body.length > 300 ? `${body.slice(0, 300)}…` : body || res.statusText || '';
  }

  function retryAfterSeconds(res) {
    const v = res.headers.get('Retry-After');
    const n = v === null ? NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : null;
  }

  const STATUS_WORDS = {
    400: 'bad request',
    401: 'needs a token',
    403: 'refused',
    404: 'not found',
    405: 'not allowed',
    408: 'timed out',
    409: 'conflict',
    429: 'rate limited',
    503: 'unavailable',
  };

  // ---------------------------------------------------------------- status line, connection

  const OVERALL = {
    healthy: { icon: '●', words: 'All good', cls: 'ok' },
    degraded: { icon: '▲', words: 'Degraded', cls: 'warn' },
    unhealthy: { icon: '✖', words: 'Down', cls: 'bad' },
  };

  let lastOverall = null;

  function renderStatus(overall, warden) {
    const o = overall || {};
    const kind = OVERALL[o.status] || { icon: '?', words: String(o.status || 'Unknown'), cls: 'pending' };
    const line = $('status-line');
    const summary = typeof o.summary === 'string' && o.summary ? ` — ${o.summary}` : '';
    const readiness = o.ready === false && o.status === 'healthy' ? ' (not ready)' : '';
    const text = `${kind.words}${summary}${readiness}`;
    const key = `${kind.cls}|${text}`;
    if (key !== lastOverall) {
      lastOverall = key;
      line.replaceChildren(el('span', { cls: 'status-icon', 'aria-hidden': 'true', text: kind.icon }), ` ${text}`);
      setClass(line, `status-line status-${kind.cls}`);
      document.title = `${kind.icon} ${kind.words} — warden`;
      setFavicon(kind.cls);
    }
    const reasons = Array.isArray(o.reasons) ? o.reasons : [];
    const list = $('status-reasons');
    const reasonsKey = JSON.stringify(reasons);
    if (list.dataset.key !== reasonsKey) {
      list.dataset.key = reasonsKey;
      list.replaceChildren(...reasons.map((r) => el('li', { text: r })));
    }
    setHidden(list, reasons.length === 0);

    const w = warden || {};
    setText($('warden-version'), w.version ? `warden ${w.version}` : 'warden');
    setText($('warden-uptime'), `up ${humanDuration(w.uptime_seconds)}`);
    $('warden-uptime').title = w.started_at ? `started ${w.started_at}, pid ${w.pid}` : '';
  }

  const FAVICON_COLOURS = { ok: '#1a7f37', warn: '#bf8700', bad: '#cf222e', pending: '#808080' };

  function setFavicon(cls) {
    const colour = FAVICON_COLOURS[cls] || FAVICON_COLOURS.pending;
    const svg = `<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><circle cx='8' cy='8' r='7' fill='${colour}'/></svg>`;
    const link = $('favicon');
    if (link) setAttr(link, 'href', `data:image/svg+xml,${encodeURIComponent(svg)}`);
  }

  let failures = 0;
  let retryAt = 0;
  let lastSuccess = 0;
  let authBlocked = false;

  function setLive(kind, text) {
    setClass($('live'), `live live-${kind}`);
    setText($('live').querySelector('.dot'), { ok: '●', bad: '✖', auth: '▲' }[kind] || '○');
    setText($('live-text'), text);
  }

  function showConnected() {
    failures = 0;
    authBlocked = false;
    lastSuccess = Date.now();
    setHidden($('connection'), true);
    setHidden($('auth-needed'), true);
    $('token-form').classList.remove('attention');
    setLive('ok', 'live');
  }

  function showConnectionLost(message, delayMs) {
    retryAt = Date.now() + delayMs;
    setText($('retry-in'), Math.ceil(delayMs / 1000));
    setText($('connection-detail'), message ? `Last error: ${message}.` : '');
    setHidden($('connection'), false);
    setLive('bad', lastSuccess ? `offline · last update ${clock(new Date(lastSuccess).toISOString())}` : 'offline');
  }

  function showAuthNeeded(message) {
    authBlocked = true;
    setHidden($('connection'), true);
    const detail = getToken()
      ? `The saved token was refused (HTTP 401${message ? `: ${message}` : ''}).`
      : `(HTTP 401${message ? `: ${message}` : ''})`;
    setText($('auth-detail'), detail);
    setHidden($('auth-needed'), false);
    $('token-form').classList.add('attention');
    setLive('auth', 'token needed');
    if (!document.body.dataset.loaded || document.body.dataset.loaded === 'false') {
      setText($('status-line'), 'Token needed — this warden needs a token to be viewed');
      setClass($('status-line'), 'status-line status-pending');
      lastOverall = null;
    }
  }

  // ---------------------------------------------------------------- polling

  let pollTimer = null;
  let inFlight = false;
  let pollAgain = false;

  function schedule(delayMs) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, delayMs);
  }

  function pollNow() {
    if (inFlight) {
      pollAgain = true;
      return;
    }
    schedule(0);
  }

  async function poll() {
    clearTimeout(pollTimer);
    if (inFlight) {
      pollAgain = true;
      return;
    }
    inFlight = true;
    let delay = POLL_MS;
    try {
      const res = await request('/dashboard', { headers: { Accept: 'application/json' } });
      if (res.status === 401) {
        showAuthNeeded(await errorText(res));
        delay = AUTH_RETRY_MS;
      } else if (!res.ok) {
        const text = await errorText(res);
        throw new HttpError(res.status, `HTTP ${res.status}${text ? `: ${text}` : ''}`, retryAfterSeconds(res));
      } else {
        let data;
        try {
          data = await res.json();
        } catch (_) {
          throw new Error('the answer was not JSON');
        }
        if (!data || typeof data !== 'object') throw new Error('the answer was not a dashboard');
        render(data);
        showConnected();
      }
    } catch (e) {
      failures += 1;
      delay = Math.min(POLL_MS * 2 ** (failures - 1), MAX_BACKOFF_S * 1000);
      if (e instanceof HttpError && isNum(e.retryAfter)) delay = Math.max(delay, e.retryAfter * 1000);
      showConnectionLost(e && e.message ? e.message : String(e), delay);
    } finally {
      inFlight = false;
    }
    if (pollAgain) {
      pollAgain = false;
      delay = 0;
    }
    schedule(delay);
  }

  function render(data) {
    renderStatus(data.overall, data.warden);
    renderPrograms(Array.isArray(data.programs) ? data.programs : []);
    renderChecks(data.checks && typeof data.checks === 'object' ? data.checks : {});
    renderSystem(data.system && typeof data.system === 'object' ? data.system : null);
    renderEvents(Array.isArray(data.events) ? data.events : []);
    renderAlerts(Array.isArray(data.alerts) ? data.alerts : []);
    if (document.body.dataset.loaded !== 'true') document.body.dataset.loaded = 'true';
  }

  // ---------------------------------------------------------------- programs

  const STATES = ['starting', 'running', 'backoff', 'stopping', 'stopped', 'exited', 'failed'];
  const STATE_LOOK = {
    running: { icon: '●', cls: 'ok' },
    starting: { icon: '◐', cls: 'info' },
    stopping: { icon: '◑', cls: 'info' },
    backoff: { icon: '▲', cls: 'warn' },
    stopped: { icon: '■', cls: 'neutral' },
    exited: { icon: '■', cls: 'neutral' },
    failed: { icon: '✖', cls: 'bad' },
  };
  // Which control buttons fit each state (logs is always shown).
  const ACTIONS_FOR = {
    running: ['restart', 'stop'],
    starting: ['restart', 'stop'],
    backoff: ['restart', 'stop'],
    stopping: ['restart', 'start'],
    stopped: ['start'],
    exited: ['start', 'restart'],
    failed: ['start'],
  };
  const ACTION_LABEL = { restart: 'Restart', stop: 'Stop', start: 'Start', logs: 'Logs' };

  /** name -> { root, fields, buttons, spark, deadline } */
  const cards = new Map();

  function cell(cls, label, ...content) {
    return el('div', { cls: `cell ${cls}` }, el('span', { cls: 'label', text: label }), ...content);
  }

  function makeSpark(kind) {
    const svg = svgEl('svg', {
      class: `spark spark-${kind}`,
      viewBox: '0 0 100 24',
      preserveAspectRatio: 'none',
      'aria-hidden': 'true',
      focusable: 'false',
    });
    svg.append(svgEl('line', { class: 'spark-base', x1: 0, y1: 23.5, x2: 100, y2: 23.5 }));
    const g = svgEl('g', {});
    svg.append(g);
    return { svg, g, key: '' };
  }

  /** Draws the samples (nulls break the line) scaled to the largest one. */
  function drawSpark(spark, values, floorMax, title) {
    const key = JSON.stringify(values);
    if (key === spark.key) return;
    spark.key = key;
    const nums = values.filter(isNum);
    const max = Math.max(floorMax, ...nums);
    const n = values.length;
    const x = (i) => (n <= 1 ? 100 : (i / (n - 1)) * 100);
    const y = (v) => 22 - (max > 0 ? (v / max) * 20 : 0);
    const parts = [];
    let segment = [];
    const flush = () => {
      if (segment.length === 1) {
        parts.push(svgEl('circle', { class: 'spark-dot', cx: segment[0][0], cy: segment[0][1], r: 1.5 }));
      } else if (segment.length > 1) {
        const points = segment.map(([px, py]) => `${px.toFixed(2)},${py.toFixed(2)}`).join(' ');
        parts.push(svgEl('polyline', { class: 'spark-line', points, 'vector-effect': 'non-scaling-stroke' }));
      }
      segment = [];
    };
    values.forEach((v, i) => {
      if (isNum(v)) segment.push([x(i), y(v)]);
      else flush();
    });
    flush();
    spark.g.replaceChildren(...parts);
    if (spark.svg.parentNode) setAttr(spark.svg.parentNode, 'title', title);
  }

  function createCard(name) {
    const f = {};
    const stateIcon = el('span', { cls: 'state-icon', 'aria-hidden': 'true' });
    f.state = el('span', { 'data-field': 'state' });
    f.badge = el('span', { cls: 'badge' }, stateIcon, f.state);
    f.stateIcon = stateIcon;
    f.health = el('span', { cls: 'health muted' });
    f.meta = el('span', { cls: 'p-meta muted' });
    f.uptime = el('span', { 'data-field': 'uptime' });
    f.restarts = el('span', { 'data-field': 'restarts' });
    f.memory = el('span', { cls: 'value', 'data-field': 'memory' });
    f.cpu = el('span', { cls: 'value', 'data-field': 'cpu' });
    f.probe = el('span', { 'data-field': 'probe' });
    f.reason = el('span', { 'data-field': 'reason' });
    f.next = el('span', { cls: 'next-restart', 'data-field': 'next-restart', hidden: true });

    const memSpark = makeSpark('memory');
    const cpuSpark = makeSpark('cpu');

    const buttons = {};
    const actions = el('div', { cls: 'cell p-actions' });
    for (const action of ['restart', 'stop', 'start', 'logs']) {
      const b = el('button', {
        type: 'button',
        'data-action': action,
        cls: `btn btn-${action}`,
        text: ACTION_LABEL[action],
        'aria-label': `${ACTION_LABEL[action]} ${name}`,
      });
      b.addEventListener('click', () => {
        if (action === 'logs') openLogs(name);
        else askConfirm(name, action);
      });
      buttons[action] = b;
      actions.append(b);
    }

    const root = el(
      'article',
      { cls: 'program', 'data-program': name },
      el('div', { cls: 'cell p-name' }, el('h3', { text: name }), f.meta),
      cell('p-state', 'State', f.badge, f.health),
      cell('p-uptime', 'Uptime', f.uptime),
      cell('p-restarts', 'Restarts', f.restarts),
      cell('p-memory', 'Memory', el('span', { cls: 'spark-wrap' }, memSpark.svg), f.memory),
      cell('p-cpu', 'CPU', el('span', { cls: 'spark-wrap' }, cpuSpark.svg), f.cpu),
      cell('p-detail', 'Probe · last exit',
        el('span', { cls: 'probe-line' }, f.probe),
        el('span', { cls: 'reason-line' }, f.reason, f.next)),
      actions,
    );
    root.setAttribute('aria-label', `program ${name}`);
    return { root, fields: f, buttons, memSpark, cpuSpark, deadline: null };
  }

  function probeText(probe) {
    if (!probe || typeof probe !== 'object') return { text: 'no probe', cls: 'muted' };
    const status = word(probe.status, ['healthy', 'unhealthy', 'unknown'], 'unknown');
    const icon = { healthy: '✔', unhealthy: '✖', unknown: '?' }[status];
    let text = `${icon} ${probe.type || 'probe'} ${status}`;
    if (probe.message) text += ` — ${probe.message}`;
    if (isNum(probe.duration_ms)) text += ` (${probe.duration_ms < 10 ? probe.duration_ms.toFixed(1) : Math.round(probe.duration_ms)} ms)`;
    if (probe.consecutive_failures > 0) text += `, ${probe.consecutive_failures} failed in a row`;
    return { text, cls: `probe-${status}` };
  }

  function reasonText(p) {
    const parts = [];
    if (typeof p.reason === 'string' && p.reason) parts.push(p.reason);
    const x = p.last_exit;
    const said = typeof p.reason === 'string' ? p.reason : '';
    if (x && typeof x === 'object' && typeof x.message === 'string' && x.message && !said.includes(x.message)) {
      const when = x.at ? ` (${ago(x.at)})` : '';
      parts.push(`last exit: ${x.message}${when}`);
    }
    return parts.join(' · ');
  }

  function updateCard(card, p) {
    const f = card.fields;
    const state = typeof p.state === 'string' ? p.state : 'unknown';
    const look = STATE_LOOK[state] || { icon: '?', cls: 'neutral' };
    setText(f.state, state);
    setText(f.stateIcon, look.icon);
    setClass(f.badge, `badge badge-${look.cls}`);
    setClass(card.root, `program program-${word(state, STATES, 'unknown')}${p.enabled === false ? ' program-disabled' : ''}`);

    let health = p.healthy ? 'healthy' : state === 'running' ? 'unhealthy' : '';
    if (p.enabled === false) health = 'disabled';
    setText(f.health, health);

    const meta = [];
    if (isNum(p.pid)) meta.push(`pid ${p.pid}`);
    if (isNum(p.port)) meta.push(`port ${p.port}`);
    if (p.required === false) meta.push('optional');
    if (p.enabled === false) meta.push('disabled');
    setText(f.meta, meta.join(' · '));

    setText(f.uptime, isNum(p.uptime_seconds) ? humanDuration(p.uptime_seconds) : '—');
    setText(f.restarts, isNum(p.restarts) ? String(p.restarts) : '0');
    setText(f.memory, humanBytes(p.memory_bytes));
    setText(f.cpu, humanPercent(p.cpu_percent));

    const hist = p.history && typeof p.history === 'object' ? p.history : {};
    const mem = Array.isArray(hist.memory_bytes) ? hist.memory_bytes : [];
    const cpu = Array.isArray(hist.cpu_percent) ? hist.cpu_percent : [];
    const memMax = Math.max(0, ...mem.filter(isNum));
    const cpuMax = Math.max(0, ...cpu.filter(isNum));
    drawSpark(card.memSpark, mem, 1, `memory, last ${mem.length} samples, peak ${humanBytes(memMax)}`);
    drawSpark(card.cpuSpark, cpu, 1, `CPU, last ${cpu.length} samples, peak ${humanPercent(cpuMax)}`);

    const probe = probeText(p.probe);
    setText(f.probe, probe.text);
    setClass(f.probe, probe.cls);

    setText(f.reason, reasonText(p));

    if (state === 'backoff' && isNum(p.next_restart_in_seconds)) {
      card.deadline = Date.now() + p.next_restart_in_seconds * 1000;
    } else {
      card.deadline = null;
    }
    tickCard(card);

    const fit = ACTIONS_FOR[state] || ['restart', 'stop', 'start'];
    for (const action of ['restart', 'stop', 'start']) {
      setHidden(card.buttons[action], !fit.includes(action));
    }
  }

  function tickCard(card) {
    const f = card.fields;
    if (card.deadline === null) {
      setHidden(f.next, true);
      return;
    }
    const left = Math.max(0, Math.ceil((card.deadline - Date.now()) / 1000));
    setText(f.next, left > 0 ? `next restart in ${humanDuration(left)}` : 'restarting now');
    setHidden(f.next, false);
  }

  function renderPrograms(programs) {
    const container = $('programs');
    const seen = new Set();
    let previous = null;
    for (const p of programs) {
      if (!p || typeof p.name !== 'string' || seen.has(p.name)) continue;
      seen.add(p.name);
      let card = cards.get(p.name);
      if (!card) {
        card = createCard(p.name);
        cards.set(p.name, card);
      }
      updateCard(card, p);
      // Keep the server's order without moving nodes that are already in place.
      const wanted = previous ? previous.nextSibling : container.firstChild;
      if (wanted !== card.root) container.insertBefore(card.root, wanted);
      previous = card.root;
    }
    for (const [name, card] of cards) {
      if (!seen.has(name)) {
        card.root.remove();
        cards.delete(name);
      }
    }
    const running = programs.filter((p) => p && p.state === 'running').length;
    setText($('programs-count'), programs.length ? `${running} of ${programs.length} running` : '');
    setHidden($('programs-empty'), programs.length > 0);
  }

  // ---------------------------------------------------------------- checks and system

  function renderChecks(checks) {
    const names = Object.keys(checks).sort();
    const key = JSON.stringify(checks);
    const box = $('checks');
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    const items = names.map((name) => {
      const c = checks[name] || {};
      const status = word(c.status, ['up', 'down', 'unknown'], 'unknown');
      const icon = { up: '●', down: '✖', unknown: '?' }[status];
      const cls = { up: 'ok', down: 'bad', unknown: 'neutral' }[status];
      const details = [];
      if (isNum(c.latency_ms)) details.push(`${c.latency_ms < 10 ? c.latency_ms.toFixed(1) : Math.round(c.latency_ms)} ms`);
      if (c.since) details.push(`${status === 'down' ? 'down' : 'up'} since ${clock(c.since)}`);
      if (c.consecutive_failures > 0) details.push(`${c.consecutive_failures} failed in a row`);
      if (c.required === false) details.push('optional');
      return el(
        'div',
        { cls: 'check', 'data-check': name },
        el('div', { cls: 'check-head' },
          el('strong', { cls: 'check-name', text: name }),
          el('span', { cls: 'muted', text: c.type ? ` ${c.type}` : '' }),
          el('span', { cls: `badge badge-${cls}`, 'data-field': 'status' },
            el('span', { cls: 'state-icon', 'aria-hidden': 'true', text: icon }), status)),
        el('div', { cls: 'check-detail muted', text: details.join(' · ') }),
        c.message && c.message !== 'ok'
          ? el('div', { cls: `check-message${status === 'down' ? ' check-down' : ''}`, text: c.message })
          : null,
      );
    });
    box.replaceChildren(...items);
    setHidden($('checks-empty'), names.length > 0);
  }

  const LEVEL_LOOK = {
    ok: { icon: '●', cls: 'ok' },
    warning: { icon: '▲', cls: 'warn' },
    critical: { icon: '✖', cls: 'bad' },
  };

  function gauge(label, ratio, level, detail, error) {
    const lvl = word(level, ['ok', 'warning', 'critical'], 'ok');
    const look = LEVEL_LOOK[lvl];
    const pct = ratioPercent(ratio);
    const svg = svgEl('svg', {
      class: 'bar',
      viewBox: '0 0 100 8',
      preserveAspectRatio: 'none',
      'aria-hidden': 'true',
      focusable: 'false',
    });
    svg.append(svgEl('rect', { class: 'bar-track', x: 0, y: 0, width: 100, height: 8, rx: 2 }));
    svg.append(svgEl('rect', { class: `bar-fill fill-${look.cls}`, x: 0, y: 0, width: pct.toFixed(2), height: 8, rx: 2 }));
    const value = error
      ? el('span', { cls: 'gauge-value badge badge-bad' }, el('span', { cls: 'state-icon', 'aria-hidden': 'true', text: '✖' }), 'error')
      : el('span', { cls: `gauge-value badge badge-${look.cls}` },
        el('span', { cls: 'state-icon', 'aria-hidden': 'true', text: look.icon }),
        `${Math.round(pct)}% ${lvl}`);
    return el(
      'div',
      { cls: 'gauge', 'data-gauge': label },
      el('div', { cls: 'gauge-head' }, el('span', { cls: 'gauge-label', text: label }), value),
      svg,
      el('div', { cls: 'gauge-detail muted', text: error || detail }),
    );
  }

  function renderSystem(sys) {
    const box = $('system');
    const key = JSON.stringify(sys);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    setHidden($('system-empty'), sys !== null);
    if (!sys) {
      box.replaceChildren();
      setText($('system-level'), '');
      setHidden($('system-load'), true);
      setHidden($('system-findings'), true);
      return;
    }
    const items = [];
    if (sys.cpu && typeof sys.cpu === 'object') {
      items.push(gauge('CPU', sys.cpu.usage_ratio, sys.cpu.level, `${sys.cpu.cores} core${sys.cpu.cores === 1 ? '' : 's'}`));
    } else {
      items.push(el('div', { cls: 'gauge' }, el('div', { cls: 'gauge-head' },
        el('span', { cls: 'gauge-label', text: 'CPU' }), el('span', { cls: 'muted', text: 'measuring…' }))));
    }
    const m = sys.memory;
    if (m && typeof m === 'object') {
      items.push(gauge('Memory', m.usage_ratio, m.level, `${humanBytes(m.used_bytes)} of ${humanBytes(m.total_bytes)}`));
    }
    for (const d of Array.isArray(sys.disks) ? sys.disks : []) {
      const label = `Disk ${d.mount}`;
      const detail = `${humanBytes(d.used_bytes)} of ${humanBytes(d.total_bytes)}${d.filesystem ? ` · ${d.filesystem}` : ''}`;
      items.push(gauge(label, d.usage_ratio, d.level, detail, d.error || null));
    }
    box.replaceChildren(...items);

    const lvl = word(sys.level, ['ok', 'warning', 'critical'], 'ok');
    setText($('system-level'), `${LEVEL_LOOK[lvl].icon} ${lvl}${sys.at ? ` · measured ${clock(sys.at)}` : ''}`);
    setClass($('system-level'), `count level-${LEVEL_LOOK[lvl].cls}`);
    const load = Array.isArray(sys.load_average) ? sys.load_average.filter(isNum) : [];
    setText($('system-load'), load.length ? `Load average: ${load.map((v) => v.toFixed(2)).join(' ')}` : '');
    setHidden($('system-load'), load.length === 0);
    const findings = (Array.isArray(sys.findings) ? sys.findings : []).filter((f) => f && f.level !== 'ok');
    $('system-findings').replaceChildren(...findings.map((f) => {
      const fl = word(f.level, ['ok', 'warning', 'critical'], 'warning');
      return el('li', { cls: `finding finding-${LEVEL_LOOK[fl].cls}` },
        el('span', { cls: 'sev', text: `${LEVEL_LOOK[fl].icon} ${fl}` }), ` ${f.component}: `, String(f.reason ?? ''));
    }));
    setHidden($('system-findings'), findings.length === 0);
  }

  // ---------------------------------------------------------------- events and alerts

  const SEVERITY_LOOK = {
    info: { icon: 'ℹ', cls: 'info' },
    warning: { icon: '▲', cls: 'warn' },
    error: { icon: '✖', cls: 'bad' },
    critical: { icon: '✖', cls: 'bad' },
    resolved: { icon: '✔', cls: 'ok' },
  };

  function eventItem(at, severity, program, message, extra) {
    const sev = String(severity || 'info').toLowerCase();
    const look = SEVERITY_LOOK[sev] || SEVERITY_LOOK.info;
    return el(
      'li',
      { cls: `event event-${look.cls}` },
      timeEl(at, 'event-time'),
      el('span', { cls: `event-sev badge badge-${look.cls}` },
        el('span', { cls: 'state-icon', 'aria-hidden': 'true', text: look.icon }), sev),
      el('span', { cls: 'event-program', text: program || '—' }),
      el('span', { cls: 'event-message', text: message }, extra || null),
    );
  }

  function renderEvents(events) {
    const box = $('events');
    const key = JSON.stringify(events);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren(...events.filter((e) => e && typeof e === 'object').map((e) => {
      const item = eventItem(e.at, e.severity, e.program, String(e.message ?? ''));
      item.dataset.kind = String(e.kind ?? '');
      return item;
    }));
    setHidden($('events-empty'), events.length > 0);
  }

  function firstString(obj, keys) {
    for (const k of keys) {
      if (typeof obj[k] === 'string' && obj[k]) return obj[k];
    }
    return null;
  }

  function renderAlerts(alerts) {
    const box = $('alerts');
    const key = JSON.stringify(alerts);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren(...alerts.map((a) => {
      if (!a || typeof a !== 'object') return eventItem(null, 'info', null, String(a));
      const message = firstString(a, ['message', 'summary', 'title', 'text', 'reason']) || JSON.stringify(a);
      const at = firstString(a, ['at', 'time', 'created_at', 'raised_at', 'sent_at']);
      const severity = firstString(a, ['severity', 'level']) || 'info';
      const program = firstString(a, ['program', 'component', 'source']);
      const state = firstString(a, ['state', 'status']);
      return eventItem(at, severity, program, message, state ? el('span', { cls: 'muted', text: ` (${state})` }) : null);
    }));
    setHidden($('alerts-empty'), alerts.length > 0);
  }

  // ---------------------------------------------------------------- actions

  const CONFIRM_TEXT = {
    restart: (n) => `Restart ${n}? It is stopped and started again at once (its whole process tree).`,
    stop: (n) => `Stop ${n}? Its whole process tree is stopped, and it stays down until started again.`,
    start: (n) => `Start ${n}? A failed program gets a fresh restart budget.`,
  };

  let pendingAction = null;

  function askConfirm(name, action) {
    const dialog = $('confirm');
    pendingAction = { name, action };
    setText($('confirm-title'), `${ACTION_LABEL[action]} ${name}`);
    setText($('confirm-text'), CONFIRM_TEXT[action](name));
    setText($('confirm-yes'), ACTION_LABEL[action]);
    setClass($('confirm-yes'), `primary${action === 'start' ? '' : ' danger'}`);
    if (!dialog.open) dialog.showModal();
  }

  function notice(kind, text) {
    const n = $('notice');
    setClass(n, `notice notice-${kind}`);
    n.textContent = text;
  }

  async function runAction(name, action) {
    const card = cards.get(name);
    const button = card ? card.buttons[action] : null;
    if (button) {
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
    }
    notice('pending', `${ACTION_LABEL[action]} ${name}: sending…`);
    try {
      const res = await request(
        `/api/v1/programs/${encodeURIComponent(name)}/${encodeURIComponent(action)}`,
        { method: 'POST', headers: { Accept: 'application/json' } },
      );
      if (res.ok) {
        let body = {};
        try {
          body = await res.json();
        } catch (_) {
          body = {};
        }
        const state = body && typeof body.state === 'string' ? `, now ${body.state}` : '';
        notice('ok', `✔ ${ACTION_LABEL[action]} ${name}: accepted${state}.`);
      } else {
        const text = await errorText(res);
        const meaning = STATUS_WORDS[res.status] ? ` ${STATUS_WORDS[res.status]}` : '';
        let hint = '';
        if (res.status === 401) hint = ' — enter a full API token above.';
        else if (res.status === 429) {
          const ra = retryAfterSeconds(res);
          hint = ra !== null ? ` — retry in ${ra} s.` : '';
        }
        notice('error', `✖ ${ACTION_LABEL[action]} ${name} failed: HTTP ${res.status}${meaning}: ${text}${hint}`);
      }
    } catch (e) {
      notice('error', `✖ ${ACTION_LABEL[action]} ${name} failed: ${e && e.message ? e.message : e}.`);
    } finally {
      if (button) {
        button.disabled = false;
        button.removeAttribute('aria-busy');
      }
      pollNow();
    }
  }

  // ---------------------------------------------------------------- logs

  let logProgram = null;
  let logSeq = 0;

  function openLogs(name) {
    logProgram = name;
    setText($('log-title'), `Logs — ${name}`);
    $('log-lines').replaceChildren();
    const dialog = $('log-view');
    if (!dialog.open) dialog.showModal();
    loadLogs();
  }

  async function loadLogs() {
    const name = logProgram;
    if (name === null) return;
    const seq = ++logSeq;
    const status = $('log-status');
    setText(status, 'Loading…');
    $('log-refresh').disabled = true;
    try {
      const res = await request(
        `/api/v1/programs/${encodeURIComponent(name)}/logs?tail=${LOG_TAIL}`,
        { headers: { Accept: 'application/json' } },
      );
      if (seq !== logSeq) return;
      if (!res.ok) {
        const text = await errorText(res);
        if (seq !== logSeq) return;
        const meaning = STATUS_WORDS[res.status] ? ` ${STATUS_WORDS[res.status]}` : '';
        setText(status, `Could not load the logs: HTTP ${res.status}${meaning}: ${text}`);
        status.className = 'muted log-error';
        return;
      }
      const body = await res.json();
      if (seq !== logSeq) return;
      const lines = body && Array.isArray(body.lines) ? body.lines : [];
      const list = $('log-lines');
      const frag = document.createDocumentFragment();
      for (const line of lines) {
        if (!line || typeof line !== 'object') continue;
        const stream = word(line.stream, ['stdout', 'stderr', 'warden'], 'other');
        frag.append(el(
          'li',
          { cls: `log-entry stream-${stream}` },
          timeEl(line.at, 'log-time'),
          el('span', { cls: 'log-stream', text: stream, 'aria-label': `stream ${stream}` }),
          el('span', { cls: `log-line stream-${stream}`, text: String(line.text ?? '') }),
        ));
      }
      list.replaceChildren(frag);
      status.className = 'muted';
      setText(status, lines.length
        ? `The last ${lines.length} line${lines.length === 1 ? '' : 's'} (newest at the bottom), loaded ${clock(new Date().toISOString())}.`
        : 'No output yet.');
      list.scrollTop = list.scrollHeight;
    } catch (e) {
      if (seq !== logSeq) return;
      status.className = 'muted log-error';
      setText(status, `Could not load the logs: ${e && e.message ? e.message : e}.`);
    } finally {
      if (seq === logSeq) $('log-refresh').disabled = false;
    }
  }

  // ---------------------------------------------------------------- wiring

  function tick() {
    if (!$('connection').hidden) {
      const left = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      setText($('retry-in'), left);
    }
    for (const card of cards.values()) {
      if (card.deadline !== null) tickCard(card);
    }
  }

  function start() {
    setFavicon('pending');
    showTokenState();

    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = $('token-input');
      const token = input.value.trim();
      if (token && !/^[\x21-\x7e]+$/.test(token)) {
        setText($('token-status'), 'a token is printable ASCII without spaces');
        return;
      }
      storeToken(token);
      input.value = '';
      showTokenState();
      pollNow();
    });
    $('token-clear').addEventListener('click', () => {
      storeToken('');
      $('token-input').value = '';
      showTokenState();
      pollNow();
    });
    $('auth-focus').addEventListener('click', () => $('token-input').focus());
    $('retry-now').addEventListener('click', () => pollNow());

    $('confirm-yes').addEventListener('click', () => {
      const p = pendingAction;
      pendingAction = null;
      $('confirm').close();
      if (p) runAction(p.name, p.action);
    });
    $('confirm-no').addEventListener('click', () => {
      pendingAction = null;
      $('confirm').close();
    });
    $('confirm').addEventListener('close', () => {
      pendingAction = null;
    });

    $('log-close').addEventListener('click', () => $('log-view').close());
    $('log-refresh').addEventListener('click', () => loadLogs());
    $('log-view').addEventListener('close', () => {
      logProgram = null;
      logSeq += 1;
    });

    window.addEventListener('online', () => pollNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && (failures > 0 || authBlocked)) pollNow();
    });

    setInterval(tick, 500);
    poll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
