// Peercall browser client: joins a room on this signaling server and calls
// every other peer in it, a mesh of one Session (peer.js) per remote peer
// keyed by peer id, with the same negotiation, ICE rules and short
// authentication string as the desktop app (docs/browser.md,
// docs/protocol.md, docs/ice-policy.md, call/session.go). Vanilla JS
// modules, no dependencies.

import { log, params } from './util.js';
import { SAS_WORDS, normalizeFingerprint, parseFingerprint, sas } from './sas.js';
import { ensureOpusFEC, filterSdpCandidates, hasOpusFEC, isTurnServer, scrubCandidate, setShareMsid } from './sdp.js';
import { Session, decodeDataMessage } from './peer.js';
import { Signaling } from './signaling.js';
import { LocalMedia, LocalShare } from './media.js';
import { FileTransfers, decodeFileMessage, formatBytes, formatETA, sanitizeName } from './files.js';
import {
  MAX_CHAT_LINES, Tile, addChatLine, removeAllTiles, setCameraButton, setError, setMuteButton, setSharing, setStatus,
  statsLines, ui,
} from './ui.js';

// peers maps a remote peer id to {session, tile, stats}, in join order.
// Signals are routed here by their `from`; a peer leaving ends only its own
// entry.
const peers = new Map();
const media = new LocalMedia();
// The browser's own "Stop sharing" ends the share like our Stop button.
const share = new LocalShare(() => stopShare().catch((err) => log('share stop failed', err)));
let leaving = true; // not in a call (before the first join, after hang-up)
let statsTimer = 0;
let signalNote = ''; // what the signaling connection is doing, when not joined

// view is what the page shows, for tests and curious users. Its top-level
// call fields mirror the first remote peer still in the call (the only one
// in a 1:1 call), or the last call that ended; peers has one entry per
// remote peer, in join order.
const view = {
  state: 'idle', // idle | joining | waiting | starting | connecting | connected | reconnecting | ended | failed
  reason: '',
  peerId: '',
  capacity: 0, // joined.capacity: how many the room holds, us included
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
  peers: [], // per remote peer: the fields above plus id and name
  chat: [], // {mine, from, text, ts}, oldest first
  sharing: false, // we share our screen
  error: '',
};

// files runs the file transfers with every peer (files.js); view.files
// is its snapshot.
const files = new FileTransfers({
  peers: () => liveEntries().map((e) => e.session),
  ui: {
    sendBtn: ui.sendFile, input: ui.fileInput, dropZone: document.body, dropMark: ui.call,
    section: ui.files, list: ui.fileList, template: ui.fileTemplate,
  },
  onError: (text) => showError(text),
});
Object.defineProperty(view, 'files', { enumerable: true, get: () => files.snapshot() });

const signaling = new Signaling({
  onMessage,
  onLost: (text) => {
    signalNote = text;
    render();
  },
  onFinal: (text) => leave(view.error || text),
});

// peerView is one session as the view shows it.
function peerView(s, stats) {
  return {
    id: s.remoteId,
    name: s.remoteName,
    state: s.state,
    reason: s.reason,
    remoteId: s.remoteId,
    remoteName: s.remoteName,
    remoteMedia: s.remoteMedia ? { audio: s.remoteMedia.audio, video: s.remoteMedia.video } : null,
    polite: s.polite,
    sas: s.sas ? { digits: s.sas.digits, words: s.sas.words.slice(), localFingerprint: s.sas.localFingerprint, remoteFingerprint: s.sas.remoteFingerprint } : null,
    negotiated: s.negotiated,
    negotiations: s.negotiations,
    stats,
    sentCandidates: s.sentCandidates.slice(),
    remoteCandidates: s.remoteCandidates.slice(),
  };
}

function liveEntries() {
  return [...peers.values()].filter((e) => !e.session.terminal());
}

function render() {
  const live = liveEntries();
  view.peers = live.map((e) => peerView(e.session, e.stats));
  if (view.peers.length > 0) {
    const p = view.peers[0];
    for (const k of ['state', 'reason', 'remoteId', 'remoteName', 'remoteMedia', 'polite', 'sas', 'negotiated', 'negotiations', 'stats', 'sentCandidates', 'remoteCandidates']) {
      view[k] = p[k];
    }
  }
  for (const e of live) {
    e.tile.render(peerView(e.session, null));
    e.tile.checkShare(!!e.session.pc && e.session.pc.signalingState === 'stable');
  }
  if (signalNote) {
    setStatus(signalNote);
  } else if (live.length > 1) {
    const names = live.map((e) => e.session.remoteName || 'someone');
    const connected = live.filter((e) => e.session.state === 'connected').length;
    setStatus(`${connected} of ${live.length} connected: ${names.join(', ')}`);
  } else {
    setStatus(view.reason || view.state);
  }
}

