// Write oktawatch detections in JavaScript.
//
// A thin layer over the imports and exports componentize-js generates from
// guest-sdk/wit/detection.wit, with the vocabulary of the Rust SDK:
//
//   import { detection, Alert, key, prefilter, where, state, hours } from './oktawatch.js';
//
//   export const { describe, configure, onEvent } = detection({
//     id: 'acme-api-token-burst',
//     title: 'Several API tokens created by one admin',
//     severity: 'high',
//     eventTypes: ['system.api_token.create'],
//     prefilters: [prefilter(where('outcome.result').equals('SUCCESS'))],
//     config: [key.integer('min_tokens', 3, 'tokens within an hour that alert')],
//     setup(config) { return { minTokens: config.get('min_tokens') }; },   // throw to reject the load
//     onEvent(event, alerts, settings) {
//       const admin = event.actor.alternateId;
//       if (!admin) return;
//       const n = state.count(`tokens:${admin}`, hours(1));
//       if (n >= settings.minTokens) alerts.push(new Alert(`${n} API tokens created by ${admin}`).dedup(admin).field('tokens', n));
//     },
//   });
//
// The same source runs against contract 0.2 (the host checks the config,
// evaluates the prefilters and hands over the event's head) and 0.1 (this
// module parses the config section and evaluates the prefilters itself):
// the build picks the contract (see contract.js).

import { hostState, hostLog } from './contract.js';

// ---------------------------------------------------------------- time

/** Durations in milliseconds, the unit of every window and TTL. */
export const seconds = (n) => n * 1000;
export const minutes = (n) => n * 60000;
export const hours = (n) => n * 3600000;
export const days = (n) => n * 86400000;

const u64 = (ms) => BigInt(Math.max(0, Math.floor(Number(ms))));

// ---------------------------------------------------------------- log

/** Lines in the host's log, tagged with the detection id (rate-limited by the host). */
export const log = {
  debug: (m) => hostLog.log('debug', String(m)),
  info: (m) => hostLog.log('info', String(m)),
  warn: (m) => hostLog.log('warn', String(m)),
  error: (m) => hostLog.log('error', String(m)),
};

// ---------------------------------------------------------------- state

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Per-detection state kept by the host on the event clock: "now" is the
 * current event's `published` time, so a replay gives the same answers.
 * Windows and TTLs are milliseconds (`minutes(15)`, `hours(1)`, `days(30)`).
 */
export const state = {
  /** Records one occurrence of `key` now; returns how many fell within `windowMs`. */
  count: (key, windowMs) => hostState.count(key, u64(windowMs)),
  /** How many fell within `windowMs`, without recording one. */
  peekCount: (key, windowMs) => hostState.peekCount(key, u64(windowMs)),
  /** Records `member` under `key` now; returns the distinct members within `windowMs`. */
  distinct: (key, member, windowMs) => hostState.distinct(key, String(member), u64(windowMs)),
  /** The distinct members within `windowMs`, without recording one. */
  distinctMembers: (key, windowMs) => hostState.peekDistinct(key, u64(windowMs)),
  /** Remembers a string under `key` for `ttlMs` (0 = until forgotten). */
  remember: (key, value, ttlMs = 0) => hostState.set(key, encoder.encode(String(value)), u64(ttlMs)),
  /** The string remembered under `key`, unless it expired (undefined). */
  recall(key) {
    const raw = hostState.get(key);
    if (raw === undefined || raw === null) return undefined;
    try {
      return decoder.decode(raw);
    } catch {
      return undefined;
    }
  },
  forget: (key) => hostState.remove(key),
  getBytes: (key) => hostState.get(key) ?? undefined,
  setBytes: (key, bytes, ttlMs = 0) => hostState.set(key, Uint8Array.from(bytes), u64(ttlMs)),
  /** Stores `value` as the last seen under `key`; returns `[previous, publishedMs]` or undefined. */
  lastSeen(key, value, ttlMs = 0) {
    const prev = hostState.lastSeen(key, String(value), u64(ttlMs));
    return prev === undefined || prev === null ? undefined : [prev[0], Number(prev[1])];
  },
  /** True the first time it is called for `key` within `windowMs`; false until the window has passed. */
  oncePer(key, windowMs) {
    if (typeof hostState.oncePer === 'function') return hostState.oncePer(key, u64(windowMs));
    const k = `once:${key}`;
    if (hostState.get(k) !== undefined) return false;
    hostState.set(k, Uint8Array.of(49), u64(windowMs));
    return true;
  },
  /** "A, then B within T": `mark` when A happens, `marked` when B does. */
  mark: (key, withinMs) => hostState.set(`seq:${key}`, Uint8Array.of(49), u64(withinMs)),
  marked: (key) => hostState.get(`seq:${key}`) !== undefined,
  unmark: (key) => hostState.remove(`seq:${key}`),
};

