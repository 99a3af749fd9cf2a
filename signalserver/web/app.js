// Peercall browser client: joins a room on this signaling server and calls
// the other peer with the same negotiation, ICE rules and short
// authentication string as the desktop app (docs/browser.md,
// docs/ice-policy.md, call/session.go). Vanilla JS, no dependencies.
'use strict';

(() => {
  // ---- short authentication string (docs/ice-policy.md, version 1) ----

  // SAS_WORDS must equal call/sas_words.go (signalserver/web_test.go checks).
  // sas-words:begin
  const SAS_WORDS = [
	'acorn', 'actor', 'adobe', 'agent', 'alarm', 'album', 'alley', 'amber', 'anchor', 'angel',
	'ankle', 'apple', 'apron', 'arena', 'armor', 'arrow', 'aspen', 'atlas', 'attic', 'autumn',
	'badge', 'bagel', 'baker', 'bamboo', 'banjo', 'barn', 'basin', 'basket', 'beach', 'beacon',
	'beard', 'beaver', 'berry', 'bison', 'blade', 'blanket', 'blossom', 'boat', 'bonnet', 'bottle',
	'boulder', 'bracket', 'branch', 'bread', 'breeze', 'brick', 'bridge', 'brook', 'broom', 'bucket',
	'buffalo', 'bugle', 'butter', 'button', 'cabin', 'cactus', 'camel', 'candle', 'canoe', 'canyon',
	'carpet', 'carrot', 'castle', 'cedar', 'cello', 'chalk', 'cherry', 'chess', 'chimney', 'cider',
	'circus', 'clock', 'cloud', 'clover', 'cobra', 'cocoa', 'comet', 'copper', 'coral', 'cotton',
	'cougar', 'crane', 'crayon', 'cricket', 'crown', 'crystal', 'curtain', 'daisy', 'dancer', 'delta',
	'desert', 'diamond', 'dinner', 'dolphin', 'donkey', 'dragon', 'drum', 'eagle', 'easel', 'echo',
	'elbow', 'ember', 'engine', 'falcon', 'feather', 'fence', 'fern', 'ferry', 'fiddle', 'flame',
	'flute', 'forest', 'fossil', 'fox', 'garden', 'garlic', 'geyser', 'ginger', 'glacier', 'globe',
	'goose', 'grape', 'gravel', 'guitar', 'hammer', 'harbor', 'harp', 'hazel', 'helmet', 'heron',
	'hollow', 'honey', 'horizon', 'hornet', 'island', 'ivory', 'jacket', 'jaguar', 'jasmine', 'jelly',
	'jewel', 'jungle', 'kayak', 'kettle', 'kiwi', 'koala', 'ladder', 'lagoon', 'lantern', 'lemon',
	'leopard', 'lily', 'lizard', 'llama', 'lobster', 'locket', 'lotus', 'magnet', 'mango', 'maple',
	'marble', 'meadow', 'melon', 'meteor', 'mirror', 'mitten', 'monkey', 'moose', 'mosaic', 'muffin',
	'mustard', 'needle', 'nest', 'nickel', 'noodle', 'nutmeg', 'oasis', 'ocean', 'olive', 'onion',
	'orbit', 'orchid', 'otter', 'oyster', 'paddle', 'palace', 'panda', 'panther', 'parrot', 'peach',
	'pebble', 'pelican', 'pepper', 'piano', 'pigeon', 'pillow', 'pine', 'planet', 'plum', 'pocket',
	'pony', 'poppy', 'potato', 'prism', 'puddle', 'pumpkin', 'puzzle', 'quail', 'quartz', 'quilt',
	'rabbit', 'radar', 'radish', 'raven', 'ribbon', 'river', 'robin', 'rocket', 'saddle', 'salmon',
	'sandal', 'saturn', 'scarf', 'shadow', 'shell', 'silver', 'sketch', 'sparrow', 'spider', 'spoon',
	'squid', 'stable', 'statue', 'stone', 'sunset', 'swan', 'table', 'teapot', 'tiger', 'tomato',
	'topaz', 'tulip', 'tunnel', 'turtle', 'valley', 'velvet', 'violin', 'volcano', 'wagon', 'walnut',
	'walrus', 'whale', 'willow', 'window', 'yacht', 'zebra'
  ];
  // sas-words:end

  const SAS_LABEL = 'peercall-sas-v1\n';

  // normalizeFingerprint turns "sha-256 ab:cd:..." into "sha-256 AB:CD:..."
  // (call.NormalizeFingerprint); null if it is not a fingerprint.
  function normalizeFingerprint(fp) {
    const fields = fp.trim().split(/\s+/);
    if (fields.length !== 2) return null;
    const algo = fields[0].toLowerCase();
    const parts = fields[1].toUpperCase().split(':');
    if (!parts.every((p) => /^[0-9A-F]{2}$/.test(p))) return null;
    if (algo === 'sha-256' && parts.length !== 32) return null;
    return algo + ' ' + parts.join(':');
  }

  // parseFingerprint returns the normalized DTLS fingerprint of an SDP,
  // preferring sha-256 (call.ParseFingerprint); null if there is none or
  // one does not parse.
  function parseFingerprint(sdp) {
    let first = null;
    for (const raw of sdp.split('\n')) {
      const line = raw.trim();
      if (!line.startsWith('a=fingerprint:')) continue;
      const n = normalizeFingerprint(line.slice('a=fingerprint:'.length));
      if (n === null) return null;
      if (n.startsWith('sha-256 ')) return n;
      if (first === null) first = n;
    }
    return first;
  }

  // sas derives {digits, words} from two fingerprints in either order
  // (call.SAS).
  async function sas(fpA, fpB) {
    let a = normalizeFingerprint(fpA) ?? fpA.trim();
    let b = normalizeFingerprint(fpB) ?? fpB.trim();
    if (b < a) [a, b] = [b, a];
    const data = new TextEncoder().encode(SAS_LABEL + a + '\n' + b);
    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    const n = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
    const digits = String(n % 1000000).padStart(6, '0');
    const words = [SAS_WORDS[h[4]], SAS_WORDS[h[5]], SAS_WORDS[h[6]], SAS_WORDS[h[7]]];
    return { digits, words };
  }

  // ---- addresses, candidates and SDP ----

  const params = new URLSearchParams(location.search);
  // loopback=1 (tests only): ICE uses 127.0.0.0/8 and ::1 only; every other
  // local candidate is dropped before it is sent, every other remote one is
  // ignored, in trickle and in SDP alike.
  const LOOPBACK_ONLY = params.get('loopback') === '1';

  function isLoopbackAddress(addr) {
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
  function scrubCandidate(c, relayOnly) {
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

  function remoteCandidateAllowed(c) {
    const p = parseCandidate(c);
    return p !== null && (!LOOPBACK_ONLY || isLoopbackAddress(p.address));
  }

  // filterSdpCandidates keeps the a=candidate lines keep() accepts and hides
  // connection addresses when any candidate was dropped (call.ScrubSDP).
  function filterSdpCandidates(sdp, keep) {
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
  function ensureOpusFEC(sdp) {
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
  function hasOpusFEC(sdp) {
    const pts = [...sdp.matchAll(/^a=rtpmap:(\d+) opus\/48000/gim)].map((m) => m[1]);
    return pts.length > 0 && pts.every((pt) => new RegExp('^a=fmtp:' + pt + ' .*useinbandfec=1', 'm').test(sdp));
  }

  // firstVideoCodec is the codec name of the first payload type of the first
  // video m-line (the preferred one).
  function firstVideoCodec(sdp) {
    const m = /^m=video \d+ [A-Z/]+ (\d+)/m.exec(sdp);
    if (!m) return '';
    const r = new RegExp('^a=rtpmap:' + m[1] + ' ([^/\r\n]+)', 'm').exec(sdp);
    return r ? r[1] : '';
  }

  // preferCodecs puts VP8 (video) or Opus (audio) first on a transceiver;
  // the other codecs (and RTX, RED, FEC) stay as fallbacks.
  function preferCodecs(tr) {
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

  // ---- session: one call with one peer (call/session.go) ----

  const CONNECT_TIMEOUT = 30000;
  const MAX_CHAT_BYTES = 4096; // call.MaxChatBytes
  const MAX_CHAT_LINES = 200; // the page keeps the last ones
  const RECONNECT_TIMEOUT = 30000;
  // decodeDataMessage parses one data channel message like
  // call/datamsg.go: chat ({from, ts, text}, no type or "chat"), media
  // ({"type":"media","audio":bool,"video":bool}), {kind: 'unknown'} for a
  // type we do not know, null for anything malformed.
  function decodeDataMessage(data) {
    if (typeof data !== 'string' || data.length > 4096 + 256) return null;
    let m;
    try {
      m = JSON.parse(data);
    } catch (err) {
      return null;
    }
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return null;
    const type = m.type === undefined ? '' : m.type;
    if (typeof type !== 'string') return null;
    if (type === '' || type === 'chat') {
      if (typeof m.text !== 'string' || m.text === '') return null;
      return { kind: 'chat', text: m.text };
    }
    if (type === 'media') {
      if (typeof m.audio !== 'boolean' || typeof m.video !== 'boolean') return null;
      return { kind: 'media', audio: m.audio, video: m.video };
    }
    return { kind: 'unknown' };
  }

  const RESTART_BACKOFF0 = 500;
  const RESTART_BACKOFF_MAX = 8000;

  class Session {
    // signal(type, payload) sends a call signal to the peer; onUpdate(s) is
    // called on every state change and when the peer's media state changes;
    // localMedia() is our {audio, video} state, sent each time the data
    // channel opens (like call.Session.SetLocalMedia).
    constructor({ localId, remoteId, remoteName, iceServers, relayOnly, stream, signal, onUpdate, onTrack, localMedia, onChat }) {
      this.localId = localId;
      this.remoteId = remoteId;
      this.remoteName = remoteName || '';
      // The greater id is polite: it never offers (pion cannot roll back).
      this.polite = localId > remoteId;
      this.iceServers = relayOnly ? iceServers.filter(isTurnServer) : iceServers;
      this.relayOnly = relayOnly;
      this.stream = stream;
      this.signal = signal;
      this.onUpdate = onUpdate;
      this.onChat = onChat || (() => {});
      this.onTrack = onTrack;
      this.localMedia = localMedia || (() => null);
      this.remoteMedia = null; // {audio, video} once the peer says

      this.state = 'idle';
      this.reason = '';
      this.pc = null;
      this.remoteSet = false;
      this.ignoreOffer = false;
      this.offerPending = false;
      this.restartPending = false;
      this.lastOffer = '';
      this.lastRemoteOffer = '';
      this.lastAnswer = '';
      this.pendingCands = [];
      this.senders = new Map(); // kind -> RTCRtpSender
      this.sas = null;
      this.negotiated = null;
      this.negotiations = 0; // remote descriptions applied
      this.sentCandidates = [];
      this.remoteCandidates = [];
      this.restartAttempt = 0;
      this.timers = {};
      this.chain = Promise.resolve();
      this.chat = null;
      this.byeSent = false;
    }

    // enqueue serializes all work on the peer connection (the owner
    // goroutine of call.Session): callbacks only enqueue.
    enqueue(fn) {
      this.chain = this.chain.then(() => (this.terminal() ? undefined : fn())).catch((err) => log('session step failed', err));
      return this.chain;
    }

    terminal() {
      return this.state === 'ended' || this.state === 'failed';
    }

    setState(state, reason) {
      if (this.terminal() || this.state === state) return;
      this.state = state;
      this.reason = reason || '';
      if (state === 'connected') {
        this.clearTimer('connect');
        this.clearTimer('reconnect');
        this.clearTimer('restart');
        this.restartAttempt = 0;
        this.updateSAS();
      } else if (state === 'reconnecting') {
        this.setTimer('reconnect', RECONNECT_TIMEOUT, () => this.fail('reconnect timeout'));
      }
      if (this.terminal()) this.teardown();
      this.onUpdate(this);
    }

    setTimer(name, ms, fn) {
      this.clearTimer(name);
      this.timers[name] = setTimeout(() => this.enqueue(fn), ms);
    }

    clearTimer(name) {
      if (this.timers[name] !== undefined) clearTimeout(this.timers[name]);
      delete this.timers[name];
    }

    start() {
      this.setTimer('connect', CONNECT_TIMEOUT, () => this.fail('connect timeout'));
      this.setState('starting', 'starting');
      this.enqueue(() => {
        this.setup();
        this.setState('waiting', 'waiting for peer');
        if (this.polite) {
          // "I am here": if the impolite side's first offer went out before
          // we listened, this makes it send it again.
          this.send('offer', { request: true });
          return undefined;
        }
        return this.negotiate(false, false);
      });
    }

    setup() {
      const pc = new RTCPeerConnection({
        iceServers: this.iceServers,
        iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
        bundlePolicy: 'max-bundle',
        rtcpMuxPolicy: 'require',
      });
      this.pc = pc;
      pc.onicecandidate = (e) => {
        if (e.candidate && e.candidate.candidate) {
          const c = e.candidate.toJSON();
          this.enqueue(() => this.sendCandidate(c));
        }
      };
      pc.onnegotiationneeded = () => this.enqueue(() => this.negotiate(false, true));
      pc.onconnectionstatechange = () => {
        const st = pc.connectionState;
        this.enqueue(() => this.onConnectionState(st));
      };
      pc.ontrack = (e) => this.onTrack(e);
      pc.ondatachannel = (e) => {
        if (e.channel.label === 'chat') this.bindChat(e.channel);
      };
      if (this.stream) {
        for (const t of this.stream.getTracks()) this.senders.set(t.kind, pc.addTrack(t, this.stream));
      }
      // The impolite side opens the call: it receives audio and video even
      // without tracks of its own (so the polite side's tracks bind in the
      // first answer) and opens the chat channel.
      if (!this.polite) {
        for (const kind of ['audio', 'video']) {
          if (!this.senders.has(kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
        }
        this.bindChat(pc.createDataChannel('chat'));
      }
    }

    bindChat(dc) {
      dc.onopen = () => {
        this.chat = dc;
        // Again on every open: the peer learns our state after a reconnect.
        this.sendMedia(this.localMedia());
      };
      dc.onmessage = (e) => {
        const m = decodeDataMessage(e.data);
        if (!m) {
          log('bad data channel message dropped');
        } else if (m.kind === 'chat') {
          if (new TextEncoder().encode(m.text).length > MAX_CHAT_BYTES) {
            log('chat message over the size limit dropped');
            return;
          }
          this.onChat(m.text);
        } else if (m.kind === 'media') {
          this.remoteMedia = { audio: m.audio, video: m.video };
          this.onUpdate(this);
        } else {
          log('data channel message of unknown type ignored');
        }
      };
    }

    // sendChat sends one chat message ({from, ts, text} like call.SendChat);
    // it says why when it cannot.
    sendChat(text) {
      const dc = this.chat;
      if (this.state !== 'connected' || !dc || dc.readyState !== 'open') return 'Chat works once the call is connected.';
      if (new TextEncoder().encode(text).length > MAX_CHAT_BYTES) return 'That message is too long.';
      try {
        dc.send(JSON.stringify({ from: this.localId, ts: Date.now(), text }));
      } catch (err) {
        log('chat not sent', err);
        return 'The message could not be sent.';
      }
      return '';
    }

    // sendMedia tells the peer whether our mic and camera are on
    // ({"type":"media","audio":bool,"video":bool}); null sends nothing.
    sendMedia(state) {
      const dc = this.chat;
      if (!state || !dc || dc.readyState !== 'open') return;
      try {
        dc.send(JSON.stringify({ type: 'media', audio: !!state.audio, video: !!state.video }));
      } catch (err) {
        log('media state not sent', err);
      }
    }

    send(type, payload) {
      if (this.terminal()) return;
      this.signal(type, payload, this.remoteId);
    }

    // ---- negotiation (perfect negotiation without rollback) ----

    // negotiate offers (impolite side) or asks for an offer (polite side).
    // resend: an ICE restart after the path or the peer's signaling was
    // lost; an offer of ours still unanswered then was probably lost too, so
    // it is rolled back (browsers can, unlike pion) and replaced.
    async negotiate(restart, fromEvent, resend = false) {
      const pc = this.pc;
      if (this.terminal() || !pc) return;
      if (this.polite) {
        if (this.remoteSet) this.requestOffer(restart, fromEvent);
        return;
      }
      if (resend && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' });
      }
      if (pc.signalingState !== 'stable') {
        // The browser fires negotiationneeded again once stable if still
        // needed; explicit requests and restarts are remembered.
        if (fromEvent && !restart) return;
        this.offerPending = true;
        this.restartPending = this.restartPending || restart;
        return;
      }
      restart = restart || this.restartPending;
      this.offerPending = false;
      this.restartPending = false;
      pc.getTransceivers().forEach(preferCodecs);
      const offer = await pc.createOffer({ iceRestart: restart });
      offer.sdp = ensureOpusFEC(offer.sdp);
      await pc.setLocalDescription(offer);
      this.sendDescription('offer', offer.sdp);
    }

    // requestOffer (polite side) names the kinds whose tracks have no m-line
    // yet, so the impolite side adds receive slots for them.
    requestOffer(restart, fromEvent) {
      const kinds = [];
      for (const tr of this.pc.getTransceivers()) {
        if (tr.mid === null && tr.sender.track) kinds.push(tr.sender.track.kind);
      }
      // Nothing to add and no restart: an event we need not bother the peer with.
      if (fromEvent && kinds.length === 0 && !restart) return;
      const p = { request: true };
      if (kinds.length > 0) p.kinds = kinds;
      if (restart) p.restart = true;
      this.send('offer', p);
    }

    // onOfferRequest (impolite side): an unanswered offer of ours is resent
    // (the peer never got it, or we lost its answer: it answers a duplicate
    // again); then receive slots are added and the negotiation follows.
    async onOfferRequest(p) {
      if (this.polite) return;
      const pc = this.pc;
      if (pc.signalingState === 'have-local-offer' && this.lastOffer !== '') {
        this.send('offer', { sdp: this.lastOffer });
        if ((!p.kinds || p.kinds.length === 0) && !p.restart) return;
      }
      for (const k of p.kinds || []) {
        if (k === 'audio' || k === 'video') pc.addTransceiver(k, { direction: 'recvonly' });
      }
      await this.negotiate(!!p.restart, false);
    }

    sendDescription(type, sdp) {
      const out = filterSdpCandidates(sdp, (c) => scrubCandidate(c, this.relayOnly));
      if (type === 'offer') this.lastOffer = out;
      if (type === 'answer') this.lastAnswer = out;
      this.send(type, { sdp: out });
    }

    sendCandidate(c) {
      const v = scrubCandidate(c.candidate, this.relayOnly);
      if (v === null) return;
      const p = { candidate: v };
      if (c.sdpMid !== null && c.sdpMid !== undefined) p.sdpMid = c.sdpMid;
      if (c.sdpMLineIndex !== null && c.sdpMLineIndex !== undefined) p.sdpMLineIndex = c.sdpMLineIndex;
      if (c.usernameFragment) p.usernameFragment = c.usernameFragment;
      this.sentCandidates.push(v);
      this.send('candidate', p);
    }

    // handleSignal takes one relayed message from the remote peer.
    handleSignal(type, p) {
      this.enqueue(async () => {
        switch (type) {
          case 'offer':
            if (p && p.request === true) return this.onOfferRequest(p);
            if (p && typeof p.sdp === 'string' && p.sdp !== '') return this.onDescription('offer', p.sdp);
            return undefined;
          case 'answer':
            if (p && typeof p.sdp === 'string' && p.sdp !== '') return this.onDescription('answer', p.sdp);
            return undefined;
          case 'candidate':
            if (p && typeof p.candidate === 'string' && p.candidate !== '') return this.onRemoteCandidate(p);
            return undefined;
          case 'bye':
            this.setState('ended', p && p.reason ? 'peer: ' + p.reason : 'peer hung up');
            return undefined;
          default:
            return undefined;
        }
      });
    }

    async onDescription(type, sdp) {
      const pc = this.pc;
      if (type === 'offer' && sdp === this.lastRemoteOffer) {
        // A resend we applied already: our answer may have been lost.
        if (pc.signalingState === 'stable' && this.lastAnswer !== '') this.send('answer', { sdp: this.lastAnswer });
        return;
      }
      const collision = type === 'offer' && pc.signalingState !== 'stable';
      this.ignoreOffer = collision;
      if (collision) return; // impolite keeps its own offer; polite never has one
      if (type === 'answer' && pc.signalingState !== 'have-local-offer') return; // stale
      const remote = LOOPBACK_ONLY ? filterSdpCandidates(sdp, (c) => (remoteCandidateAllowed(c) ? c : null)) : sdp;
      try {
        await pc.setRemoteDescription({ type, sdp: remote });
      } catch (err) {
        log('set remote description failed', err);
        if (!this.remoteSet) this.fail('peer sent an unusable description');
        return;
      }
      const first = !this.remoteSet;
      this.remoteSet = true;
      this.negotiations++;
      if (type === 'offer') this.lastRemoteOffer = sdp;
      for (const c of this.pendingCands) await this.addCandidate(c);
      this.pendingCands = [];
      if (type === 'offer') {
        pc.getTransceivers().forEach(preferCodecs);
        const answer = await pc.createAnswer();
        answer.sdp = ensureOpusFEC(answer.sdp);
        await pc.setLocalDescription(answer);
        this.sendDescription('answer', answer.sdp);
      }
      if (first) this.setState('connecting', 'connecting');
      if (this.state === 'connected') this.updateSAS();
      if (this.offerPending) await this.negotiate(false, false);
    }

    async onRemoteCandidate(p) {
      if (!remoteCandidateAllowed(p.candidate)) return;
      const c = { candidate: p.candidate, sdpMid: p.sdpMid ?? null, sdpMLineIndex: p.sdpMLineIndex ?? null };
      if (p.usernameFragment) c.usernameFragment = p.usernameFragment;
      this.remoteCandidates.push(p.candidate);
      if (!this.remoteSet || !this.pc.remoteDescription) {
        this.pendingCands.push(c);
        return;
      }
      await this.addCandidate(c);
    }

    async addCandidate(c) {
      try {
        await this.pc.addIceCandidate(c);
      } catch (err) {
        if (!this.ignoreOffer) log('remote candidate rejected', err);
      }
    }

    // ---- connectivity ----

    onConnectionState(st) {
      if (st === 'connected') {
        this.setState('connected', 'connected');
      } else if (st === 'disconnected' || st === 'failed') {
        if (this.state === 'connected' || this.state === 'connecting') this.setState('reconnecting', 'connection lost, reconnecting');
        // The impolite side drives ICE restarts; "failed" will not heal.
        if (!this.polite && this.state === 'reconnecting') {
          this.setTimer('restart', st === 'failed' ? 0 : RESTART_BACKOFF0, () => this.restartICE());
        }
      }
    }

    restartICE() {
      if (this.state !== 'reconnecting') return undefined;
      this.restartAttempt++;
      const backoff = Math.min(RESTART_BACKOFF0 * 2 ** Math.min(this.restartAttempt, 6), RESTART_BACKOFF_MAX);
      this.setTimer('restart', backoff, () => this.restartICE());
      return this.negotiate(true, false, true);
    }

    // peerResumed: the peer came back on the signaling server under its old
    // id; its ICE path may be gone, so renegotiate with a restart.
    // updateIceServers takes renewed TURN credentials (signaling `refresh`);
    // the next ICE restart allocates with them.
    updateIceServers(servers) {
      this.iceServers = this.relayOnly ? servers.filter(isTurnServer) : servers;
      if (this.pc) {
        try {
          this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: this.iceServers });
        } catch (e) {
          // A configuration the browser refuses keeps the old servers.
        }
      }
    }

    peerResumed() {
      this.enqueue(() => (this.polite ? this.requestOffer(true, false) : this.negotiate(true, false, true)));
    }

    async updateSAS() {
      const ld = this.pc && this.pc.currentLocalDescription;
      const rd = this.pc && this.pc.currentRemoteDescription;
      if (!ld || !rd) return;
      const lfp = parseFingerprint(ld.sdp);
      const rfp = parseFingerprint(rd.sdp);
      if (lfp === null || rfp === null) {
        log('no fingerprint for the security code');
        return;
      }
      if (this.sas && this.sas.localFingerprint === lfp && this.sas.remoteFingerprint === rfp) return;
      const code = await sas(lfp, rfp);
      this.sas = { digits: code.digits, words: code.words, localFingerprint: lfp, remoteFingerprint: rfp };
      this.negotiated = {
        opusFEC: { local: hasOpusFEC(ld.sdp), remote: hasOpusFEC(rd.sdp) },
        videoCodec: { local: firstVideoCodec(ld.sdp), remote: firstVideoCodec(rd.sdp) },
      };
      this.onUpdate(this);
    }

    fail(reason) {
      this.sendBye(reason);
      this.setState('failed', reason);
    }

    sendBye(reason) {
      if (this.terminal() || this.state === 'idle') return;
      this.signal('bye', { reason }, this.remoteId);
      this.byeSent = true; // the server has taken us out of the room
    }

    // hangup ends the call from this side.
    hangup() {
      this.sendBye('hung up');
      this.setState('ended', 'hung up');
    }

    // peerLeft: the server says the peer is gone.
    peerLeft(reason) {
      this.setState('ended', reason === 'bye' ? 'peer hung up' : 'peer left');
    }

    teardown() {
      for (const name of Object.keys(this.timers)) this.clearTimer(name);
      if (this.pc) this.pc.close();
    }

    // setCamera swaps the sent video track without renegotiation (null:
    // camera off), like call.Session.ReplaceTrack. A call that started
    // without a camera gets a new sender, which renegotiates (the polite
    // side asks for an offer naming "video").
    setCamera(track) {
      return this.enqueue(async () => {
        const s = this.senders.get('video');
        if (s) {
          await s.replaceTrack(track);
        } else if (track && this.pc) {
          this.senders.set('video', this.pc.addTrack(track, this.stream || new MediaStream([track])));
        }
      });
    }

    // stats summarizes getStats for the page and for tests.
    async stats() {
      if (!this.pc) return null;
      const report = await this.pc.getStats();
      const out = { videoIn: null, videoOut: null, audioIn: null, audioOut: null, pair: null, localCandidates: [], remoteCandidates: [] };
      let pairId = null;
      report.forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          out.videoIn = {
            framesDecoded: r.framesDecoded || 0, framesPerSecond: r.framesPerSecond || 0, width: r.frameWidth || 0, height: r.frameHeight || 0,
            packetsLost: r.packetsLost || 0, keyFramesDecoded: r.keyFramesDecoded || 0, framesDropped: r.framesDropped || 0,
            pliCount: r.pliCount || 0, firCount: r.firCount || 0, nackCount: r.nackCount || 0, freezeCount: r.freezeCount || 0, codecId: r.codecId,
          };
        } else if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          out.audioIn = { packetsReceived: r.packetsReceived || 0, packetsLost: r.packetsLost || 0, fecPacketsReceived: r.fecPacketsReceived || 0, codecId: r.codecId };
        } else if (r.type === 'outbound-rtp' && r.kind === 'video') {
          out.videoOut = { framesEncoded: r.framesEncoded || 0, framesSent: r.framesSent || 0, framesPerSecond: r.framesPerSecond || 0, width: r.frameWidth || 0, height: r.frameHeight || 0, keyFramesEncoded: r.keyFramesEncoded || 0, pliCount: r.pliCount || 0, qualityLimitationReason: r.qualityLimitationReason || '', codecId: r.codecId };
        } else if (r.type === 'outbound-rtp' && r.kind === 'audio') {
          out.audioOut = { packetsSent: r.packetsSent || 0, codecId: r.codecId };
        } else if (r.type === 'transport' && r.selectedCandidatePairId) {
          pairId = r.selectedCandidatePairId;
        } else if (r.type === 'local-candidate') {
          out.localCandidates.push({ address: r.address || r.ip || '', port: r.port, type: r.candidateType });
        } else if (r.type === 'remote-candidate') {
          out.remoteCandidates.push({ address: r.address || r.ip || '', port: r.port, type: r.candidateType });
        }
      });
      const codec = (id) => (id && report.get(id) ? report.get(id).mimeType : '');
      for (const k of ['videoIn', 'videoOut', 'audioIn', 'audioOut']) {
        if (out[k]) out[k].codec = codec(out[k].codecId);
      }
      const pair = pairId && report.get(pairId);
      if (pair) {
        const l = report.get(pair.localCandidateId) || {};
        const r = report.get(pair.remoteCandidateId) || {};
        out.pair = { local: l.address || l.ip || '', localType: l.candidateType, remote: r.address || r.ip || '', remoteType: r.candidateType, rttMs: Math.round((pair.currentRoundTripTime || 0) * 1000) };
      }
      return out;
    }
  }

  function isTurnServer(server) {
    const list = Array.isArray(server.urls) ? server.urls : [server.urls];
    return list.some((u) => /^turns?:/.test(u));
  }

  // ---- page: signaling connection, media, controls ----

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $('join-form'),
    room: $('room'),
    name: $('name'),
    password: $('password'),
    relay: $('relay'),
    join: $('join'),
    call: $('call'),
    status: $('status'),
    error: $('error'),
    remoteVideo: $('remote-video'),
    localVideo: $('local-video'),
    remoteOff: $('remote-off'),
    remoteOffText: $('remote-off-text'),
    remoteMuted: $('remote-muted'),
    sasDigits: $('sas-digits'),
    sasWords: $('sas-words'),
    mute: $('mute'),
    camera: $('camera'),
    hangup: $('hangup'),
    stats: $('stats'),
    chatLog: $('chat-log'),
    chatForm: $('chat-form'),
    chatText: $('chat-text'),
  };

  function log(msg, detail) {
    // Never SDP or candidates: only the message and an error name.
    const d = detail instanceof Error ? detail.name + ': ' + detail.message : detail;
    console.log('[peercall] ' + msg, d === undefined ? '' : d);
  }

  // window.peercall is what the page shows, for tests and curious users.
  const view = {
    state: 'idle', // idle | joining | waiting | starting | connecting | connected | reconnecting | ended | failed
    reason: '',
    peerId: '',
    remoteId: '',
    remoteName: '',
    remoteMedia: null, // {audio, video}: what the peer last said of its mic and camera
    polite: null,
    sas: null,
    negotiated: null, // what the current descriptions say: Opus FEC, preferred video codec
    negotiations: 0, // remote descriptions applied in this call
    stats: null,
    sentCandidates: [],
    remoteCandidates: [],
    chat: [], // {mine, from, text, ts}, oldest first
    error: '',
  };
  // dropSignaling closes the WebSocket as a network failure would (tests of
  // reconnect and resume); the page reconnects and resumes on its own.
  function dropSignaling() {
    if (ws) ws.close(4000, 'dropped');
  }

  window.peercall = { view, dropSignaling, sas, normalizeFingerprint, parseFingerprint, ensureOpusFEC, hasOpusFEC, scrubCandidate, filterSdpCandidates, decodeDataMessage, words: SAS_WORDS };

  let ws = null;
  let session = null;
  let stream = null;
  let joinInfo = null; // {room, name, password}
  let resumeToken = '';
  let iceServers = [];
  let leaving = false;
  let reconnectDelay = 1000;
  let statsTimer = 0;
  let muted = false;
  let cameraOff = false;

  function setStatus(text) {
    ui.status.textContent = text;
  }

  // mediaNote says what the call goes without (no camera, no microphone);
  // it stays on the error line whenever no error replaces it.
  let mediaNote = '';

  function showError(text) {
    const shown = text || mediaNote;
    view.error = shown;
    ui.error.textContent = shown;
    ui.error.hidden = shown === '';
  }

  function render() {
    const s = session;
    if (s && !s.terminal()) {
      view.state = s.state;
      view.reason = s.reason;
      view.remoteId = s.remoteId;
      view.remoteName = s.remoteName;
      view.remoteMedia = s.remoteMedia ? { audio: s.remoteMedia.audio, video: s.remoteMedia.video } : null;
      view.polite = s.polite;
      view.sas = s.sas ? { digits: s.sas.digits, words: s.sas.words.slice(), localFingerprint: s.sas.localFingerprint, remoteFingerprint: s.sas.remoteFingerprint } : null;
      view.negotiated = s.negotiated;
      view.negotiations = s.negotiations;
      view.sentCandidates = s.sentCandidates.slice();
      view.remoteCandidates = s.remoteCandidates.slice();
    }
    setStatus(view.reason || view.state);
    renderRemoteMedia();
    if (view.sas && view.state === 'connected') {
      ui.sasDigits.textContent = view.sas.digits.slice(0, 3) + ' ' + view.sas.digits.slice(3);
      ui.sasWords.textContent = view.sas.words.join(' ');
    } else {
      ui.sasDigits.textContent = '--- ---';
      ui.sasWords.textContent = '';
    }
  }

  // renderRemoteMedia shows the placeholder over the remote video while the
  // peer's camera is off (its last frame would freeze there) and a badge
  // while its mic is muted.
  function renderRemoteMedia() {
    const live = session && !session.terminal();
    const m = live ? view.remoteMedia : null;
    const who = view.remoteName || 'The other person';
    const camOff = !!m && !m.video;
    ui.remoteOff.hidden = !camOff;
    ui.remoteVideo.classList.toggle('off', camOff);
    if (camOff) ui.remoteOffText.textContent = who + '\'s camera is off';
    ui.remoteMuted.hidden = !(m && !m.audio);
    if (m && !m.audio) ui.remoteMuted.textContent = (view.remoteName ? view.remoteName + ' is muted' : 'Muted');
  }

  // addChat records and shows one chat line; text is only ever set as
  // textContent (it comes from the other person).
  function addChat(mine, text) {
    const line = { mine, from: mine ? 'You' : (view.remoteName || 'Them'), text, ts: Date.now() };
    view.chat.push(line);
    const li = document.createElement('li');
    li.className = mine ? 'mine' : 'theirs';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = line.from + ': ';
    li.append(who, document.createTextNode(text));
    ui.chatLog.append(li);
    while (view.chat.length > MAX_CHAT_LINES) {
      view.chat.shift();
      ui.chatLog.firstElementChild.remove();
    }
    li.scrollIntoView({ block: 'nearest' });
  }

  function sendChat(ev) {
    ev.preventDefault();
    const text = ui.chatText.value.trim();
    if (text === '') return;
    const why = session && !session.terminal() ? session.sendChat(text) : 'Chat works once the call is connected.';
    if (why) {
      showError(why);
      return;
    }
    showError('');
    addChat(true, text);
    ui.chatText.value = '';
  }

  // localMedia is what this page says of its own mic and camera.
  function localMedia() {
    const video = !!stream && !cameraOff && stream.getVideoTracks().length > 0;
    return { audio: !!stream && !muted && stream.getAudioTracks().length > 0, video };
  }

  function sendMediaState() {
    if (session && !session.terminal()) session.sendMedia(localMedia());
  }

  function wsURL() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(Object.assign({ v: 1 }, msg)));
  }

  // signal puts a call signal on the wire like app/signaling.go: the payload
  // travels in "sdp" (offer, answer, offer request, bye) or "candidate".
  function signal(type, payload, to) {
    const m = { type, to };
    if (type === 'candidate') m.candidate = payload;
    else m.sdp = payload;
    if (type === 'bye' && payload.reason) m.reason = payload.reason;
    send(m);
  }

  function sendJoin() {
    const m = { type: 'join', room: joinInfo.room, name: joinInfo.name };
    if (joinInfo.password) m.password = joinInfo.password;
    if (resumeToken) m.resume = resumeToken;
    send(m);
  }

  function connect() {
    view.state = 'joining';
    view.reason = 'connecting to the server';
    render();
    ws = new WebSocket(wsURL());
    const sock = ws;
    sock.onopen = sendJoin;
    sock.onmessage = (e) => {
      let m;
      try {
        m = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      onMessage(m);
    };
    sock.onclose = (e) => {
      if (sock !== ws) return;
      ws = null;
      if (leaving) return;
      // Policy and size errors do not heal by retrying (docs/protocol.md).
      if (e.code === 1008 || e.code === 1009) {
        leave(view.error || 'the server refused the connection');
        return;
      }
      view.reason = 'signaling lost, reconnecting';
      render();
      setTimeout(() => {
        if (!leaving && ws === null) connect();
      }, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 8000);
    };
  }

  function onMessage(m) {
    switch (m.type) {
      case 'joined':
        reconnectDelay = 1000;
        view.peerId = m.peer_id;
        resumeToken = m.resume || '';
        iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
        showError('');
        if (session && !session.terminal()) {
          if (m.resumed) session.peerResumed();
          else endSession('signaling restarted');
        }
        if (!session || session.terminal()) {
          if (Array.isArray(m.peers) && m.peers.length > 0) startSession(m.peers[0].id, m.peers[0].name);
          else waitForPeer();
        }
        break;
      case 'peer-joined':
        if (session && !session.terminal() && m.peer_id === session.remoteId) {
          if (m.resumed) session.peerResumed();
        } else if (!session || session.terminal()) {
          startSession(m.peer_id, m.name);
        }
        break;
      case 'peer-left':
        if (session && m.peer_id === session.remoteId) {
          session.peerLeft(m.reason);
        }
        break;
      case 'offer':
      case 'answer':
      case 'candidate':
      case 'bye':
        if (session && m.from === session.remoteId) {
          session.handleSignal(m.type, m.type === 'candidate' ? m.candidate : m.sdp || (m.type === 'bye' ? { reason: m.reason } : null));
        }
        break;
      case 'error':
        showError(m.message || m.code || 'error');
        break;
      case 'server-shutdown':
        view.reason = 'the server is restarting';
        render();
        break;
      case 'refresh':
        // Renewed resume token and TURN credentials (docs/protocol.md).
        if (m.resume) resumeToken = m.resume;
        if (Array.isArray(m.ice_servers)) {
          iceServers = m.ice_servers;
          if (session && !session.terminal()) session.updateIceServers(iceServers);
        }
        break;
      default:
        break;
    }
  }

  function waitForPeer() {
    view.state = 'waiting';
    view.reason = 'waiting for someone to join room ' + joinInfo.room;
    render();
  }

  function startSession(remoteId, remoteName) {
    const relayOnly = ui.relay.checked;
    if (relayOnly && !iceServers.some(isTurnServer)) {
      // Like call.ErrNoRelayServer: without TURN, relay only cannot connect.
      leave('no relay server');
      showError('Relay only needs a TURN server, and this server offers none.');
      return;
    }
    const s = new Session({
      localId: view.peerId,
      remoteId,
      remoteName: typeof remoteName === 'string' ? remoteName : '',
      localMedia,
      iceServers,
      relayOnly,
      stream,
      signal,
      onUpdate: onSessionUpdate,
      onChat: (text) => {
        if (s === session) addChat(false, text);
      },
      onTrack: (e) => {
        const ms = e.streams[0] || new MediaStream([e.track]);
        if (ui.remoteVideo.srcObject !== ms) ui.remoteVideo.srcObject = ms;
      },
    });
    session = s;
    session.start();
    render();
  }

  function onSessionUpdate(s) {
    if (s !== session) return;
    if (s.terminal()) {
      ui.remoteVideo.srcObject = null;
      view.state = s.state;
      view.reason = !leaving && ws ? s.reason + '; waiting for someone to join' : s.reason;
      // A call that failed on our side said bye, which also took us out of
      // the room: join it again on the same connection to stay reachable.
      if (s.byeSent && !leaving && ws) sendJoin();
    }
    render();
  }

  function endSession(reason) {
    if (session && !session.terminal()) session.setState('ended', reason);
  }

  async function pollStats() {
    const s = session;
    if (!s || s.terminal()) return;
    const st = await s.stats();
    if (s !== session || !st) return;
    view.stats = st;
    const lines = [];
    if (st.videoIn) lines.push(`video in  ${st.videoIn.width}x${st.videoIn.height} ${Math.round(st.videoIn.framesPerSecond)} fps, ${st.videoIn.framesDecoded} frames (${st.videoIn.codec})`);
    if (st.videoOut) lines.push(`video out ${st.videoOut.width}x${st.videoOut.height} ${Math.round(st.videoOut.framesPerSecond)} fps, ${st.videoOut.framesEncoded} frames (${st.videoOut.codec})`);
    if (st.audioIn) lines.push(`audio in  ${st.audioIn.packetsReceived} packets, ${st.audioIn.packetsLost} lost (${st.audioIn.codec})`);
    if (st.pair) lines.push(`path      ${st.pair.localType} → ${st.pair.remoteType}, rtt ${st.pair.rttMs} ms`);
    ui.stats.textContent = lines.join('\n');
    render();
  }

  async function join(ev) {
    ev.preventDefault();
    const room = ui.room.value.trim();
    const name = ui.name.value.trim() || 'Browser';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(room)) {
      showError('Room names are 1-64 letters, digits, dots, dashes or underscores.');
      return;
    }
    showError('');
    leaving = false;
    joinInfo = { room, name, password: ui.password.value };
    ui.form.hidden = true;
    ui.call.hidden = false;
    if (location.pathname !== '/r/' + room) history.replaceState(null, '', '/r/' + room + location.search);
    stream = await openMedia();
    if (stream) ui.localVideo.srcObject = stream;
    statsTimer = setInterval(() => pollStats().catch((err) => log('stats failed', err)), 1000);
    connect();
  }

  function leave(reason) {
    leaving = true;
    if (session && !session.terminal()) session.hangup();
    // bye also makes the server remove us from the room at once.
    if (ws) {
      ws.close(1000);
      ws = null;
    }
    resumeToken = '';
    clearInterval(statsTimer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    ui.localVideo.srcObject = null;
    ui.remoteVideo.srcObject = null;
    view.state = 'ended';
    view.reason = reason;
    render();
    ui.call.hidden = true;
    ui.form.hidden = false;
  }

  // openMedia asks for the microphone and the camera, and for whichever
  // one exists when the other is missing or refused (a laptop without a
  // camera still talks), and says what the call goes ahead without.
  async function openMedia() {
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    const video = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
    const tries = [
      [{ audio, video }, ''],
      [{ audio }, 'No camera: joining with the microphone only.'],
      [{ video }, 'No microphone: joining with the camera only.'],
    ];
    for (const [constraints, note] of tries) {
      try {
        const s = await navigator.mediaDevices.getUserMedia(constraints);
        mediaNote = note;
        showError('');
        if (!constraints.video) {
          // Shown as a camera that is off: the button offers to try again.
          cameraOff = true;
          ui.camera.textContent = 'Camera on';
          ui.camera.setAttribute('aria-pressed', 'true');
        }
        return s;
      } catch (err) {
        log('media unavailable', Object.keys(constraints).join('+'), err);
      }
    }
    mediaNote = 'Camera or microphone unavailable: joining to watch and listen only.';
    showError('');
    return null;
  }

  function toggleMute() {
    muted = !muted;
    if (stream) stream.getAudioTracks().forEach((t) => (t.enabled = !muted));
    ui.mute.textContent = muted ? 'Unmute' : 'Mute';
    ui.mute.setAttribute('aria-pressed', String(muted));
    sendMediaState();
  }

  async function toggleCamera() {
    if (!stream) return;
    cameraOff = !cameraOff;
    ui.camera.textContent = cameraOff ? 'Camera on' : 'Camera off';
    ui.camera.setAttribute('aria-pressed', String(cameraOff));
    const old = stream.getVideoTracks()[0];
    if (cameraOff) {
      sendMediaState(); // first, so the peer shows the placeholder, not a frozen frame
      if (session) await session.setCamera(null);
      if (old) {
        old.stop(); // the camera light goes off
        stream.removeTrack(old);
      }
      return;
    }
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } } });
      const t = s.getVideoTracks()[0];
      stream.addTrack(t);
      ui.localVideo.srcObject = stream;
      if (session) await session.setCamera(t);
      sendMediaState(); // after the track is back: its first frame follows at once
    } catch (err) {
      log('camera unavailable', err);
      showError('The camera could not be turned back on.');
      cameraOff = true;
      ui.camera.textContent = 'Camera on';
      sendMediaState();
    }
  }

  function init() {
    const m = /^\/r\/([A-Za-z0-9._-]{1,64})$/.exec(location.pathname);
    if (m) ui.room.value = m[1];
    if (params.get('name')) ui.name.value = params.get('name');
    if (params.get('relay') === '1') ui.relay.checked = true;
    ui.form.addEventListener('submit', join);
    ui.mute.addEventListener('click', toggleMute);
    ui.camera.addEventListener('click', () => toggleCamera().catch((err) => log('camera toggle failed', err)));
    ui.hangup.addEventListener('click', () => leave('hung up'));
    ui.chatForm.addEventListener('submit', sendChat);
    window.addEventListener('pagehide', () => {
      if (session && !session.terminal()) session.hangup();
    });
    render();
  }

  init();
})();
