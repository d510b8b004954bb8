import {
  type DogStatsDEvent,
  type EventAlertType,
  type EventPriority,
  MetricType,
  type ServiceCheck,
  type ServiceCheckStatus,
} from './types.js';

const NL = 10;
const CR = 13;
const PIPE = 124;
const COLON = 58;
const HASH = 35;
const AT = 64;
const COMMA = 44;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
/** Multiplier of the second, independent hash (MurmurHash2's). */
const M2 = 0x5bd1e995;

/**
 * One metric line, described by offsets into the datagram so the aggregator can build its lookup
 * key without decoding strings. The parser reuses one instance: it is valid only inside the
 * `metric` callback.
 */
export class MetricLine {
  buf: Buffer = Buffer.alloc(0);
  nameStart = 0;
  nameEnd = 0;
  /** Raw value field (the set member, or the `:`-separated numbers). */
  valueStart = 0;
  valueEnd = 0;
  /** Offsets of the type symbol (between the first and second `|`). */
  typeStart = 0;
  typeEnd = 0;
  type: MetricType = MetricType.Count;
  /** Parsed numbers (not for sets); only the first `valueCount` are meaningful. */
  values: number[] = [];
  valueCount = 0;
  sampleRate = 1;
  /** Offsets of the tag list after `#`; tagsStart < 0 when the line has no tags. */
  tagsStart = -1;
  tagsEnd = -1;
  /** Unix seconds from `|T`, 0 when absent. */
  timestamp = 0;
  /**
   * FNV-1a over the name, type symbol and tag bytes (30 bits): the aggregator's lookup key,
   * computed during the scan so a repeated line costs no string at all.
   */
  hash = 0;
  /** A second, independent 32-bit hash of the same bytes. */
  hash2 = 0;
  /** Where the line stopped: its `\n`, `\r`, or the end of the datagram. */
  lineEnd = 0;

  name(): string {
    return this.buf.toString('utf8', this.nameStart, this.nameEnd);
  }

  rawValue(): string {
    return this.buf.toString('utf8', this.valueStart, this.valueEnd);
  }

  rawTags(): string {
    return this.tagsStart < 0 ? '' : this.buf.toString('utf8', this.tagsStart, this.tagsEnd);
  }
}

/** Where the parser delivers what it read. Called synchronously, in datagram order. */
export interface ParseSink {
  metric(line: MetricLine): void;
  event(event: DogStatsDEvent): void;
  serviceCheck(check: ServiceCheck): void;
  /** A rejected line: `reason` is short and constant, `buf[start,end)` the line. */
  invalid(reason: string, buf: Buffer, start: number, end: number): void;
}

/**
 * Parses every line of a datagram (`\n`-separated, optional trailing `\n`, `\r\n` tolerated,
 * empty lines skipped). Never throws on any input: a bad line is reported to `sink.invalid` and
 * the next line is parsed.
 */
export function parseDatagram(buf: Buffer, sink: ParseSink, line: MetricLine, end = buf.length): number {
  let lines = 0;
  let start = 0;
  while (start < end) {
    const c0 = buf[start];
    if (c0 === NL) {
      start++;
      continue;
    }
    if (c0 === CR && (start + 1 === end || buf[start + 1] === NL)) {
      start += 2;
      continue;
    }
    lines++;
    if (c0 !== 95 /* _ */) {
      // Metric lines find their own end while they are scanned (no separate newline search).
      const err = parseMetric(buf, start, end, line);
      if (err === undefined) {
        let next = line.lineEnd;
        if (next < end && buf[next] === CR) next++;
        if (next >= end || buf[next] === NL) {
          sink.metric(line);
          start = next + 1;
          continue;
        }
        // A carriage return inside a line: not a line ending.
        start = skipLine(buf, start, end, 'carriage return inside the line', sink);
        continue;
      }
      start = skipLine(buf, start, end, err, sink);
      continue;
    }
    let nl = buf.indexOf(NL, start);
    if (nl < 0 || nl > end) nl = end;
    const stop = buf[nl - 1] === CR ? nl - 1 : nl;
    parseUnderscoreLine(buf, start, stop, sink, line);
    start = nl + 1;
  }
  return lines;
}

