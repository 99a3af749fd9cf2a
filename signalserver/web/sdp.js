// Candidates and SDP: the page's ICE rules (call.ScrubCandidate,
// call.ScrubSDP), Opus FEC munging and codec preferences.

import { log, params } from './util.js';

// loopback=1 (tests only): ICE uses 127.0.0.0/8 and ::1 only; every other
// local candidate is dropped before it is sent, every other remote one is
// ignored, in trickle and in SDP alike.
export const LOOPBACK_ONLY = params.get('loopback') === '1';

export function isLoopbackAddress(addr) {
  const a = addr.replace(/^\[|\]$/g, '').toLowerCase();
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a) || a === '::1' || /^::ffff:127\./.test(a);
}

// parseCandidate splits an SDP candidate attribute value.
function parseCandidate(c) {
  const f = c.replace(/^a=/, '').replace(/^candidate:/, '').trim().split(/\s+/);
  if (f.length < 8 || f[6] !== 'typ') return null;
  const out = { address: f[4], port: f[5], type: f[7], raddrIndex: -1, rportIndex: -1, fields: f };
  for (let i = 8; i + 1 < f.length; i++) {
    if (f[i] === 'raddr') out.raddrIndex = i + 1;
    if (f[i] === 'rport') out.rportIndex = i + 1;
  }
  return out;
}

// scrubCandidate applies the page's ICE rules to one local candidate
// (call.ScrubCandidate): null drops it. Under relay only relay candidates
// leave, with raddr/rport hidden as browsers do.
export function scrubCandidate(c, relayOnly) {
  const p = parseCandidate(c);
  if (p === null) return null; // fail closed
  if (LOOPBACK_ONLY && !isLoopbackAddress(p.address)) return null;
  if (relayOnly && p.type !== 'relay') return null;
  if (p.type !== 'host') {
    if (p.raddrIndex > 0) p.fields[p.raddrIndex] = p.fields[p.raddrIndex].includes(':') ? '::' : '0.0.0.0';
    if (p.rportIndex > 0) p.fields[p.rportIndex] = '0';
  }
  return 'candidate:' + p.fields.join(' ');
}

export function remoteCandidateAllowed(c) {
  const p = parseCandidate(c);
  return p !== null && (!LOOPBACK_ONLY || isLoopbackAddress(p.address));
}

// filterSdpCandidates keeps the a=candidate lines keep() accepts and hides
// connection addresses when any candidate was dropped (call.ScrubSDP).
export function filterSdpCandidates(sdp, keep) {
  const lines = sdp.split('\r\n');
  const out = [];
  let dropped = false;
  for (const line of lines) {
    if (line.startsWith('a=candidate:')) {
      const v = keep(line.slice(2));
      if (v === null) {
        dropped = true;
        continue;
      }
      out.push('a=' + v);
      continue;
    }
    out.push(line);
  }
  if (!dropped) return out.join('\r\n');
  return out.map((line) => {
    if (line.startsWith('c=IN IP4 ')) return 'c=IN IP4 0.0.0.0';
    if (line.startsWith('c=IN IP6 ')) return 'c=IN IP6 ::';
    if (line.startsWith('a=rtcp:')) return 'a=rtcp:' + line.slice(7).split(' ')[0];
    return line;
  }).join('\r\n');
}

// ensureOpusFEC adds useinbandfec=1 to every Opus payload type's fmtp
// (creating the line if needed): the peer then sends in-band FEC we can
// recover lost packets from.
export function ensureOpusFEC(sdp) {
  const lines = sdp.split('\r\n');
  const opus = new Set();
  for (const line of lines) {
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    if (m) opus.add(m[1]);
  }
  const seen = new Set();
  const out = [];
  for (const line of lines) {
    const m = /^a=fmtp:(\d+) (.*)$/.exec(line);
    if (m && opus.has(m[1])) {
      seen.add(m[1]);
      out.push(/(^|;)\s*useinbandfec=/.test(m[2]) ? line : line + ';useinbandfec=1');
      continue;
    }
    out.push(line);
  }
  const res = [];
  for (const line of out) {
    res.push(line);
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    if (m && !seen.has(m[1])) res.push('a=fmtp:' + m[1] + ' useinbandfec=1');
  }
  return res.join('\r\n');
}

// hasOpusFEC reports whether every Opus payload type of an SDP asks for
// in-band FEC.
export function hasOpusFEC(sdp) {
  const pts = [...sdp.matchAll(/^a=rtpmap:(\d+) opus\/48000/gim)].map((m) => m[1]);
  return pts.length > 0 && pts.every((pt) => new RegExp('^a=fmtp:' + pt + ' .*useinbandfec=1', 'm').test(sdp));
}

// firstVideoCodec is the codec name of the first payload type of the first
// video m-line (the preferred one).
export function firstVideoCodec(sdp) {
  const m = /^m=video \d+ [A-Z/]+ (\d+)/m.exec(sdp);
  if (!m) return '';
  const r = new RegExp('^a=rtpmap:' + m[1] + ' ([^/\r\n]+)', 'm').exec(sdp);
  return r ? r[1] : '';
}

// preferCodecs puts VP8 (video) or Opus (audio) first on a transceiver;
// the other codecs (and RTX, RED, FEC) stay as fallbacks.
export function preferCodecs(tr) {
  if (typeof tr.setCodecPreferences !== 'function' || tr.stopped) return;
  const kind = tr.receiver.track.kind;
  const caps = RTCRtpReceiver.getCapabilities(kind);
  if (!caps) return;
  const want = kind === 'video' ? 'video/vp8' : 'audio/opus';
  const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === want);
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== want);
  try {
    tr.setCodecPreferences(first.concat(rest));
  } catch (err) {
    log('codec preferences not applied', err);
  }
}

export function isTurnServer(server) {
  const list = Array.isArray(server.urls) ? server.urls : [server.urls];
  return list.some((u) => /^turns?:/.test(u));
}

// A screen share travels as a second video track under these ids
// (app.ShareTrackID, app.ShareStreamID; docs/protocol.md "Screen share"):
// receivers tell it from the camera by its stream id.
export const SHARE_STREAM_ID = 'peercall-screen';
export const SHARE_TRACK_ID = 'screen';

// setShareMsid names the track sent on the m-section mid as the screen
// share: browsers pick their own stream and track ids, so that section's
// a=msid (and any a=ssrc msid) is rewritten to the share's. Only the
// description sent to the peer is changed, never our own.
export function setShareMsid(sdp, mid) {
  if (mid === null || mid === undefined) return sdp;
  const sections = [];
  for (const line of sdp.split('\r\n')) {
    if (line.startsWith('m=') || sections.length === 0) sections.push([]);
    sections[sections.length - 1].push(line);
  }
  const msid = SHARE_STREAM_ID + ' ' + SHARE_TRACK_ID;
  for (const sec of sections) {
    if (!sec[0].startsWith('m=') || !sec.includes('a=mid:' + mid)) continue;
    for (let i = 0; i < sec.length; i++) {
      if (sec[i].startsWith('a=msid:')) sec[i] = 'a=msid:' + msid;
      const m = /^a=ssrc:(\d+) msid:/.exec(sec[i]);
      if (m) sec[i] = 'a=ssrc:' + m[1] + ' msid:' + msid;
    }
  }
  return sections.map((sec) => sec.join('\r\n')).join('\r\n');
}