// showError shows text, or what the call goes without when there is none.
function showError(text) {
  const shown = text || media.note;
  view.error = shown;
  setError(shown);
}

// addChat records and shows one chat line.
function addChat(mine, text, from) {
  const line = { mine, from: mine ? 'You' : (from || 'Them'), text, ts: Date.now() };
  view.chat.push(line);
  while (view.chat.length > MAX_CHAT_LINES) view.chat.shift();
  addChatLine(line);
}

// sendChat sends the typed line to everyone connected.
function sendChat(ev) {
  ev.preventDefault();
  const text = ui.chatText.value.trim();
  if (text === '') return;
  const live = liveEntries();
  let why = live.length === 0 ? 'Chat works once the call is connected.' : '';
  let sent = 0;
  for (const e of live) {
    const w = e.session.sendChat(text);
    if (w) why = why || w;
    else sent++;
  }
  if (sent === 0) {
    showError(why);
    return;
  }
  showError('');
  addChat(true, text);
  ui.chatText.value = '';
}

function sendMediaState() {
  for (const e of liveEntries()) e.session.sendMedia(media.state());
}

function onMessage(m) {
  switch (m.type) {
    case 'joined':
      signalNote = '';
      view.peerId = signaling.peerId;
      view.capacity = signaling.capacity;
      showError('');
      onJoined(m);
      break;
    case 'peer-joined': {
      const e = peers.get(m.peer_id);
      if (e && !e.session.terminal()) {
        if (m.resumed) {
          e.session.peerResumed();
          break;
        }
        // The same id joined afresh: the old call with it is gone.
        e.session.end('peer rejoined');
      }
      addPeer(m.peer_id, m.name);
      break;
    }
    case 'peer-left': {
      const e = peers.get(m.peer_id);
      if (e) e.session.peerLeft(m.reason);
      break;
    }
    case 'offer':
    case 'answer':
    case 'candidate':
    case 'bye': {
      const e = peers.get(m.from);
      if (e && !e.session.terminal()) {
        e.session.handleSignal(m.type, m.type === 'candidate' ? m.candidate : m.sdp || (m.type === 'bye' ? { reason: m.reason } : null));
      }
      break;
    }
    case 'error':
      showError(m.message || m.code || 'error');
      break;
    case 'server-shutdown':
      signalNote = 'the server is restarting';
      render();
      break;
    case 'refresh':
      // Renewed TURN credentials for the next ICE restart (docs/protocol.md).
      if (Array.isArray(m.ice_servers)) {
        for (const e of liveEntries()) e.session.updateIceServers(signaling.iceServers);
      }
      break;
    default:
      break;
  }
}

// onJoined reconciles the calls with the room as the server lists it.
// Resumed: calls with peers still listed go on (with an ICE restart),
// calls with peers no longer listed end, new peers are called. Not
// resumed: everybody knows us by a new id, so every call starts afresh.
function onJoined(m) {
  const listed = new Map();
  for (const p of Array.isArray(m.peers) ? m.peers : []) {
    if (p && typeof p.id === 'string') listed.set(p.id, typeof p.name === 'string' ? p.name : '');
  }
  for (const e of liveEntries()) {
    const id = e.session.remoteId;
    if (!m.resumed) e.session.end('signaling restarted');
    else if (listed.has(id)) e.session.peerResumed();
    else e.session.peerLeft('timeout');
  }
  for (const [id, name] of listed) {
    const e = peers.get(id);
    if (!e || e.session.terminal()) addPeer(id, name);
  }
  if (liveEntries().length === 0 && !leaving) {
    view.state = 'waiting';
    view.reason = 'waiting for someone to join room ' + signaling.joinInfo.room;
  }
  render();
}

