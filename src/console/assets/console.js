// The operator console. Talks only to this app's REST API with the API key from sessionStorage
// (never a URL or a cookie). Every value from the server is set with textContent, never as HTML.

const KEY_STORAGE = 'console.apiKey';
const REFRESH_MS = 30_000;

const $ = (id) => document.getElementById(id);
const state = { overview: null, readiness: null, selected: null, refreshTimer: null };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---------------------------------------------------------------- API

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

async function api(method, path, body) {
  const headers = { accept: 'application/json', 'x-api-key': apiKey() ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    // Not JSON (e.g. a proxy's error page): the status says enough.
  }
  if (!res.ok) throw new ApiError(res.status, errorText(res.status, data));
  return data;
}

/** The error body's human sentence, with per-field details when there are any. */
function errorText(status, data) {
  const parts = [];
  const m = data?.message;
  if (typeof m === 'string') parts.push(m);
  else if (Array.isArray(m)) parts.push(m.map(String).join('; '));
  const details = Array.isArray(data?.details) ? data.details : [];
  for (const d of details) {
    if (typeof d === 'string') parts.push(d);
    else if (d?.field && d?.problem) parts.push(`${d.field} ${d.problem}`);
    else parts.push(d?.message ?? JSON.stringify(d));
  }
  if (parts.length === 0) parts.push(`The server answered HTTP ${status}`);
  return parts.join(' — ');
}

const userPath = (userId, rest) => `/sharekhan/users/${encodeURIComponent(userId)}/${rest}`;

// ---------------------------------------------------------------- helpers

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function button(label, onClick, { className, ariaLabel } = {}) {
  const b = el('button', label, className);
  b.type = 'button';
  if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
  b.addEventListener('click', onClick);
  return b;
}

function duration(ms) {
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}

const IST_OFFSET_MS = 330 * 60_000;

/** The one way this page shows an instant: India's time with its label, whatever the browser's zone. */
function istTime(iso) {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return String(iso ?? '');
  return `${new Date(ms + IST_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ')} IST`;
}