// ---------------------------------------------------------------- config

const KINDS = { boolean: 'boolean', integer: 'integer', float: 'float', text: 'text', textList: 'text-list' };

function problemOf(kind, v) {
  const ok = {
    boolean: typeof v === 'boolean',
    integer: (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint',
    float: typeof v === 'number',
    text: typeof v === 'string',
    'text-list': Array.isArray(v) && v.every((s) => typeof s === 'string'),
  }[kind];
  return ok ? '' : `is ${Array.isArray(v) ? 'an array' : typeof v}, not ${kind.replace('-', ' ')}`;
}

/** A declared config key: `key.integer('threshold', 5, 'failures that alert')`. */
export const key = Object.fromEntries(
  Object.entries(KINDS).map(([fn, kind]) => [
    fn,
    (name, dflt, doc = '') => {
      const p = problemOf(kind, dflt);
      if (p) throw new Error(`config key ${name}: the default ${p}`);
      return { name, kind, default: kind === 'text-list' ? [...dflt] : dflt, doc };
    },
  ]),
);

// The Rust SDK's names (`Info::config_int`, `config_bool`, `config_list`).
key.int = key.integer;
key.bool = key.boolean;
key.list = key.textList;

/** A config error: the section does not fit the declared keys, or a key is not declared. */
export class ConfigError extends Error {}

/** The detection's settings: a value for every declared key. */
export class Config {
  constructor(keys, values) {
    this._kinds = new Map(keys.map((k) => [k.name, k.kind]));
    this._values = values;
  }
  /** The value of a declared key (the section's, else the default); throws on an undeclared key. */
  get(name) {
    if (!this._kinds.has(name)) {
      throw new ConfigError(`config key '${name}' is not declared (declared: ${[...this._kinds.keys()].sort().join(', ') || 'none'})`);
    }
    return this._values.get(name);
  }
  has(name) {
    return this._kinds.has(name);
  }
  static defaults(keys) {
    return new Config(keys, new Map(keys.map((k) => [k.name, copy(k.default)])));
  }
  /** 0.2: the host's checked `[name, config-value]` list. */
  static fromHost(keys, given) {
    const values = new Map(keys.map((k) => [k.name, copy(k.default)]));
    for (const [name, v] of given) values.set(name, typeof v.val === 'bigint' ? Number(v.val) : v.val);
    return new Config(keys, values);
  }
  /** 0.1: the section as flat TOML text, checked against the keys; every problem at once. */
  static fromToml(keys, text) {
    const values = new Map(keys.map((k) => [k.name, copy(k.default)]));
    const kinds = new Map(keys.map((k) => [k.name, k.kind]));
    const problems = [];
    for (const [name, value] of parseFlatToml(text)) {
      const kind = kinds.get(name);
      if (kind === undefined) {
        problems.push(`unknown key '${name}' (declared: ${[...kinds.keys()].sort().join(', ') || 'none'})`);
        continue;
      }
      const p = problemOf(kind, value);
      if (p) problems.push(`${name} ${p}`);
      else values.set(name, value);
    }
    if (problems.length) throw new ConfigError(problems.join('; '));
    return new Config(keys, values);
  }
}

const copy = (v) => (Array.isArray(v) ? [...v] : v);

/** `key = value` lines: integers, floats, booleans, strings and arrays of strings. */
function parseFlatToml(text) {
  const out = [];
  const lines = String(text).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new ConfigError(`config line ${i + 1}: expected \`key = value\``);
    const name = line.slice(0, eq).trim().replace(/^"(.*)"$/, '$1');
    if (!name) throw new ConfigError(`config line ${i + 1}: empty key`);
    out.push([name, parseValue(line.slice(eq + 1).trim(), i + 1)]);
  }
  return out;
}