// addPeer starts the call with one remote peer.
function addPeer(remoteId, remoteName) {
  if (leaving) return;
  const relayOnly = ui.relay.checked;
  if (relayOnly && !signaling.iceServers.some(isTurnServer)) {
    // Like call.ErrNoRelayServer: without TURN, relay only cannot connect.
    leave('no relay server');
    showError('Relay only needs a TURN server, and this server offers none.');
    return;
  }
  const tile = new Tile(remoteId);
  const s = new Session({
    localId: signaling.peerId,
    remoteId,
    remoteName: typeof remoteName === 'string' ? remoteName : '',
    localMedia: () => media.state(),
    iceServers: signaling.iceServers,
    relayOnly,
    stream: media.stream,
    share: share.track, // a peer who joins while we share gets it too
    signal: (type, payload, to) => signaling.signal(type, payload, to),
    onUpdate: onSessionUpdate,
    onChat: (text) => addChat(false, text, s.remoteName),
    onFileMessage: (sess, msg) => files.onMessage(sess, msg),
    onFileChannel: (sess, dc) => files.onChannel(sess, dc),
    onTrack: (e, isShare) => (isShare ? tile.addShare(e) : tile.addTrack(e.track)),
  });
  peers.set(remoteId, { session: s, tile, stats: null });
  s.start();
  render();
}

function onSessionUpdate(s) {
  const e = peers.get(s.remoteId);
  if (!e || e.session !== s) return;
  if (s.terminal()) {
    files.peerGone(s.remoteId);
    e.tile.remove();
    peers.delete(s.remoteId);
    if (liveEntries().length === 0) {
      view.state = s.state;
      view.reason = !leaving && signaling.ws ? s.reason + '; waiting for someone to join' : s.reason;
    }
  }
  render();
}

async function pollStats() {
  const live = liveEntries();
  const lines = [];
  const mic = media.processingLine();
  if (mic) lines.push(mic);
  for (const e of live) {
    const st = await e.session.stats();
    if (!st) continue;
    e.stats = st;
    lines.push(...statsLines(e.session.remoteName || 'peer', st));
  }
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
  ui.form.hidden = true;
  ui.call.hidden = false;
  if (location.pathname !== '/r/' + room) history.replaceState(null, '', '/r/' + room + location.search);
  const stream = await media.open();
  showError('');
  setCameraButton(media.cameraOff);
  if (stream) ui.localVideo.srcObject = stream;
  statsTimer = setInterval(() => pollStats().catch((err) => log('stats failed', err)), 1000);
  view.state = 'joining';
  view.reason = 'connecting to the server';
  render();
  signaling.open({ room, name, password: ui.password.value });
}

// leave hangs up on everyone: one bye without `to` to the whole room,
// which also takes us out of it at once.
function leave(reason) {
  if (!leaving && signaling.peerId) signaling.signal('bye', { reason: 'hung up' });
  leaving = true;
  for (const e of liveEntries()) e.session.end('hung up');
  peers.clear();
  files.clear();
  removeAllTiles();
  signaling.close();
  clearInterval(statsTimer);
  share.stop();
  view.sharing = false;
  setSharing(false);
  media.stop();
  ui.localVideo.srcObject = null;
  signalNote = '';
  view.state = 'ended';
  view.reason = reason;
  render();
  ui.call.hidden = true;
  ui.form.hidden = false;
}

function toggleMute() {
  media.setMuted(!media.muted);
  setMuteButton(media.muted);
  sendMediaState();
}

async function toggleCamera() {
  if (!media.stream) return;
  const sessions = liveEntries().map((e) => e.session);
  if (!media.cameraOff) {
    media.cameraOff = true;
    setCameraButton(true);
    sendMediaState(); // first, so the peers show the placeholder, not a frozen frame
    await Promise.all(sessions.map((s) => s.setCamera(null)));
    media.releaseCamera();
    return;
  }
  setCameraButton(false);
  try {
    const t = await media.acquireCamera();
    ui.localVideo.srcObject = media.stream;
    await Promise.all(sessions.map((s) => s.setCamera(t)));
    sendMediaState(); // after the track is back: its first frame follows at once
  } catch (err) {
    log('camera unavailable', err);
    showError('The camera could not be turned back on.');
    media.cameraOff = true;
    setCameraButton(true);
    sendMediaState();
  }
}

