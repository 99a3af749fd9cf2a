// One call with one remote peer (call/session.go): perfect negotiation
// without rollback of the other side's offers, the polite/impolite roles by
// id, ICE restarts, the chat data channel and the SAS. The page runs one
// Session per remote peer (a mesh, docs/protocol.md "Group calls").

import { log } from './util.js';
import { parseFingerprint, sas } from './sas.js';
import {
  LOOPBACK_ONLY, SHARE_STREAM_ID, SHARE_TRACK_ID, ensureOpusFEC, filterSdpCandidates, firstVideoCodec, hasOpusFEC,
  isTurnServer, preferCodecs, remoteCandidateAllowed, scrubCandidate, setShareMsid,
} from './sdp.js';

const CONNECT_TIMEOUT = 30000;
export const MAX_CHAT_BYTES = 4096; // call.MaxChatBytes
const RECONNECT_TIMEOUT = 30000;
// decodeDataMessage parses one data channel message like
// call/datamsg.go: chat ({from, ts, text}, no type or "chat"), media
// ({"type":"media","audio":bool,"video":bool}), file transfer control
// ({kind: 'file', msg}: any "file-*" type, checked by files.js),
// {kind: 'unknown'} for a type we do not know, null for anything
// malformed.
export function decodeDataMessage(data) {
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
  if (type.startsWith('file-')) return { kind: 'file', msg: m };
  return { kind: 'unknown' };
}

// isShareTrack tells a peer's screen share from its camera (like
// app.isShareTrack): the share's stream id, or its track id.
export function isShareTrack(ev) {
  return ev.track.kind === 'video' && (ev.streams.some((s) => s.id === SHARE_STREAM_ID) || ev.track.id === SHARE_TRACK_ID);
}

// sends tells whether a transceiver direction includes sending.
const sends = (dir) => dir === 'sendrecv' || dir === 'sendonly';

const RESTART_BACKOFF0 = 500;
const RESTART_BACKOFF_MAX = 8000;