/** Reports the line at `start` as invalid and returns where the next one starts. */
function skipLine(buf: Buffer, start: number, end: number, reason: string, sink: ParseSink): number {
  let nl = buf.indexOf(NL, start);
  if (nl < 0 || nl > end) nl = end;
  const stop = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
  sink.invalid(reason, buf, start, stop);
  return nl + 1;
}

/** Lines starting with `_`: events (`_e{`), service checks (`_sc`), or a metric named `_…`. */
function parseUnderscoreLine(
  buf: Buffer,
  start: number,
  end: number,
  sink: ParseSink,
  line: MetricLine,
): void {
  if (end - start >= 3) {
    const b1 = buf[start + 1];
    const b2 = buf[start + 2];
    if (b1 === 101 /* e */ && b2 === 123 /* { */) {
      const r = parseEvent(buf, start, end);
      if (typeof r === 'string') sink.invalid(r, buf, start, end);
      else sink.event(r);
      return;
    }
    if (b1 === 115 /* s */ && b2 === 99 /* c */) {
      const r = parseServiceCheck(buf, start, end);
      if (typeof r === 'string') sink.invalid(r, buf, start, end);
      else sink.serviceCheck(r);
      return;
    }
  }
  const err = parseMetric(buf, start, end, line);
  if (err === undefined && line.lineEnd === end) sink.metric(line);
  else sink.invalid(err ?? 'carriage return inside the line', buf, start, end);
}

/**
 * Parses the metric line at `start`, which ends at the first `\n` or `\r` before `end` (set in
 * `line.lineEnd`). Fills `line`; returns an error reason or undefined.
 */