function ago(iso) {
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  if (ms < 60_000) return 'just now';
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ago`;
  return istTime(iso);
}

/** Audit actions as a person says them; the API keeps its codes for programs. */
const ACTION_WORDS = {
  submitted: 'token submitted',
  exchanged: 'logged in with ShareKhan',
  login_started: 'ShareKhan login started',
  exchange_failed: 'ShareKhan login failed',
  validated: 'validated with ShareKhan',
  validation_failed: 'validation failed',
  invalidated: 'marked unusable',
  expired: 'expired',
  deleted: 'revoked',
  customer_refused: 'refused: another ShareKhan customer',
  customer_mismatch: 'ShareKhan named another customer',
  decrypt_failed: 'cannot be decrypted',
  'token.rejected_by_broker': 'refused by ShareKhan',
};
const actionWords = (action) => ACTION_WORDS[action] ?? String(action).replace(/[._]+/g, ' ');

/** What the operator does about a user who cannot trade, in this page's terms (the API names its endpoints). */
const STATUS_ACTIONS = {
  missing: "submit today's token or log in with ShareKhan (Manage)",
  expired: 'submit a new token or log in with ShareKhan again (Manage)',
  invalid: 'submit a new token or log in with ShareKhan again (Manage)',
  revoked: 'submit a new token or log in with ShareKhan again (Manage)',
  unknown: 'the token store cannot be read (Redis unreachable); check again when it is back',
};

const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** A cron day-of-week field in words: "1-5" is "Monday to Friday". */
function cronDays(days) {
  if (days === '*' || days === '0-6' || days === '1-7') return 'every day';
  const parts = String(days)
    .split(',')
    .map((part) => {
      const m = /^([0-7])(?:-([0-7]))?$/.exec(part.trim());
      if (!m) return null;
      return m[2] === undefined ? DAY_NAMES[m[1] % 7] : `${DAY_NAMES[m[1] % 7]} to ${DAY_NAMES[m[2] % 7]}`;
    });
  if (parts.includes(null)) return `on the days "${days}" (cron day-of-week)`;
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

function showMessage(text, kind = 'info') {
  const m = $('message');
  m.textContent = text;
  m.dataset.kind = kind;
}

/** Nothing said about one user, or one sign-in, may be read as said about the next. */
function clearMessages() {
  showMessage('');
  const box = $('login-result');
  box.hidden = true;
  box.textContent = '';
}

function showError(err) {
  if (err instanceof ApiError && err.status === 401) {
    signOut('The API key was refused (401): sign in again.');
    return;
  }
  showMessage(err instanceof ApiError ? `${err.message} (HTTP ${err.status})` : `Request failed: ${err.message}`, 'error');
}

// ---------------------------------------------------------------- sign-in

function showSignedIn(signedIn) {
  $('sign-in').hidden = signedIn;
  $('app').hidden = !signedIn;
  $('who').hidden = !signedIn;
}

function signOut(reason) {
  sessionStorage.removeItem(KEY_STORAGE);
  clearInterval(state.refreshTimer);
  state.overview = state.readiness = state.selected = null;
  $('users').tBodies[0].replaceChildren();
  $('audit').tBodies[0].replaceChildren();
  $('premarket-lacking').replaceChildren();
  $('premarket-last').textContent = '';
  $('detail').hidden = true;
  clearMessages();
  showSignedIn(false);
  $('sign-in-error').textContent = reason ?? '';
  $('api-key').focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = $('api-key');
  const key = input.value.trim();
  input.value = '';
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $('sign-in-error').textContent = '';
  try {
    await refresh();
  } catch (err) {
    sessionStorage.removeItem(KEY_STORAGE);
    $('sign-in-error').textContent =
      err instanceof ApiError && err.status === 401 ? 'This API key was refused (401): check it and try again.' : errorText(0, { message: err.message });
    return;
  }
  startAutoRefresh();
}

function startAutoRefresh() {
  clearInterval(state.refreshTimer);
  state.refreshTimer = setInterval(() => {
    if (document.visibilityState === 'visible' && apiKey()) refresh().catch(showError);
  }, REFRESH_MS);
}

// ---------------------------------------------------------------- data

async function refresh() {
  const [overview, readiness] = await Promise.all([api('GET', '/console/api/overview'), api('GET', '/orchestrator/readiness')]);
  state.overview = overview;
  state.readiness = readiness;
  showSignedIn(true);
  render();
  if (state.selected) await loadAudit(state.selected);
}

/** Readiness says how an order would fare; the store tells a revoked token from an invalid one. */
function tokenStatus(ready, stored) {
  if (stored?.stored === 'revoked' && ready?.status !== 'ready') return 'revoked';
  return ready?.status ?? 'unknown';
}

function render() {
  const { overview, readiness } = state;
  $('who-name').textContent = overview.caller.name;
  $('who-scope').textContent = overview.caller.admin ? '(admin: every user)' : `(user key: ${overview.caller.userId})`;
  $('premarket-run').hidden = !overview.caller.admin;
  renderBanner(overview.cache);
  $('cutoff').textContent = `Tokens expire at the daily cut-off, ${overview.cutoff.ist} IST (next in ${duration(Date.parse(overview.cutoff.nextAt) - Date.now())}). Cache mode: ${overview.cache.mode}.`;
  renderUsers();
  renderPremarket(readiness.premarket);
}

function renderBanner(cache) {
  const banner = $('cache-banner');
  banner.hidden = cache.level !== 'warning';
  banner.dataset.mode = cache.mode;
  $('cache-banner-title').textContent = cache.mode === 'fallback' ? 'Cache in fallback: Redis unreachable' : 'Cache recovering';
  $('cache-banner-text').textContent = cache.message;
}

function renderUsers() {
  const stored = new Map(state.overview.users.map((u) => [u.userId, u]));
  const rows = state.readiness.users.map((ready) => userRow(ready, stored.get(ready.userId)));
  $('users').tBodies[0].replaceChildren(...rows);
  $('no-users').hidden = rows.length > 0;
  tick();
}

/** On a narrow screen each cell stands alone, so it names its column (see console.css). */
function labelled(cell, label) {
  cell.dataset.label = label;
  return cell;
}

function userRow(ready, stored) {
  const tr = el('tr');
  tr.dataset.user = ready.userId;
  const status = tokenStatus(ready, stored);

  const name = el('th', ready.userId);
  name.scope = 'row';
  tr.append(name);

  tr.append(labelled(el('td', ready.mode), 'Mode'));

  const statusCell = el('td');
  const badge = el('span', status.replaceAll('_', ' '), `badge badge-${status}`);
  badge.dataset.field = 'status';
  statusCell.append(badge);
  // Until readiness itself says "revoked", its message for a revoked token describes a broker refusal.
  const message = status === 'revoked' && ready.status !== 'revoked' ? 'Revoked: orders are refused until a new token is submitted or the user logs in again.' : ready.message;
  if (message && status !== 'ready') statusCell.append(el('div', message, 'small muted status-message'));
  tr.append(labelled(statusCell, 'Token'));

  const tokenCell = el('td');
  if (ready.mask || ready.fingerprint) {
    tokenCell.append(el('code', ready.mask ?? ''), el('div', ready.fingerprint ? `fingerprint ${ready.fingerprint}` : '', 'small muted'));
  } else {
    tokenCell.textContent = '—';
  }
  tr.append(labelled(tokenCell, 'Token (masked)'));

  const left = el('td', '—');
  left.dataset.field = 'time-left';
  if (ready.expiresAt && (status === 'ready' || status === 'expired')) left.dataset.expires = ready.expiresAt;
  tr.append(labelled(left, 'Time left to cut-off'));

  const ev = stored?.lastEvent;
  const lastCell = el('td', ev ? `${actionWords(ev.action)} by ${ev.who}` : '—');
  lastCell.dataset.field = 'last-event';
  if (ev) {
    const when = el('div', ago(ev.at), 'small muted');
    when.title = istTime(ev.at);
    lastCell.append(when);
  }
  tr.append(labelled(lastCell, 'Last audit event'));

  const actions = el('td', undefined, 'actions');
  actions.append(
    button('Log in with ShareKhan', () => startLogin(ready.userId), { ariaLabel: `Log in with ShareKhan for ${ready.userId}` }),
    button('Manage', () => openDetail(ready.userId), { className: 'secondary', ariaLabel: `Manage ${ready.userId}: submit, validate, revoke, audit` }),
  );
  tr.append(actions);
  return tr;
}

/** Counts the time-left cells down between refreshes. */
function tick() {
  for (const cell of document.querySelectorAll('td[data-expires]')) {
    cell.textContent = duration(Date.parse(cell.dataset.expires) - Date.now());
  }
}

function renderPremarket(premarket) {
  const schedule = premarket?.schedule;
  $('premarket-schedule').textContent =
    schedule && schedule.timesIst.length > 0
      ? `Runs at ${schedule.timesIst.join(', ')} IST, ${cronDays(schedule.days)}.`
      : 'Not scheduled (ORCHESTRATOR_PREMARKET_CHECK_IST is empty); run it by hand.';
  renderPremarketResult(premarket?.last ?? null);
}

function renderPremarketResult(last) {
  const list = $('premarket-lacking');
  if (!last) {
    $('premarket-last').textContent = 'Not run since this instance started.';
    list.replaceChildren();
    return;
  }
  const when = `Last run ${istTime(last.checkedAt)} (${last.trigger === 'manual' ? 'by hand' : 'on schedule'})`;
  if (last.summary.total === 0) {
    $('premarket-last').textContent = `${when}: it covered no trading user this key can see.`;
    list.replaceChildren();
    return;
  }
  const verdict = last.lacking.length === 0 ? 'every user has a valid token' : `${last.lacking.length} cannot trade`;
  $('premarket-last').textContent = `${when}: ${last.summary.ready} of ${last.summary.total} ready; ${verdict}.`;
  list.replaceChildren(...last.lacking.map((l) => el('li', `${l.userId}: ${l.status} — ${STATUS_ACTIONS[l.status] ?? l.action ?? "see the user's row above"}`)));
}

async function runPremarket() {
  const b = $('premarket-run');
  b.disabled = true;
  try {
    renderPremarketResult(await api('POST', '/orchestrator/premarket-check'));
    showMessage('Pre-market check done.');
  } catch (err) {
    showError(err);
  } finally {
    b.disabled = false;
  }
}

// ---------------------------------------------------------------- per-user actions

async function startLogin(userId) {
  try {
    const { loginUrl } = await api('GET', userPath(userId, 'login-url'));
    // ShareKhan sends the browser back to /sharekhan/callback, which returns it here with the result.
    window.location.assign(loginUrl);
  } catch (err) {
    showError(err);
  }
}

async function openDetail(userId) {
  if (state.selected !== userId) {
    // The last user's trail and messages must not be read as this user's.
    $('audit').tBodies[0].replaceChildren();
    $('audit-note').textContent = '';
    showMessage('');
  }
  state.selected = userId;
  $('detail').hidden = false;
  $('detail-title').textContent = `${userId}: token and audit trail`;
  $('submit-form').reset();
  await loadAudit(userId);
  $('submit-token').focus();
}

async function loadAudit(userId) {
  try {
    const { events, complete } = await api('GET', userPath(userId, 'audit'));
    const rows = events.map((e) => {
      const tr = el('tr');
      const when = el('td', istTime(e.at));
      when.title = ago(e.at);
      const action = el('td', actionWords(e.action));
      action.dataset.action = e.action;
      tr.append(when, action, el('td', e.who), el('td', e.source), el('td', e.fingerprint ?? '—'), el('td', e.detail ?? ''));
      return tr;
    });
    $('audit').tBodies[0].replaceChildren(...rows);
    $('audit-note').textContent =
      (events.length === 0 ? 'No events yet. ' : '') + (complete ? '' : 'Redis is unreachable: only the events this instance holds are shown.');
  } catch (err) {
    showError(err);
  }
}

async function submitToken(event) {
  event.preventDefault();
  const userId = state.selected;
  const form = $('submit-form');
  const body = { accessToken: $('submit-token').value.trim() };
  // The token text never stays on the page, whatever the outcome: gone before anything is awaited.
  $('submit-token').value = '';
  const customerId = $('submit-customer').value.trim();
  const loginId = $('submit-login').value.trim();
  if (customerId) body.customerId = customerId;
  if (loginId) body.loginId = loginId;
  try {
    const saved = await api('PUT', userPath(userId, 'token'), body);
    form.reset();
    showMessage(`Token stored for ${userId} (${saved.mask}, fingerprint ${saved.fingerprint}, in ${saved.storedIn}).`, 'ok');
    await refresh();
  } catch (err) {
    showError(err);
    await reloadAuditAfterFailure(userId);
  }
}

async function validate() {
  const userId = state.selected;
  try {
    const r = await api('POST', userPath(userId, 'token/validate'));
    showMessage(r.valid ? `ShareKhan accepted the token of ${userId}.` : `The token of ${userId} is not valid: ${r.reason}`, r.valid ? 'ok' : 'error');
    await refresh();
  } catch (err) {
    // The API's 404 names its endpoint; here the operator has a form and a button for it.
    if (err instanceof ApiError && err.status === 404) showMessage(`No token is stored for ${userId}: submit today's token or log in with ShareKhan first.`, 'error');
    else showError(err);
    await reloadAuditAfterFailure(userId);
  }
}