// startShare asks the browser for a screen to share (its own picker) and
// sends it to everyone in the call, and to everyone who joins while it
// runs (docs/browser.md "Screen sharing").
async function startShare() {
  if (share.track || leaving) return;
  let track;
  try {
    track = await share.start();
  } catch (err) {
    log('screen share not started', err);
    // NotAllowedError: the person closed the picker; nothing to say.
    if (!err || err.name !== 'NotAllowedError') showError('The screen could not be shared.');
    return;
  }
  if (leaving) {
    share.stop();
    return;
  }
  view.sharing = true;
  setSharing(true);
  render();
  await Promise.all(liveEntries().map((e) => e.session.setShare(track)));
}

// stopShare ends our share on every peer connection (renegotiated away).
async function stopShare() {
  share.stop();
  view.sharing = false;
  setSharing(false);
  render();
  await Promise.all(liveEntries().map((e) => e.session.setShare(null)));
}

function toggleShare() {
  (share.track ? stopShare() : startShare()).catch((err) => log('share toggle failed', err));
}

window.peercall = {
  view,
  // dropSignaling closes the WebSocket as a network failure would (tests
  // of reconnect and resume); the page reconnects and resumes on its own.
  dropSignaling: () => signaling.drop(),
  sas, normalizeFingerprint, parseFingerprint, ensureOpusFEC, hasOpusFEC, scrubCandidate, filterSdpCandidates, decodeDataMessage,
  setShareMsid,
  words: SAS_WORDS,
  // File transfers (files.js): the helpers, and sendFiles(files) as the
  // Send file button and a drop do (tests build File objects in the page).
  sanitizeName, decodeFileMessage, formatBytes, formatETA,
  sendFiles: (list) => files.send([...list]),
  acceptFile: (id) => files.accept(id),
  declineFile: (id) => files.decline(id),
  cancelFile: (id) => files.cancel(id),
};

// window.peercallState() is the per-peer state of the call as the page
// plays it, for tests that put the page in a room with other clients:
// one entry per remote peer in join order, {id, name, state, polite,
// videoWidth, videoHeight, currentTime (of that peer's <video>: it
// advances while the video plays), sas (the six digits, '' until
// connected), sasWords, remoteMedia ({audio, video} or null), camOffShown,
// mutedShown (the tile's placeholder and badge), shareWidth, shareHeight,
// shareTime (of that peer's screen share as shown on the stage: 0 when it
// shares nothing), sharingTo (our own share reaches that peer)}. Whether
// we share at all is window.peercall.view.sharing.
window.peercallState = () => liveEntries().map((e) => {
  const s = e.session;
  const v = e.tile.video;
  const sv = e.tile.shareVideo;
  return {
    id: s.remoteId,
    name: s.remoteName,
    state: s.state,
    polite: s.polite,
    videoWidth: v.videoWidth,
    videoHeight: v.videoHeight,
    currentTime: v.currentTime,
    sas: s.state === 'connected' && s.sas ? s.sas.digits : '',
    sasWords: s.state === 'connected' && s.sas ? s.sas.words.slice() : [],
    remoteMedia: s.remoteMedia ? { audio: s.remoteMedia.audio, video: s.remoteMedia.video } : null,
    camOffShown: !e.tile.off.hidden,
    mutedShown: !e.tile.mutedEl.hidden,
    shareWidth: sv ? sv.videoWidth : 0,
    shareHeight: sv ? sv.videoHeight : 0,
    shareTime: sv ? sv.currentTime : 0,
    sharingTo: s.sharing(),
  };
});

function init() {
  const m = /^\/r\/([A-Za-z0-9._-]{1,64})$/.exec(location.pathname);
  if (m) ui.room.value = m[1];
  if (params.get('name')) ui.name.value = params.get('name');
  if (params.get('relay') === '1') ui.relay.checked = true;
  ui.form.addEventListener('submit', (ev) => join(ev).catch((err) => log('join failed', err)));
  ui.mute.addEventListener('click', toggleMute);
  ui.camera.addEventListener('click', () => toggleCamera().catch((err) => log('camera toggle failed', err)));
  ui.hangup.addEventListener('click', () => leave('hung up'));
  ui.share.hidden = !LocalShare.supported();
  ui.share.addEventListener('click', toggleShare);
  ui.shareStop.addEventListener('click', () => stopShare().catch((err) => log('share stop failed', err)));
  ui.chatForm.addEventListener('submit', sendChat);
  files.bind();
  window.addEventListener('pagehide', () => {
    if (!leaving && signaling.peerId) signaling.signal('bye', { reason: 'hung up' });
  });
  render();
}

init();