export function parseMetric(buf: Buffer, start: number, end: number, line: MetricLine): string | undefined {
  // Split at the first `|`, then the left side at its first `:`.
  let colon = -1;
  let i = start;
  let h = FNV_OFFSET;
  let g = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === COLON) {
      colon = i;
      break;
    }
    if (c === PIPE || c === NL || c === CR) break;
    h = Math.imul(h ^ c, FNV_PRIME);
    g = Math.imul(g + c, M2);
  }
  // The value runs to the first `|`. A plain decimal (`digits[.digits]`, at most 15 digits, the
  // common case) is read on the way, so that it needs no second pass; anything else (a sign, an
  // exponent, packed values) is parsed below by parseNumber.
  let plain = Number.NaN;
  if (colon >= 0) {
    let acc = 0;
    let digits = 0;
    let dot = -1;
    for (i = colon + 1; i < end; i++) {
      const c = buf[i]!;
      const d = c - 48;
      if (d >= 0 && d <= 9) {
        acc = acc * 10 + d;
        digits++;
        continue;
      }
      if (c === PIPE || c === NL || c === CR) break;
      if (c === 46 /* . */ && dot < 0) {
        dot = i;
        continue;
      }
      digits = -1;
      for (; i < end; i++) {
        const b = buf[i];
        if (b === PIPE || b === NL || b === CR) break;
      }
      break;
    }
    // Exact mantissa and power of ten: one correctly rounded division, as parseNumber does.
    if (digits > 0 && digits <= 15) plain = dot < 0 ? acc : acc / POW10[i - dot - 1]!;
  }
  if (i >= end || buf[i] !== PIPE) return 'missing |';
  if (colon < 0) return 'missing : between name and value';
  if (colon === start) return 'empty metric name';
  if (colon + 1 === i) return 'empty metric value';
  // Every line of a datagram shares its buffer: storing it once spares the write barrier a store
  // of a young object into the long-lived line pays each time.
  if (line.buf !== buf) line.buf = buf;
  line.nameStart = start;
  line.nameEnd = colon;
  line.valueStart = colon + 1;
  line.valueEnd = i;
  // Type: up to the next `|` or the end.
  const typeStart = i + 1;
  let typeEnd = typeStart;
  while (typeEnd < end) {
    const c = buf[typeEnd];
    if (c === PIPE || c === NL || c === CR) break;
    typeEnd++;
  }
  const tlen = typeEnd - typeStart;
  const t0 = buf[typeStart];
  let type: MetricType;
  if (tlen === 1) {
    if (t0 === 99 /* c */) type = MetricType.Count;
    else if (t0 === 103 /* g */) type = MetricType.Gauge;
    else if (t0 === 100 /* d */) type = MetricType.Distribution;
    else if (t0 === 104 /* h */) type = MetricType.Histogram;
    else if (t0 === 115 /* s */) type = MetricType.Set;
    else return 'invalid metric type';
  } else if (tlen === 2 && t0 === 109 /* m */ && buf[typeStart + 1] === 115 /* s */) {
    type = MetricType.Timing;
  } else {
    return 'invalid metric type';
  }
  h = Math.imul(h ^ PIPE, FNV_PRIME);
  g = Math.imul(g + PIPE, M2);
  for (let t = typeStart; t < typeEnd; t++) {
    h = Math.imul(h ^ buf[t]!, FNV_PRIME);
    g = Math.imul(g + buf[t]!, M2);
  }
  line.type = type;
  line.typeStart = typeStart;
  line.typeEnd = typeEnd;
  line.sampleRate = 1;
  line.tagsStart = -1;
  line.tagsEnd = -1;
  line.timestamp = 0;
  line.valueCount = 0;

  // Optional fields, in any order; unknown ones are ignored as the agent does.
  let tagsHash = h;
  let tagsHash2 = g;
  let f = typeEnd;
  while (f < end && buf[f] === PIPE) {
    const fs = f + 1;
    let fe = fs;
    const c = buf[fs];
    if (c === HASH) {
      // Only the last tag field counts, as in the agent (each one overwrites the tags).
      let th = Math.imul(h ^ HASH, FNV_PRIME);
      let tg = Math.imul(g + HASH, M2);
      for (fe = fs + 1; fe < end; fe++) {
        const b = buf[fe]!;
        if (b === PIPE || b === NL || b === CR) break;
        th = Math.imul(th ^ b, FNV_PRIME);
        tg = Math.imul(tg + b, M2);
      }
      tagsHash2 = tg;
      line.tagsStart = fs + 1;
      line.tagsEnd = fe;
      tagsHash = th;
      f = fe;
      continue;
    }
    while (fe < end) {
      const b = buf[fe];
      if (b === PIPE || b === NL || b === CR) break;
      fe++;
    }
    if (c === AT) {
      const r = parseNumber(buf, fs + 1, fe);
      if (Number.isNaN(r)) return 'invalid sample rate';
      line.sampleRate = r;
    } else if (c === 84 /* T */) {
      const ts = parseNumber(buf, fs + 1, fe);
      if (!(ts >= 1)) return 'invalid timestamp';
      // A fractional timestamp is rounded to the nearest second, as the extension does.
      line.timestamp = Math.round(ts);
    }
    // `c:` container id, `e:` external data and `card:` cardinality are accepted and unused:
    // origin detection is off, as it is by default in the agent.
    f = fe;
  }

  line.lineEnd = f;
  line.hash = (tagsHash >>> 1) & 0x3fffffff;
  line.hash2 = (tagsHash2 ^ (tagsHash2 >>> 15)) | 0;

  if (type !== MetricType.Set) {
    // Packed values `1:2:3`; empty items are skipped, any bad number rejects the line.
    const values = line.values;
    let n = 0;
    let vs = line.valueStart;
    const ve = line.valueEnd;
    if (!Number.isNaN(plain)) {
      values[0] = plain;
      n = 1;
      vs = ve + 1;
    }
    while (vs <= ve) {
      let e = vs;
      while (e < ve && buf[e] !== COLON) e++;
      if (e > vs) {
        const v = parseNumber(buf, vs, e);
        if (Number.isNaN(v)) return 'invalid metric value';
        values[n++] = v;
      }
      vs = e + 1;
    }
    if (n === 0) return 'empty metric value';
    line.valueCount = n;
  }
  return undefined;
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * A strict decimal float (`[+-]digits[.digits][e[+-]digits]`), NaN when malformed or not finite.
 * Plain integers are computed in place; anything else goes through Number() after validation,
 * so the result is correctly rounded.
 */