function askRevoke() {
  $('revoke-user').textContent = state.selected;
  $('revoke-dialog').showModal();
}

async function revokeClosed() {
  if ($('revoke-dialog').returnValue !== 'revoke') return;
  const userId = state.selected;
  try {
    const r = await api('DELETE', userPath(userId, 'token'));
    showMessage(r.revoked ? `The token of ${userId} is revoked.` : `${userId} had no token to revoke.`, 'ok');
    await refresh();
  } catch (err) {
    showError(err);
    await reloadAuditAfterFailure(userId);
  }
}

/** A refused action is audited too (e.g. a token of another customer): show it while that user is open. */
async function reloadAuditAfterFailure(userId) {
  if (apiKey() && state.selected === userId) await loadAudit(userId);
}

// ---------------------------------------------------------------- login result

/**
 * Fixed sentences for the HTTP status a failed login returns with. The fragment carries codes
 * only: anyone can craft a link to this page, so no text from it is shown as it is.
 */
const LOGIN_FAILURES = {
  400: 'the login state was unknown, expired or already used; start the login again from this page.',
  404: 'this user is not a trading user; nothing was stored.',
  409: "the ShareKhan account signed in with is not this user's; nothing was stored. Sign in as the user's own customer.",
  429: 'too many attempts; wait a minute and start the login again.',
  502: 'ShareKhan answered the token exchange with an error; start the login again.',
  503: 'the ShareKhan login or the token store is unavailable right now; try again shortly.',
  504: 'ShareKhan did not answer the token exchange in time; start the login again.',
};
/** Fixed sentences for the error code (`reason`) of a failed login: one per cause, each with its own fix. */
const LOGIN_REASONS = {
  LOGIN_STATE_UNKNOWN: 'the login link was unknown, expired or already used (it works once, for a few minutes); start the login again from this page.',
  REQUEST_TOKEN_AUTH_FAILED:
    'the request token ShareKhan sent back failed its integrity check. SHAREKHAN_SECRET_KEY is most likely not the secret key ShareKhan issued with SHAREKHAN_API_KEY: correct it and restart the app. Logging in again fails the same way until then. Nothing was stored.',
  REQUEST_TOKEN_MALFORMED: "the request token in ShareKhan's redirect was damaged or cut short on the way; start the login again. Nothing was stored.",
  LOGIN_SECRET_KEY_INVALID: 'SHAREKHAN_SECRET_KEY is not a usable secret key (exactly 32 characters, as ShareKhan issued it): correct it and restart the app. Nothing was stored.',
  SHAREKHAN_NOT_CONFIGURED: 'ShareKhan is not configured on this app: set SHAREKHAN_API_KEY and SHAREKHAN_SECRET_KEY and restart it. Nothing was stored.',
  LOGIN_EXCHANGE_REFUSED: 'ShareKhan refused to exchange the request token (used already, or expired on its side); start the login again.',
  CUSTOMER_MISMATCH: LOGIN_FAILURES[409],
  NOT_A_TRADING_USER: LOGIN_FAILURES[404],
};
const LOGIN_STATUSES = ['active', 'invalid', 'expired', 'revoked'];