function parseValue(v, line) {
  const bad = () => new ConfigError(`config line ${line}: cannot read the value \`${v}\``);
  if (v.startsWith('[')) {
    if (!v.endsWith(']')) throw bad();
    const inner = v.slice(1, -1).trim();
    if (inner === '') return [];
    // Strings may hold commas: split on the commas between quoted items.
    const items = inner.match(/"(?:[^"\\]|\\.)*"|'[^']*'|[^,\s][^,]*/g) ?? [];
    return items.map((s) => parseValue(s.trim(), line));
  }
  const hash = v.search(/\s#/);
  if (hash >= 0 && !v.startsWith('"') && !v.startsWith("'")) v = v.slice(0, hash).trim();
  if (v.startsWith('"')) {
    const end = v.lastIndexOf('"');
    if (end <= 0) throw bad();
    try {
      return JSON.parse(v.slice(0, end + 1));
    } catch {
      throw bad();
    }
  }
  if (v.startsWith("'")) {
    const end = v.lastIndexOf("'");
    if (end <= 0) throw bad();
    return v.slice(1, end);
  }
  if (v === 'true' || v === 'false') return v === 'true';
  const n = v.replaceAll('_', '');
  if (/^[+-]?\d+$/.test(n)) return Number(n);
  if (/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|inf|nan)$/.test(n)) return Number(n);
  throw bad();
}

// ---------------------------------------------------------------- prefilters

class Condition {
  constructor(path, test, arg, negate = false) {
    Object.assign(this, { path, test, arg, negate });
  }
  /** The same condition, holding when the test fails. */
  not() {
    return new Condition(this.path, this.test, this.arg, !this.negate);
  }
  holds(value) {
    const text = value && value.tag === 'text' ? value.val : undefined;
    let ok;
    switch (this.test) {
      case 'equals': ok = text !== undefined && text === this.arg; break;
      case 'one-of': ok = text !== undefined && this.arg.includes(text); break;
      case 'prefix': ok = text !== undefined && text.startsWith(this.arg); break;
      case 'exists': ok = value !== undefined && value !== null && value.tag !== 'null'; break;
      default: ok = value === undefined || value === null || value.tag === 'null';
    }
    return ok !== this.negate;
  }
  toWit() {
    const test = this.arg === undefined ? { tag: this.test } : { tag: this.test, val: this.arg };
    return { path: this.path, test, negate: this.negate };
  }
}

/** Starts a condition on the field at a dotted path: `where('outcome.result').equals('SUCCESS')`. */
export function where(path) {
  return {
    equals: (s) => new Condition(path, 'equals', String(s)),
    oneOf: (list) => new Condition(path, 'one-of', list.map(String)),
    prefix: (s) => new Condition(path, 'prefix', String(s)),
    exists: () => new Condition(path, 'exists'),
    absent: () => new Condition(path, 'absent'),
  };
}

/** All of its conditions must hold; a detection's prefilters are OR'ed. */
export function prefilter(...conditions) {
  return { all: conditions };
}

function passes(prefilters, raw) {
  if (prefilters.length === 0) return true;
  const paths = [...new Set(prefilters.flatMap((p) => p.all.map((c) => c.path)))];
  const values = raw.getMany(paths);
  const by = new Map(paths.map((p, i) => [p, values[i]]));
  return prefilters.some((p) => p.all.every((c) => c.holds(by.get(c.path))));
}

// ---------------------------------------------------------------- event

const PLACEHOLDERS = new Set(['', 'null', 'unknown']);
/** Okta writes "null", "" and "unknown" where a value is missing. */
export const isPlaceholder = (s) => PLACEHOLDERS.has(String(s).toLowerCase());
const text = (s) => (s === undefined || s === null || isPlaceholder(s) ? undefined : s);

function jsValue(v) {
  if (v === undefined || v === null || v.tag === 'null') return undefined;
  if (v.tag === 'json') return JSON.parse(v.val);
  if (v.tag === 'integer') return Number(v.val);
  return v.val;
}
function numberOf(v) {
  if (!v) return undefined;
  if (v.tag === 'integer' || v.tag === 'float') return Number(v.val);
  if (v.tag === 'text' && v.val.trim() !== '' && !Number.isNaN(Number(v.val))) return Number(v.val);
  return undefined;
}
function boolOf(v) {
  if (!v) return undefined;
  if (v.tag === 'boolean') return v.val;
  if (v.tag === 'text' && /^(true|false)$/i.test(v.val)) return v.val.toLowerCase() === 'true';
  return undefined;
}
const strOf = (v) => (v && v.tag === 'text' ? text(v.val) : undefined);