export class Session {
  // signal(type, payload) sends a call signal to the peer; onUpdate(s) is
  // called on every state change and when the peer's media state changes;
  // localMedia() is our {audio, video} state, sent each time the data
  // channel opens (like call.Session.SetLocalMedia); onTrack(ev, share)
  // gets every remote track, share telling a screen share from the camera;
  // share is our screen share's track when the call starts during one;
  // onFileMessage(s, msg) gets the peer's file-* control messages and
  // onFileChannel(s, dc) its `file:ID` data channels (files.js).
  constructor({
    localId, remoteId, remoteName, iceServers, relayOnly, stream, share, signal, onUpdate, onTrack, localMedia, onChat,
    onFileMessage, onFileChannel,
  }) {
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
    this.onFileMessage = onFileMessage || (() => {});
    this.onFileChannel = onFileChannel || ((s, dc) => dc.close());
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
    // Our screen share: its track (null when not sharing) and its sender,
    // kept after a stop so the next share reuses its m-line.
    this.shareTrack = share || null;
    this.shareSender = null;
    this.shareTrackIds = new Set(); // the peer's share tracks (receiver side)
    this.requestSlots = []; // receive slots added on the peer's request, not negotiated yet
    this.sas = null;
    this.negotiated = null;
    this.negotiations = 0; // remote descriptions applied
    this.sentCandidates = [];
    this.remoteCandidates = [];
    this.restartAttempt = 0;
    this.timers = {};
    this.chain = Promise.resolve();
    this.chat = null;
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
    pc.ontrack = (e) => {
      const share = isShareTrack(e);
      if (share) this.shareTrackIds.add(e.track.id);
      this.onTrack(e, share);
    };
    pc.ondatachannel = (e) => {
      if (e.channel.label === 'chat') this.bindChat(e.channel);
      else if (e.channel.label.startsWith('file:')) this.onFileChannel(this, e.channel);
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
    // After the camera, so the camera keeps the first video m-line.
    if (this.shareTrack) this.addShareSender(this.shareTrack);
  }

  // ---- screen share (docs/protocol.md "Screen share") ----

  // setShare starts sending our screen share (track) or stops it (null);
  // either renegotiates.
  setShare(track) {
    return this.enqueue(() => {
      this.shareTrack = track;
      if (!this.pc) return;
      if (track) {
        this.addShareSender(track);
      } else if (this.shareSender && this.shareSender.track) {
        this.pc.removeTrack(this.shareSender);
      }
    });
  }

  // addShareSender puts the share on its own m-line: the one of an earlier
  // share when there is one, else a new one. The impolite side adds a
  // transceiver of its own; the polite side adds a track, which binds to
  // the receive slot it asks the impolite side for (kinds: ["video"]) or
  // to a video m-line of the peer's that never carried ours.
  addShareSender(track) {
    const pc = this.pc;
    const tr = this.shareSender && pc.getTransceivers().find((t) => t.sender === this.shareSender);
    if (tr && tr.sender.track === track) return; // sent already (setup took it)
    const stream = new MediaStream([track]);
    if (tr && !tr.stopped && tr.currentDirection !== 'stopped') {
      tr.sender.replaceTrack(track).catch((err) => log('share track not replaced', err));
      if (typeof tr.sender.setStreams === 'function') tr.sender.setStreams(stream);
      tr.direction = tr.direction === 'inactive' || tr.direction === 'sendonly' ? 'sendonly' : 'sendrecv';
      return;
    }
    if (this.polite) {
      this.shareSender = pc.addTrack(track, stream);
    } else {
      this.shareSender = pc.addTransceiver(track, { direction: 'sendrecv', streams: [stream] }).sender;
    }
  }

  // shareMid is the m-line our share is sent on, null when not sharing.
  shareMid() {
    if (!this.pc || !this.shareSender || !this.shareSender.track) return null;
    const tr = this.pc.getTransceivers().find((t) => t.sender === this.shareSender);
    return tr ? tr.mid : null;
  }

  // sharing tells whether our share goes to this peer (negotiated).
  sharing() {
    if (!this.pc || !this.shareSender || !this.shareSender.track) return false;
    const tr = this.pc.getTransceivers().find((t) => t.sender === this.shareSender);
    return !!tr && sends(tr.currentDirection);
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
      } else if (m.kind === 'file') {
        this.onFileMessage(this, m.msg);
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

  // sendControl sends one control message (file transfer) on the chat
  // channel; false when it cannot.
  sendControl(msg) {
    const dc = this.chat;
    if (this.terminal() || !dc || dc.readyState !== 'open') return false;
    try {
      dc.send(JSON.stringify(msg));
    } catch (err) {
      log('control message not sent', err);
      return false;
    }
    return true;
  }

  // openFileChannel opens the data channel of an accepted transfer
  // (`file:ID`, ordered and reliable); null when the call is gone.
  openFileChannel(id) {
    if (this.terminal() || !this.pc) return null;
    try {
      return this.pc.createDataChannel('file:' + id, { ordered: true });
    } catch (err) {
      log('file channel not opened', err);
      return null;
    }
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
  // yet, so the impolite side adds receive slots for them. Starting or
  // stopping to send on an m-line we have (a share again, a share stopped)
  // needs a new offer too: it is asked for without kinds.
  requestOffer(restart, fromEvent) {
    const kinds = [];
    let changed = false;
    for (const tr of this.pc.getTransceivers()) {
      if (tr.mid === null && tr.sender.track) kinds.push(tr.sender.track.kind);
      if (tr.mid !== null && !tr.stopped && tr.currentDirection && tr.currentDirection !== 'stopped' &&
          sends(tr.direction) !== sends(tr.currentDirection)) changed = true;
    }
    // Nothing to add or change and no restart: an event we need not bother the peer with.
    if (fromEvent && kinds.length === 0 && !changed && !restart) return;
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
    // The peer names every track of its own without an m-line, each time
    // it asks: a request repeated before our offer reached it asks for
    // slots we added already (not negotiated yet), not for more.
    const want = { audio: 0, video: 0 };
    for (const k of p.kinds || []) {
      if (k === 'audio' || k === 'video') want[k]++;
    }
    for (const tr of this.requestSlots) {
      if (tr.currentDirection === null && !tr.stopped) want[tr.receiver.track.kind]--;
    }
    this.requestSlots = this.requestSlots.filter((tr) => tr.currentDirection === null && !tr.stopped);
    for (const k of ['audio', 'video']) {
      for (let i = 0; i < want[k]; i++) this.requestSlots.push(pc.addTransceiver(k, { direction: 'recvonly' }));
    }
    await this.negotiate(!!p.restart, false);
  }

  sendDescription(type, sdp) {
    const out = filterSdpCandidates(setShareMsid(sdp, this.shareMid()), (c) => scrubCandidate(c, this.relayOnly));
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
    // With `to`, the bye ends this pair only: the page stays in the room
    // and its calls with the others go on.
    this.signal('bye', { reason }, this.remoteId);
  }

  // end stops this pair without a bye of its own: the page said one bye
  // to the whole room when it left.
  end(reason) {
    this.setState('ended', reason);
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

  // stats summarizes getStats for the page and for tests. A screen share
  // is counted apart from the camera: shareIn (the peer's latest) and
  // shareOut (ours).
  async stats() {
    if (!this.pc) return null;
    // Every sender's stats stay after it stops: the share's m-line is
    // known by its mid whether or not it sends now.
    const shareTr = this.shareSender && this.pc.getTransceivers().find((t) => t.sender === this.shareSender);
    const shareMid = shareTr ? shareTr.mid : null;
    const report = await this.pc.getStats();
    const out = {
      videoIn: null, videoOut: null, audioIn: null, audioOut: null, shareIn: null, shareOut: null, pair: null,
      localCandidates: [], remoteCandidates: [],
    };
    let pairId = null;
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video' && this.shareTrackIds.has(r.trackIdentifier)) {
        out.shareIn = {
          framesDecoded: r.framesDecoded || 0, framesPerSecond: r.framesPerSecond || 0, width: r.frameWidth || 0, height: r.frameHeight || 0,
          codecId: r.codecId,
        };
      } else if (r.type === 'outbound-rtp' && r.kind === 'video' && shareMid !== null && r.mid === shareMid) {
        if (!this.shareSender.track) return;
        out.shareOut = {
          framesEncoded: r.framesEncoded || 0, framesPerSecond: r.framesPerSecond || 0, width: r.frameWidth || 0, height: r.frameHeight || 0,
          qualityLimitationReason: r.qualityLimitationReason || '', codecId: r.codecId,
        };
      } else if (r.type === 'inbound-rtp' && r.kind === 'video') {
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
    for (const k of ['videoIn', 'videoOut', 'audioIn', 'audioOut', 'shareIn', 'shareOut']) {
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