export function parseNumber(buf: Buffer, start: number, end: number): number {
  if (start >= end) return Number.NaN;
  let i = start;
  let neg = false;
  const s = buf[i];
  if (s === 45 /* - */) {
    neg = true;
    i++;
  } else if (s === 43 /* + */) {
    i++;
  }
  if (i >= end) return Number.NaN;
  // Fast path: up to 15 digits, no dot or exponent.
  let acc = 0;
  let j = i;
  for (; j < end; j++) {
    const d = buf[j]! - 48;
    if (d < 0 || d > 9) break;
    acc = acc * 10 + d;
  }
  if (j === end && j - i <= 15) return neg ? -acc : acc;
  // Fast path for `int.frac` with at most 15 significant digits: the mantissa and the power of
  // ten are exact doubles, so one division is correctly rounded (Clinger's fast path).
  if (j < end && buf[j] === 46 /* . */ && j - i <= 15) {
    let k = j + 1;
    for (; k < end; k++) {
      const d = buf[k]! - 48;
      if (d < 0 || d > 9) break;
      acc = acc * 10 + d;
    }
    const frac = k - j - 1;
    if (k === end && k - i - 1 <= 15 && (frac > 0 || j > i)) {
      const v = acc / POW10[frac]!;
      return neg ? -v : v;
    }
  }
  // General path: validate the grammar, then let the engine round.
  let digits = j - i;
  if (j < end && buf[j] === 46 /* . */) {
    j++;
    const fracStart = j;
    while (j < end && buf[j]! >= 48 && buf[j]! <= 57) j++;
    digits += j - fracStart;
  }
  if (digits === 0) return Number.NaN;
  if (j < end && (buf[j] === 101 || buf[j] === 69) /* e E */) {
    j++;
    if (j < end && (buf[j] === 43 || buf[j] === 45)) j++;
    const expStart = j;
    while (j < end && buf[j]! >= 48 && buf[j]! <= 57) j++;
    if (j === expStart) return Number.NaN;
  }
  if (j !== end) return Number.NaN;
  const v = Number(buf.toString('latin1', start, end));
  return Number.isFinite(v) ? v : Number.NaN;
}

function unescapeNewlines(s: string): string {
  return s.includes('\\n') ? s.replaceAll('\\n', '\n') : s;
}

function splitTags(raw: string): string[] {
  if (raw === '') return [];
  return raw.split(',').filter((t) => t !== '');
}

const PRIORITIES: Record<string, EventPriority> = { normal: 'normal', low: 'low' };
const ALERT_TYPES: Record<string, EventAlertType> = {
  error: 'error',
  warning: 'warning',
  info: 'info',
  success: 'success',
};

/**
 * A decimal integer as Go's `strconv.Atoi` reads it: an optional sign and at least one digit,
 * nothing else (`+1` is accepted, `1.0` and ` 1` are not). NaN when invalid.
 */
function parseAtoi(buf: Buffer, start: number, end: number): number {
  let i = start;
  if (i < end && (buf[i] === 43 /* + */ || buf[i] === 45) /* - */) i++;
  if (i === end) return Number.NaN;
  for (let j = i; j < end; j++) {
    const b = buf[j]!;
    if (b < 48 || b > 57) return Number.NaN;
  }
  const v = Number(buf.toString('latin1', i, end));
  return buf[start] === 45 ? -v : v;
}

