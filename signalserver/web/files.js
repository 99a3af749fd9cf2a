// File transfer with each peer (docs/protocol.md "File transfer"): offers,
// answers and acks on the chat channel, the bytes on one `file:ID` data
// channel per transfer. One transfer is one file between this page and one
// peer; sending to a group call offers the file to each peer apart.
//
// The page sends from the accepted offset on and always accepts at offset 0
// (it keeps no partial files); received bytes stay in memory until the
// SHA-256 matches, then become a download link (never opened by itself).

import { log } from './util.js';

export const CHUNK = 16 * 1024; // what every browser takes in one message
export const MAX_RECEIVE = 1024 * 1024 * 1024; // the page's size limit: 1 GiB
export const MAX_NAME_BYTES = 255; // a name on the wire
const HIGH_WATER = 1024 * 1024; // bufferedAmount the sender stays under
const LOW_WATER = 256 * 1024; // bufferedAmountLowThreshold: send more
const READ_BLOCK = 1024 * 1024; // file bytes read at once, sent in CHUNKs
const ACK_EVERY = 1024 * 1024; // the receiver acks at least this often
const RENDER_GAP = 200; // ms between progress renders
const RATE_GAP = 500; // ms between speed samples

const ID_RE = /^[0-9a-f]{32}$/;
const SHA_RE = /^[0-9a-f]{64}$/;
export const DECLINE_REASONS = ['declined', 'too-large', 'bad-offer', 'no-folder', 'busy'];
export const CANCEL_REASONS = ['canceled', 'too-much-data', 'write-error', 'read-error', 'bad-offer'];

const utf8 = new TextEncoder();
const byteLen = (s) => utf8.encode(s).length;

// decodeFileMessage checks one file-* control message (already parsed
// JSON): the message with only its known fields, or {bad, id} when it is
// malformed (id: the transfer id when readable, so a bad offer can be
// declined), or null when it is no file message at all.
export function decodeFileMessage(m) {
  if (m === null || typeof m !== 'object' || typeof m.type !== 'string' || !m.type.startsWith('file-')) return null;
  const id = typeof m.id === 'string' && ID_RE.test(m.id) ? m.id : '';
  const bad = { type: m.type, bad: true, id };
  if (!id) return bad;
  const count = (n) => Number.isSafeInteger(n) && n >= 0;
  switch (m.type) {
    case 'file-offer':
      if (typeof m.name !== 'string' || byteLen(m.name) > MAX_NAME_BYTES || !count(m.size) ||
          typeof m.sha256 !== 'string' || !SHA_RE.test(m.sha256)) return bad;
      return { type: m.type, id, name: m.name, size: m.size, sha256: m.sha256 };
    case 'file-accept':
    case 'file-ack':
      if (!count(m.offset)) return bad;
      return { type: m.type, id, offset: m.offset };
    case 'file-decline':
    case 'file-cancel':
      return { type: m.type, id, reason: typeof m.reason === 'string' ? m.reason : '' };
    case 'file-done':
      if (typeof m.ok !== 'boolean') return bad;
      return { type: m.type, id, ok: m.ok, reason: typeof m.reason === 'string' ? m.reason : '' };
    default:
      return bad;
  }
}

const RESERVED = /^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])$/;

// cutUTF8 is s cut to at most max UTF-8 bytes, never inside a character.
function cutUTF8(s, max) {
  let out = '';
  let n = 0;
  for (const ch of s) {
    const l = byteLen(ch);
    if (n + l > max) break;
    out += ch;
    n += l;
  }
  return out;
}

// cutName shortens name to at most n UTF-8 bytes keeping a short
// extension (app.cutName).
function cutName(name, n) {
  if (byteLen(name) <= n) return name;
  const dot = name.lastIndexOf('.');
  let ext = dot >= 0 ? name.slice(dot) : '';
  if (byteLen(ext) > 16 || byteLen(ext) >= n / 2) ext = '';
  return cutUTF8(name.slice(0, name.length - ext.length), n - byteLen(ext)) + ext;
}