/** One event, lent by the host for the duration of `onEvent`. */
export class Event {
  constructor(raw, head) {
    this._raw = raw;
    this._head = head;
  }
  _h() {
    if (!this._head) {
      const [outcomeResult, actorAlternateId, clientIp] = this._raw.getStrs(['outcome.result', 'actor.alternateId', 'client.ipAddress']);
      this._head = { eventType: this._raw.eventType(), publishedMs: this._raw.publishedMs(), outcomeResult, actorAlternateId, clientIp };
    }
    return this._head;
  }
  /** `eventType`, e.g. `user.session.start`. */
  get type() { return this._h().eventType; }
  /** `published` in ms since the Unix epoch: the event clock. */
  get publishedMs() { return Number(this._h().publishedMs); }
  /** `uuid`, or a stable hash of the content when the event has no real uuid. */
  get uuid() { return this._raw.uuid(); }
  /** True when `eventType` is `pattern`, or starts with `prefix.` for `prefix.*`. */
  is(pattern) { return pattern.endsWith('*') ? this.type.startsWith(pattern.slice(0, -1)) : this.type === pattern; }
  /** Any value by dotted path: undefined, boolean, number, string, or the parsed object/array. */
  get(path) { return jsValue(this._raw.get(path)); }
  /** A string by dotted path; undefined when missing, null or not a string. */
  str(path) { return this._raw.getStr(path) ?? undefined; }
  /** A string, with Okta's placeholders ("", "null", "unknown") as undefined. */
  text(path) { return text(this._raw.getStr(path)); }
  bool(path) { return boolOf(this._raw.get(path)); }
  number(path) { return numberOf(this._raw.get(path)); }
  len(path) { return this._raw.len(path) ?? undefined; }
  /** Several values in one host call, in the order asked. */
  getMany(paths) { return this._raw.getMany(paths).map(jsValue); }
  /** Several strings in one host call (placeholders kept). */
  strs(paths) { return this._raw.getStrs(paths).map((s) => s ?? undefined); }
  /** Several strings in one host call, placeholders as undefined. */
  texts(paths) { return this._raw.getStrs(paths).map(text); }
  /** The whole event as JSON text (costly; prefer the accessors). */
  toJson() { return this._raw.toJson(); }

  get actor() {
    const e = this;
    return {
      /** usually the login (email); from the head */
      get alternateId() { return text(e._h().actorAlternateId); },
      get id() { return e.text('actor.id'); },
      get displayName() { return e.text('actor.displayName'); },
      get type() { return e.text('actor.type'); },
    };
  }
  get client() {
    const e = this;
    return {
      /** `client.ipAddress`; from the head */
      get ip() { return text(e._h().clientIp); },
      get userAgent() { return e.text('client.userAgent.rawUserAgent'); },
      get os() { return e.text('client.userAgent.os'); },
      get browser() { return e.text('client.userAgent.browser'); },
      get device() { return e.text('client.device'); },
      get zone() { return e.text('client.zone'); },
      /** `client.geographicalContext`, in one host call. */
      geo() {
        const f = ['city', 'state', 'country', 'postalCode', 'geolocation.lat', 'geolocation.lon'];
        const [city, st, country, postal, lat, lon] = e._raw.getMany(f.map((x) => `client.geographicalContext.${x}`));
        const postalCode = postal && postal.tag === 'integer' ? String(postal.val) : strOf(postal);
        return { city: strOf(city), state: strOf(st), country: strOf(country), postalCode, lat: numberOf(lat), lon: numberOf(lon) };
      },
    };
  }
  get outcome() {
    const e = this;
    const result = text(e._h().outcomeResult);
    return {
      result,
      get reason() { return e.text('outcome.reason'); },
      is: (r) => result === r,
      success: result === 'SUCCESS' || result === 'ALLOW',
      failure: result === 'FAILURE' || result === 'DENY',
    };
  }
  /** `target[]` (up to 64): {id, type, alternateId, displayName}; two host calls. */
  targets() {
    const n = Math.min(this.len('target') ?? 0, 64);
    if (n === 0) return [];
    const fields = ['id', 'type', 'alternateId', 'displayName'];
    const paths = [];
    for (let i = 0; i < n; i++) for (const f of fields) paths.push(`target[${i}].${f}`);
    const v = this.texts(paths);
    return Array.from({ length: n }, (_, i) => ({ id: v[4 * i], type: v[4 * i + 1], alternateId: v[4 * i + 2], displayName: v[4 * i + 3] }));
  }
  /** The first target of the given `type` (`User`, `AppInstance`, ...). */
  targetOfType(kind) { return this.targets().find((t) => t.type === kind); }
  /** `securityContext`, in one host call. */
  securityContext() {
    const [asNumber, asOrg, isp, domain, isProxy] = this._raw.getMany(['asNumber', 'asOrg', 'isp', 'domain', 'isProxy'].map((f) => `securityContext.${f}`));
    return { asNumber: numberOf(asNumber), asOrg: strOf(asOrg), isp: strOf(isp), domain: strOf(domain), isProxy: boolOf(isProxy) };
  }
  /** `debugContext.debugData.<key>` as a string. */
  debugData(k) { return this.text(`debugContext.debugData.${k}`); }
  sessionId() { return this.text('authenticationContext.externalSessionId'); }
  rootSessionId() { return this.text('authenticationContext.rootSessionId') ?? this.debugData('rootSessionId'); }
  transactionId() { return this.text('transaction.id'); }
  displayMessage() { return this.text('displayMessage'); }
  oktaSeverity() { return this.text('severity'); }
}