/**
 * `_e{<title bytes>,<text bytes>}:<title>|<text>|…`, read as the agent does: the header is what
 * precedes the first `:`, and title and text are sliced by their byte lengths; the separators
 * between them are not checked.
 */
export function parseEvent(buf: Buffer, start: number, end: number): DogStatsDEvent | string {
  let headerEnd = start;
  while (headerEnd < end && buf[headerEnd] !== COLON) headerEnd++;
  if (headerEnd >= end || headerEnd - start < 7) return 'invalid event header';
  // The lengths sit between `_e{` and the header's last byte.
  const lengthsEnd = headerEnd - 1;
  let comma = start + 3;
  while (comma < lengthsEnd && buf[comma] !== COMMA) comma++;
  if (comma >= lengthsEnd) return 'invalid event header';
  const titleLen = parseAtoi(buf, start + 3, comma);
  const textLen = parseAtoi(buf, comma + 1, lengthsEnd);
  if (!(titleLen >= 0) || !(textLen >= 0)) return 'invalid event lengths';
  if (titleLen === 0) return 'empty event title';
  const titleStart = headerEnd + 1;
  const textStart = titleStart + titleLen + 1;
  const textEnd = textStart + textLen;
  if (textEnd > end) return 'event shorter than its lengths';
  const event: DogStatsDEvent = {
    title: unescapeNewlines(buf.toString('utf8', titleStart, titleStart + titleLen)),
    text: unescapeNewlines(buf.toString('utf8', textStart, textEnd)),
    timestamp: 0,
    host: '',
    aggregationKey: '',
    priority: 'normal',
    sourceTypeName: '',
    alertType: 'info',
    tags: [],
  };
  if (textEnd < end) {
    // The optional fields are what follows the text, split on `|`; whatever byte follows the
    // text belongs to the first (normally empty) field. Invalid optional values keep the event,
    // as the agent does (it only warns).
    for (const field of buf.toString('utf8', textEnd, end).split('|')) {
      if (field.startsWith('d:')) {
        const ts = Number(field.slice(2));
        if (Number.isInteger(ts) && ts > 0) event.timestamp = ts;
      } else if (field.startsWith('h:')) event.host = field.slice(2);
      else if (field.startsWith('k:')) event.aggregationKey = field.slice(2);
      else if (field.startsWith('p:')) event.priority = PRIORITIES[field.slice(2)] ?? 'normal';
      else if (field.startsWith('s:')) event.sourceTypeName = field.slice(2);
      else if (field.startsWith('t:')) event.alertType = ALERT_TYPES[field.slice(2)] ?? 'info';
      else if (field.startsWith('#')) event.tags = splitTags(field.slice(1));
    }
  }
  return event;
}

/** `_sc|<name>|<status>|…` */
export function parseServiceCheck(buf: Buffer, start: number, end: number): ServiceCheck | string {
  if (end - start < 4 || buf[start + 3] !== PIPE) return 'invalid service check';
  const fields = buf.toString('utf8', start + 4, end).split('|');
  if (fields.length < 2) return 'invalid service check';
  const name = fields[0]!;
  if (name === '') return 'empty service check name';
  const st = fields[1];
  if (st !== '0' && st !== '1' && st !== '2' && st !== '3') return 'invalid service check status';
  const check: ServiceCheck = {
    name,
    status: Number(st) as ServiceCheckStatus,
    timestamp: 0,
    host: '',
    message: '',
    tags: [],
  };
  for (let i = 2; i < fields.length; i++) {
    const field = fields[i]!;
    if (field.startsWith('d:')) {
      const ts = Number(field.slice(2));
      if (Number.isInteger(ts) && ts > 0) check.timestamp = ts;
    } else if (field.startsWith('h:')) check.host = field.slice(2);
    else if (field.startsWith('m:')) check.message = field.slice(2);
    else if (field.startsWith('#')) check.tags = splitTags(field.slice(1));
  }
  return check;
}