// sanitizeName is the name a received file is saved under, the same as
// app.SanitizeFileName (docs/protocol.md "Names"): the base name, control,
// format and <>:"|?* characters replaced, no "..", no leading dots or
// spaces, no trailing dots or spaces, Windows device names prefixed with
// "_", at most 200 UTF-8 bytes keeping the extension, "file" when nothing
// is left.
export function sanitizeName(name) {
  let s = String(name);
  s = typeof s.toWellFormed === 'function' ? s.toWellFormed() : s.replace(/[\uD800-\uDFFF]/g, '\uFFFD');
  s = s.slice(Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\')) + 1);
  s = s.replace(/[\p{Cc}\p{Cf}<>:"|?*\uFFFD]/gu, '_');
  while (s.includes('..')) s = s.replaceAll('..', '.');
  s = s.replace(/^[. ]+/, '').replace(/[. ]+$/, '');
  if (RESERVED.test(s.split('.')[0].replace(/ +$/, '').toUpperCase())) s = '_' + s;
  s = cutName(s, 200).replace(/[. ]+$/, '');
  return s === '' ? 'file' : s;
}

// wireName is what we call a file we offer: its own name cut to what the
// wire allows, keeping the extension.
function wireName(name) {
  if (byteLen(name) <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && byteLen(name.slice(dot)) <= 32 ? name.slice(dot) : '';
  return cutUTF8(ext ? name.slice(0, dot) : name, MAX_NAME_BYTES - byteLen(ext)) + ext;
}

function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export function hex(buf) {
  return [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export async function sha256Hex(blob) {
  return hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
}

// formatBytes: "512 B", "1.5 MB", "2.0 GB" (powers of 1024, like the desktop).
export function formatBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

// formatETA: "45 s", "3 min 5 s", "1 h 2 min".
export function formatETA(sec) {
  if (!Number.isFinite(sec) || sec < 0) return '';
  const s = Math.ceil(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`;
}

const DECLINE_TEXT = {
  declined: 'declined', 'too-large': 'too large for them', 'bad-offer': 'refused (bad offer)',
  'no-folder': 'they have no download folder', busy: 'they are busy',
};
const CANCEL_TEXT = {
  canceled: 'canceled', 'too-much-data': 'more data than offered', 'write-error': 'could not be written',
  'read-error': 'could not be read', 'bad-offer': 'refused (bad data)',
};

// Transfer is one file between this page and one peer. state: pending
// (offered, waiting for the receiver), active, done, failed, canceled,
// declined.
class Transfer {
  constructor(fields) {
    Object.assign(this, {
      id: '', outgoing: false, peerId: '', peerName: '', name: '', size: 0, sha256: '',
      state: 'pending', bytes: 0, confirmed: 0, rate: 0, error: '', hashOk: null, gotSha256: '',
      downloadName: '', url: '', file: null, chunks: [], dc: null, lastAck: 0, started: 0,
      sample: { t: 0, bytes: 0 },
    }, fields);
  }

  terminal() {
    return this.state === 'done' || this.state === 'failed' || this.state === 'canceled' || this.state === 'declined';
  }

  eta() {
    return this.state === 'active' && this.rate > 0 ? (this.size - this.bytes) / this.rate : -1;
  }
}

// FileTransfers runs every transfer of the page. peers() lists the
// sessions a file can go to; ui holds the elements it draws in (the send
// button, the file input, the drop zone and the element marked while
// files hover over it, the section, its list and the row template);
// onError(text) shows why something could not be sent.
export class FileTransfers {
  constructor({ peers, ui, onError }) {
    this.peers = peers;
    this.ui = ui;
    this.onError = onError || (() => {});
    this.transfers = new Map(); // id -> Transfer, in creation order
    this.rows = new Map(); // id -> the row's elements
    this.renderTimer = 0;
    this.rateTimer = 0;
    this.note = ''; // why the last send did not go out
  }

  bind() {
    const { sendBtn, input, dropZone, dropMark } = this.ui;
    sendBtn.addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      const files = [...input.files];
      input.value = '';
      this.send(files).catch((err) => log('file not offered', err));
    });
    dropZone.addEventListener('dragover', (ev) => {
      if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes('Files')) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
      dropMark.dataset.drop = '';
    });
    dropZone.addEventListener('dragleave', (ev) => {
      if (!ev.relatedTarget) delete dropMark.dataset.drop; // left the page
    });
    dropZone.addEventListener('drop', (ev) => {
      delete dropMark.dataset.drop;
      if (!ev.dataTransfer || ev.dataTransfer.files.length === 0) return;
      ev.preventDefault();
      this.send([...ev.dataTransfer.files]).catch((err) => log('file not offered', err));
    });
  }

  // send offers each file to every connected peer (one transfer each). It
  // returns the new transfer ids; none when nobody is connected.
  async send(files) {
    const live = this.peers().filter((s) => s.state === 'connected' && s.chat && s.chat.readyState === 'open');
    if (live.length === 0) {
      this.note = 'Files can be sent once the call is connected.';
      this.onError(this.note);
      return [];
    }
    this.note = '';
    const ids = [];
    for (const file of files) {
      let sha;
      try {
        sha = await sha256Hex(file);
      } catch (err) {
        log('file not readable', err);
        this.onError('That file could not be read.');
        continue;
      }
      for (const s of live) {
        const t = new Transfer({
          id: randomId(), outgoing: true, peerId: s.remoteId, peerName: s.remoteName, name: wireName(file.name),
          size: file.size, sha256: sha, file,
        });
        this.transfers.set(t.id, t);
        ids.push(t.id);
        if (!s.sendControl({ type: 'file-offer', id: t.id, name: t.name, size: t.size, sha256: t.sha256 })) {
          this.finish(t, 'failed', 'The offer could not be sent.');
        }
      }
    }
    this.render();
    return ids;
  }

  session(t) {
    return this.peers().find((s) => s.remoteId === t.peerId && !s.terminal()) || null;
  }

  control(t, msg) {
    const s = this.session(t);
    return !!s && s.sendControl({ ...msg, id: t.id });
  }

  // onMessage takes one file-* message from the peer of session s.
  onMessage(s, raw) {
    const m = decodeFileMessage(raw);
    if (!m) return;
    if (m.bad) {
      log('malformed file message dropped', m.type);
      if (m.type === 'file-offer' && m.id && !this.transfers.has(m.id)) s.sendControl({ type: 'file-decline', id: m.id, reason: 'bad-offer' });
      return;
    }
    const t = this.transfers.get(m.id);
    if (m.type === 'file-offer') {
      if (t) return; // a repeat, or an id of ours
      this.offered(s, m);
      return;
    }
    // Everything else is about a transfer with this very peer.
    if (!t || t.peerId !== s.remoteId || t.terminal()) return;
    switch (m.type) {
      case 'file-accept':
        if (t.outgoing && t.state === 'pending') this.accepted(s, t, m.offset);
        break;
      case 'file-decline':
        if (t.outgoing && t.state === 'pending') this.finish(t, 'declined', 'Declined: ' + (DECLINE_TEXT[m.reason] || 'declined'));
        break;
      case 'file-ack':
        if (t.outgoing && m.offset <= t.size) t.confirmed = Math.max(t.confirmed, m.offset);
        break;
      case 'file-done':
        if (!t.outgoing) break;
        if (m.ok) {
          t.bytes = t.size;
          t.hashOk = true;
          this.finish(t, 'done', '');
        } else {
          t.hashOk = false;
          this.finish(t, 'failed', m.reason === 'hash-mismatch' ? 'The file arrived damaged (checksum mismatch).' : 'The receiver could not save it.');
        }
        break;
      case 'file-cancel':
        this.finish(t, 'canceled', m.reason === 'canceled' || !CANCEL_TEXT[m.reason]
          ? 'Canceled by ' + (t.peerName || 'them') : 'Canceled: ' + CANCEL_TEXT[m.reason]);
        break;
      default:
        break;
    }
  }

  // offered shows an incoming offer, or declines what the page cannot take.
  offered(s, m) {
    const t = new Transfer({
      id: m.id, outgoing: false, peerId: s.remoteId, peerName: s.remoteName, name: m.name, size: m.size,
      sha256: m.sha256, downloadName: sanitizeName(m.name),
    });
    this.transfers.set(t.id, t);
    if (m.size > MAX_RECEIVE) {
      s.sendControl({ type: 'file-decline', id: t.id, reason: 'too-large' });
      this.finish(t, 'declined', `Too large (the page takes up to ${formatBytes(MAX_RECEIVE)})`);
      return;
    }
    this.render();
  }

  // accept takes an incoming offer: from offset 0, the page keeps no
  // partial files. An empty file is complete at once.
  accept(id) {
    const t = this.transfers.get(id);
    if (!t || t.outgoing || t.state !== 'pending') return;
    if (!this.control(t, { type: 'file-accept', offset: 0 })) {
      this.finish(t, 'failed', 'The peer is gone.');
      return;
    }
    t.state = 'active';
    t.started = performance.now();
    t.sample = { t: t.started, bytes: 0 };
    this.tickRates();
    if (t.size === 0) this.complete(t).catch((err) => log('file check failed', err));
    this.render();
  }

  decline(id) {
    const t = this.transfers.get(id);
    if (!t || t.outgoing || t.state !== 'pending') return;
    this.control(t, { type: 'file-decline', reason: 'declined' });
    this.finish(t, 'declined', 'Declined');
  }

  cancel(id) {
    const t = this.transfers.get(id);
    if (!t || t.terminal()) return;
    this.control(t, { type: 'file-cancel', reason: 'canceled' });
    this.finish(t, 'canceled', 'Canceled');
  }

  // accepted (sender): open the transfer's channel and send from offset.
  accepted(s, t, offset) {
    if (offset > t.size) {
      log('file accept beyond the size dropped');
      return;
    }
    t.state = 'active';
    t.bytes = offset;
    t.confirmed = offset;
    t.started = performance.now();
    t.sample = { t: t.started, bytes: offset };
    this.tickRates();
    const dc = s.openFileChannel(t.id);
    if (!dc) {
      this.control(t, { type: 'file-cancel', reason: 'read-error' });
      this.finish(t, 'failed', 'The transfer channel could not be opened.');
      return;
    }
    t.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    dc.onopen = () => this.pump(t, dc, offset).catch((err) => {
      log('file send failed', err);
      if (t.terminal()) return;
      this.control(t, { type: 'file-cancel', reason: 'read-error' });
      this.finish(t, 'failed', 'The file could not be read.');
    });
    dc.onclose = () => {
      // Closed before the last byte left: the call or the peer ended it.
      if (t.dc === dc && t.state === 'active' && t.bytes < t.size) this.finish(t, 'failed', 'The transfer was cut off.');
    };
    this.render();
  }

  // pump sends the file from offset in CHUNKs, keeping the channel's
  // buffer under HIGH_WATER (flow control by bufferedamountlow), then
  // closes the channel once everything has left.
  async pump(t, dc, offset) {
    let pos = offset;
    while (pos < t.size) {
      const block = new Uint8Array(await t.file.slice(pos, Math.min(pos + READ_BLOCK, t.size)).arrayBuffer());
      if (block.length === 0) throw new Error('file shorter than offered');
      for (let i = 0; i < block.length; i += CHUNK) {
        if (dc.bufferedAmount > HIGH_WATER) await drained(dc, LOW_WATER);
        if (t.terminal() || dc.readyState !== 'open') return;
        const chunk = block.subarray(i, Math.min(i + CHUNK, block.length));
        dc.send(chunk);
        pos += chunk.length;
        t.bytes = Math.max(offset, pos - dc.bufferedAmount); // what has left this side
        this.scheduleRender();
      }
    }
    await drained(dc, 0);
    t.bytes = t.size;
    this.scheduleRender();
    if (dc.readyState === 'open') dc.close();
  }

  // onChannel takes a `file:ID` channel the peer opened: bound to an
  // accepted offer from that peer, else closed at once.
  onChannel(s, dc) {
    const id = dc.label.slice('file:'.length);
    const t = this.transfers.get(id);
    if (!t || t.outgoing || t.peerId !== s.remoteId || t.state !== 'active' || t.dc) {
      log('file channel without an accepted offer closed');
      dc.close();
      return;
    }
    t.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.onmessage = (ev) => this.onData(t, dc, ev.data);
    dc.onclose = () => {
      if (t.dc === dc && t.state === 'active' && t.bytes < t.size) {
        t.chunks = [];
        this.finish(t, 'failed', 'The transfer was cut off; ask for it again.');
      }
    };
  }

  onData(t, dc, data) {
    if (t.state !== 'active' || t.dc !== dc) return;
    if (!(data instanceof ArrayBuffer)) {
      this.control(t, { type: 'file-cancel', reason: 'bad-offer' });
      this.finish(t, 'failed', 'The peer sent something that is not file data.');
      return;
    }
    if (t.bytes + data.byteLength > t.size) {
      this.control(t, { type: 'file-cancel', reason: 'too-much-data' });
      this.finish(t, 'failed', 'The peer sent more than it offered.');
      return;
    }
    t.chunks.push(data);
    t.bytes += data.byteLength;
    if (t.bytes - t.lastAck >= ACK_EVERY || t.bytes === t.size) {
      t.lastAck = t.bytes;
      this.control(t, { type: 'file-ack', offset: t.bytes });
    }
    this.scheduleRender();
    if (t.bytes === t.size) this.complete(t).catch((err) => log('file check failed', err));
  }

  // complete checks the SHA-256 of everything received: a match becomes a
  // download link, a mismatch an error (and the bytes are dropped).
  async complete(t) {
    const blob = new Blob(t.chunks);
    t.chunks = [];
    t.state = 'checking';
    this.render();
    const got = await sha256Hex(blob);
    if (t.state !== 'checking') return; // canceled meanwhile
    t.gotSha256 = got;
    t.hashOk = got === t.sha256;
    if (!t.hashOk) {
      this.control(t, { type: 'file-done', ok: false, reason: 'hash-mismatch' });
      this.finish(t, 'failed', 'The file arrived damaged (checksum mismatch) and was discarded.');
      return;
    }
    t.url = URL.createObjectURL(blob);
    this.control(t, { type: 'file-done', ok: true });
    this.finish(t, 'done', '');
  }

  finish(t, state, error) {
    t.state = state;
    t.error = error || '';
    t.chunks = [];
    t.file = null;
    if (t.dc) {
      const dc = t.dc;
      t.dc = null;
      if (state !== 'done' && dc.readyState !== 'closed') dc.close();
    }
    this.render();
  }

  // peerGone ends the transfers with a peer whose call ended.
  peerGone(peerId) {
    for (const t of this.transfers.values()) {
      if (t.peerId === peerId && !t.terminal()) this.finish(t, 'failed', 'The call with them ended.');
    }
  }

  // clear forgets everything (hang up), download links included.
  clear() {
    for (const t of this.transfers.values()) {
      if (!t.terminal()) this.finish(t, 'canceled', 'Canceled');
      if (t.url) URL.revokeObjectURL(t.url);
    }
    this.transfers.clear();
    for (const r of this.rows.values()) r.li.remove();
    this.rows.clear();
    this.render();
  }

  // tickRates samples the speed of active transfers while any runs.
  tickRates() {
    if (this.rateTimer) return;
    this.rateTimer = setInterval(() => {
      const now = performance.now();
      let any = false;
      for (const t of this.transfers.values()) {
        if (t.state !== 'active') continue;
        any = true;
        const dt = (now - t.sample.t) / 1000;
        if (dt <= 0) continue;
        const r = (t.bytes - t.sample.bytes) / dt;
        t.rate = t.rate === 0 ? r : 0.6 * t.rate + 0.4 * r;
        t.sample = { t: now, bytes: t.bytes };
      }
      if (!any) {
        clearInterval(this.rateTimer);
        this.rateTimer = 0;
      }
      this.render();
    }, RATE_GAP);
  }

  scheduleRender() {
    if (this.renderTimer) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = 0;
      this.render();
    }, RENDER_GAP);
  }

  // snapshot is what tests and window.peercall.view see.
  snapshot() {
    return [...this.transfers.values()].map((t) => ({
      id: t.id, outgoing: t.outgoing, peerId: t.peerId, peerName: t.peerName, name: t.name, size: t.size, bytes: t.bytes,
      confirmed: t.confirmed, state: t.state, sha256: t.sha256, gotSha256: t.gotSha256, hashOk: t.hashOk, error: t.error,
      downloadName: t.downloadName, download: t.url !== '', rate: t.rate,
    }));
  }

  // render draws one row per transfer; peer data only ever as textContent.
  render() {
    const { list, template } = this.ui;
    for (const t of this.transfers.values()) {
      let r = this.rows.get(t.id);
      if (!r) {
        const li = template.content.firstElementChild.cloneNode(true);
        li.dataset.transfer = t.id;
        r = {
          li,
          dir: li.querySelector('.file-dir'),
          name: li.querySelector('.file-name'),
          size: li.querySelector('.file-size'),
          bar: li.querySelector('progress'),
          info: li.querySelector('.file-info'),
          accept: li.querySelector('.file-accept'),
          decline: li.querySelector('.file-decline'),
          cancel: li.querySelector('.file-cancel'),
          save: li.querySelector('.file-save'),
        };
        r.accept.addEventListener('click', () => this.accept(t.id));
        r.decline.addEventListener('click', () => this.decline(t.id));
        r.cancel.addEventListener('click', () => this.cancel(t.id));
        r.dir.textContent = t.outgoing ? 'To ' + (t.peerName || 'someone') + ':' : 'From ' + (t.peerName || 'someone') + ':';
        r.name.textContent = t.outgoing ? t.name : t.downloadName;
        r.size.textContent = formatBytes(t.size);
        this.rows.set(t.id, r);
        list.append(r.li);
      }
      r.li.dataset.state = t.state;
      const offer = !t.outgoing && t.state === 'pending';
      r.accept.hidden = !offer;
      r.decline.hidden = !offer;
      r.cancel.hidden = t.terminal() || offer;
      r.bar.hidden = t.state !== 'active' && t.state !== 'checking';
      r.bar.value = t.size > 0 ? t.bytes / t.size : 1;
      r.info.textContent = infoText(t);
      r.info.classList.toggle('file-error', t.state === 'failed');
      if (t.url && r.save.hidden) {
        r.save.href = t.url;
        r.save.download = t.downloadName;
        r.save.textContent = 'Save ' + t.downloadName;
        r.save.hidden = false;
      }
    }
    this.ui.section.hidden = this.transfers.size === 0;
  }
}

function infoText(t) {
  switch (t.state) {
    case 'pending':
      return t.outgoing ? 'Waiting for them to accept…' : 'wants to send you this file';
    case 'active': {
      const pct = t.size > 0 ? Math.floor((100 * t.bytes) / t.size) : 100;
      const eta = formatETA(t.eta());
      return `${pct} % · ${formatBytes(Math.round(t.rate))}/s` + (eta ? ` · ${eta} left` : '');
    }
    case 'checking':
      return 'Checking…';
    case 'done':
      return t.outgoing ? 'Sent' : 'Received, checksum verified';
    default:
      return t.error;
  }
}

// drained resolves once dc's buffer is at most low bytes (or the channel
// closes).
function drained(dc, low) {
  if (dc.bufferedAmount <= low || dc.readyState !== 'open') return Promise.resolve();
  return new Promise((resolve) => {
    const prev = dc.bufferedAmountLowThreshold;
    dc.bufferedAmountLowThreshold = low;
    const done = () => {
      dc.removeEventListener('bufferedamountlow', done);
      dc.removeEventListener('close', done);
      dc.bufferedAmountLowThreshold = prev;
      resolve();
    };
    dc.addEventListener('bufferedamountlow', done);
    dc.addEventListener('close', done);
  });
}