// ---------------------------------------------------------------- alerts

/** How bad it is: Wazuh levels info 3, low 5, medium 8, high 12, critical 14. */
export const Severity = Object.freeze({ INFO: 'info', LOW: 'low', MEDIUM: 'medium', HIGH: 'high', CRITICAL: 'critical' });
const SEVERITIES = new Set(Object.values(Severity));
function severityOf(s) {
  const v = String(s).toLowerCase();
  if (!SEVERITIES.has(v)) throw new Error(`severity '${s}' is not one of ${[...SEVERITIES].join(', ')}`);
  return v;
}

/** Alert field text, as the Rust SDK writes it (undefined and null are left out). */
function fieldText(v) {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** An alert under construction: `new Alert(title).severity('high').dedup(key).field(name, value)`. */
export class Alert {
  constructor(title) {
    this.title = String(title);
    this._severity = undefined;
    this._dedup = undefined;
    this._context = [];
    this._mitre = [];
  }
  /** Overrides the detection's default severity. */
  severity(s) { this._severity = severityOf(s); return this; }
  /** Alerts with the same key are sent once per suppression window, with a count. */
  dedup(k) { this._dedup = String(k); return this; }
  /** A name/value shown with the alert; undefined and null values are left out. */
  field(name, value) {
    const t = fieldText(value);
    if (t !== undefined) this._context.push([String(name), t]);
    return this;
  }
  /** Overrides the detection's MITRE ids for this alert. */
  mitre(ids) { this._mitre = ids.map(String); return this; }
  toWit() {
    return { title: this.title, severity: this._severity, dedupKey: this._dedup, context: this._context, mitre: this._mitre };
  }
}

// ---------------------------------------------------------------- the detection

/**
 * A detection from its description: `{id, title, version?, severity?, mitre?,
 * description?, eventTypes?, prefilters?, config?, setup?(config), onEvent(event, alerts, settings)}`.
 * Returns `{describe, configure, onEvent}`, the component's exports.
 */
export function detection(spec) {
  if (typeof spec.onEvent !== 'function') throw new Error('a detection needs onEvent(event, alerts, settings)');
  const keys = spec.config ?? [];
  const prefilters = spec.prefilters ?? [];
  const setup = spec.setup ?? ((config) => config);
  let settings;
  let started = false;
  const start = (config) => {
    settings = setup(config);
    started = true;
  };
  return {
    describe() {
      return {
        id: spec.id,
        title: spec.title,
        version: spec.version ?? '1.0.0',
        severity: severityOf(spec.severity ?? 'medium'),
        mitre: (spec.mitre ?? []).map(String),
        description: spec.description ?? '',
        eventTypes: (spec.eventTypes ?? []).map(String),
        prefilters: prefilters.map((p) => ({ all: p.all.map((c) => c.toWit()) })),
        config: keys.map((k) => ({ name: k.name, kind: k.kind, default: configValue(k.kind, k.default), doc: k.doc })),
      };
    },
    configure(given) {
      try {
        start(typeof given === 'string' ? Config.fromToml(keys, given) : Config.fromHost(keys, given));
      } catch (e) {
        // A thrown value is the `err` of configure's result: the load is refused with it.
        throw String(e && e.message !== undefined ? e.message : e);
      }
    },
    onEvent(raw, head) {
      if (head === undefined && !passes(prefilters, raw)) return [];
      if (!started) start(Config.defaults(keys));
      const alerts = [];
      const returned = spec.onEvent(new Event(raw, head), alerts, settings);
      if (Array.isArray(returned)) alerts.push(...returned);
      return alerts.map((a) => a.toWit());
    },
  };
}

function configValue(kind, v) {
  if (kind === 'integer') return { tag: kind, val: BigInt(v) };
  if (kind === 'text-list') return { tag: kind, val: [...v] };
  return { tag: kind, val: v };
}