/** The callback sends the browser here with `#login=ok|failed&...` (codes and ids only, no secret). */
function showLoginResult() {
  if (!location.hash.startsWith('#login=')) return;
  const p = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, '', location.pathname + location.search);
  const box = $('login-result');
  const user = p.get('user') ?? '';
  const status = p.get('status') ?? '';
  const fingerprint = p.get('fingerprint') ?? '';
  if (p.get('login') === 'ok' && /^[A-Z0-9_]{1,64}$/.test(user) && LOGIN_STATUSES.includes(status) && /^sha256:[0-9a-f]{8,64}$/.test(fingerprint)) {
    box.dataset.kind = 'ok';
    box.textContent = `ShareKhan login for ${user}: token stored (status ${status}, fingerprint ${fingerprint}).`;
  } else {
    const code = /^[1-5]\d\d$/.test(p.get('code') ?? '') ? p.get('code') : null;
    const reason = Object.hasOwn(LOGIN_REASONS, p.get('reason') ?? '') ? p.get('reason') : null;
    box.dataset.kind = 'error';
    box.dataset.reason = reason ?? '';
    const sentence = (reason && LOGIN_REASONS[reason]) ?? LOGIN_FAILURES[code] ?? "nothing was stored; check the user's token status below.";
    box.textContent = `ShareKhan login failed${code ? ` (HTTP ${code})` : ''}: ${sentence}`;
  }
  box.hidden = false;
}

// ---------------------------------------------------------------- start

function start() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut());
  $('refresh').addEventListener('click', () => refresh().catch(showError));
  $('detail-close').addEventListener('click', () => {
    state.selected = null;
    $('detail').hidden = true;
  });
  $('submit-form').addEventListener('submit', submitToken);
  $('detail-login').addEventListener('click', () => startLogin(state.selected));
  $('detail-validate').addEventListener('click', validate);
  $('detail-revoke').addEventListener('click', askRevoke);
  $('revoke-dialog').addEventListener('close', revokeClosed);
  $('premarket-run').addEventListener('click', runPremarket);
  // Only now can a form be submitted: before this, Enter would have nothing but the browser's default.
  $('sign-in-button').disabled = false;
  $('submit-button').disabled = false;
  setInterval(tick, 1000);

  showLoginResult();
  if (apiKey()) {
    refresh()
      .then(startAutoRefresh)
      .catch((err) => (err instanceof ApiError && err.status === 401 ? signOut('The saved API key was refused: sign in again.') : (showSignedIn(true), showError(err))));
  } else {
    showSignedIn(false);
    $('api-key').focus();
  }
}

start();
