// The page's DOM: the join form, the grid of remote tiles, the list of
// security codes, chat, stats and the status line. Text from other people
// (names, chat) is only ever set as textContent.

const $ = (id) => document.getElementById(id);

export const ui = {
  form: $('join-form'),
  room: $('room'),
  name: $('name'),
  password: $('password'),
  relay: $('relay'),
  join: $('join'),
  call: $('call'),
  status: $('status'),
  error: $('error'),
  videos: $('videos'),
  stage: $('stage'),
  grid: $('grid'),
  gridEmpty: $('grid-empty'),
  localVideo: $('local-video'),
  sasList: $('sas-list'),
  mute: $('mute'),
  camera: $('camera'),
  share: $('share'),
  shareStop: $('share-stop'),
  sharingBar: $('sharing-bar'),
  hangup: $('hangup'),
  stats: $('stats'),
  chatLog: $('chat-log'),
  chatForm: $('chat-form'),
  chatText: $('chat-text'),
  sendFile: $('send-file'),
  fileInput: $('file-input'),
  files: $('files'),
  fileList: $('file-list'),
  fileTemplate: $('file-template'),
};

export const MAX_CHAT_LINES = 200; // the page keeps the last ones

// Tile is one remote peer's place in the grid: its video (which also plays
// its audio: the browser mixes the peers), name, camera-off placeholder and
// muted badge, its line in the list of security codes, and its screen share
// on the stage while it shares.
export class Tile {
  constructor(id) {
    this.id = id;
    this.el = $('tile-template').content.firstElementChild.cloneNode(true);
    this.el.dataset.peer = id;
    this.video = this.el.querySelector('video');
    this.off = this.el.querySelector('.remote-off');
    this.offText = this.el.querySelector('.remote-off-text');
    this.nameEl = this.el.querySelector('.name');
    this.mutedEl = this.el.querySelector('.muted');
    // The page owns the stream the video plays: tracks are added as they
    // arrive, whatever stream ids the peer gave them.
    this.stream = new MediaStream();
    this.sasEl = $('sas-template').content.firstElementChild.cloneNode(true);
    this.sasEl.dataset.peer = id;
    // The peer's screen share: its track and transceiver (set while the
    // peer sends one), and the element on the stage (while shown).
    this.shareTrack = null;
    this.shareTransceiver = null;
    this.shareEl = null;
    this.shareVideo = null;
    this.shareName = '';
    this.watched = new WeakSet(); // tracks and streams we listen to
    ui.grid.append(this.el);
    ui.sasList.append(this.sasEl);
    layout();
  }

  addTrack(track) {
    if (!this.stream.getTracks().includes(track)) this.stream.addTrack(track);
    if (this.video.srcObject !== this.stream) this.video.srcObject = this.stream;
  }

  // addShare shows the peer's screen share (ontrack of a share track). It
  // goes away when the peer stops sending it: the track is muted or ended,
  // leaves its stream, or its transceiver stops receiving (checkShare).
  addShare(ev) {
    const track = ev.track;
    this.shareTrack = track;
    this.shareTransceiver = ev.transceiver || null;
    if (!this.watched.has(track)) {
      this.watched.add(track);
      track.addEventListener('mute', () => this.hideShare(track));
      track.addEventListener('ended', () => this.hideShare(track));
      // Sent again on the same m-line: the same track comes back.
      track.addEventListener('unmute', () => {
        if (this.shareTrack === track) this.showShare();
      });
    }
    for (const s of ev.streams) {
      if (this.watched.has(s)) continue;
      this.watched.add(s);
      s.addEventListener('removetrack', (e) => this.hideShare(e.track));
    }
    this.showShare();
  }

  showShare() {
    const track = this.shareTrack;
    if (!track || track.readyState === 'ended') return;
    if (!this.shareEl) {
      this.shareEl = $('share-template').content.firstElementChild.cloneNode(true);
      this.shareEl.dataset.peer = this.id;
      this.shareVideo = this.shareEl.querySelector('video');
      this.shareEl.querySelector('.name').textContent = this.shareName;
      ui.stage.append(this.shareEl);
    }
    const cur = this.shareVideo.srcObject;
    if (!cur || cur.getVideoTracks()[0] !== track) this.shareVideo.srcObject = new MediaStream([track]);
    layout();
  }

  // hideShare takes the share off the stage when track is the one shown.
  hideShare(track) {
    if (track !== this.shareTrack || !this.shareEl) return;
    this.shareVideo.srcObject = null;
    this.shareEl.remove();
    this.shareEl = null;
    this.shareVideo = null;
    layout();
  }

  // checkShare hides a share whose m-line no longer carries it (the peer
  // renegotiated it away without the browser saying so on the track).
  // Only between negotiations (stable): while an offer is being answered
  // the direction still says what the last one did.
  checkShare(stable) {
    const tr = this.shareTransceiver;
    if (!stable || !this.shareEl || !tr) return;
    const dir = tr.currentDirection;
    if (tr.stopped || dir === 'stopped' || dir === 'sendonly' || dir === 'inactive') this.hideShare(this.shareTrack);
  }

  // render shows the peer's name, its camera placeholder (its last frame
  // would freeze there) and muted badge, and the pair's security code.
  render(p) {
    const who = p.remoteName || 'Someone';
    this.nameEl.textContent = who;
    this.shareName = who + '\'s screen';
    if (this.shareEl) this.shareEl.querySelector('.name').textContent = this.shareName;
    const m = p.remoteMedia;
    const camOff = !!m && !m.video;
    this.off.hidden = !camOff;
    this.video.classList.toggle('off', camOff);
    if (camOff) this.offText.textContent = who + '\'s camera is off';
    this.mutedEl.hidden = !(m && !m.audio);
    if (m && !m.audio) this.mutedEl.textContent = p.remoteName ? p.remoteName + ' is muted' : 'Muted';
    this.el.classList.toggle('connected', p.state === 'connected');
    this.sasEl.querySelector('.who').textContent = who;
    const code = p.state === 'connected' ? p.sas : null;
    this.sasEl.querySelector('.sas-digits').textContent = code ? code.digits.slice(0, 3) + ' ' + code.digits.slice(3) : '--- ---';
    this.sasEl.querySelector('.sas-words').textContent = code ? code.words.join(' ') : '';
  }

  remove() {
    this.hideShare(this.shareTrack);
    this.video.srcObject = null;
    this.el.remove();
    this.sasEl.remove();
    layout();
  }
}

// layout tells the style sheet how many tiles there are, and whether a
// share takes the stage.
function layout() {
  const n = ui.grid.children.length;
  ui.grid.dataset.count = String(n);
  ui.gridEmpty.hidden = n > 0;
  ui.stage.dataset.count = String(ui.stage.children.length);
  if (ui.stage.children.length > 0) ui.videos.dataset.share = '';
  else delete ui.videos.dataset.share;
}

export function removeAllTiles() {
  ui.stage.replaceChildren();
  ui.grid.replaceChildren();
  ui.sasList.replaceChildren();
  layout();
}

export function setStatus(text) {
  ui.status.textContent = text;
}

export function setError(text) {
  ui.error.textContent = text;
  ui.error.hidden = text === '';
}

// addChatLine shows one chat line; the text comes from other people.
export function addChatLine(line) {
  const li = document.createElement('li');
  li.className = line.mine ? 'mine' : 'theirs';
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = line.from + ': ';
  li.append(who, document.createTextNode(line.text));
  ui.chatLog.append(li);
  while (ui.chatLog.children.length > MAX_CHAT_LINES) ui.chatLog.firstElementChild.remove();
  li.scrollIntoView({ block: 'nearest' });
}

export function setMuteButton(muted) {
  ui.mute.textContent = muted ? 'Unmute' : 'Mute';
  ui.mute.setAttribute('aria-pressed', String(muted));
}

// setSharing shows whether we share our screen: the bar with its Stop
// button, and the Share button's state.
export function setSharing(on) {
  ui.sharingBar.hidden = !on;
  ui.share.textContent = on ? 'Stop sharing' : 'Share screen';
  ui.share.setAttribute('aria-pressed', String(on));
}

export function setCameraButton(off) {
  ui.camera.textContent = off ? 'Camera on' : 'Camera off';
  ui.camera.setAttribute('aria-pressed', String(off));
}

// statsLines is the stats block for one peer.
export function statsLines(name, st) {
  const lines = [name];
  if (st.videoIn) lines.push(`  video in  ${st.videoIn.width}x${st.videoIn.height} ${Math.round(st.videoIn.framesPerSecond)} fps, ${st.videoIn.framesDecoded} frames (${st.videoIn.codec})`);
  if (st.videoOut) lines.push(`  video out ${st.videoOut.width}x${st.videoOut.height} ${Math.round(st.videoOut.framesPerSecond)} fps, ${st.videoOut.framesEncoded} frames (${st.videoOut.codec})`);
  if (st.shareIn) lines.push(`  share in  ${st.shareIn.width}x${st.shareIn.height} ${Math.round(st.shareIn.framesPerSecond)} fps, ${st.shareIn.framesDecoded} frames (${st.shareIn.codec})`);
  if (st.shareOut) lines.push(`  share out ${st.shareOut.width}x${st.shareOut.height} ${Math.round(st.shareOut.framesPerSecond)} fps, ${st.shareOut.framesEncoded} frames (${st.shareOut.codec})`);
  if (st.audioIn) lines.push(`  audio in  ${st.audioIn.packetsReceived} packets, ${st.audioIn.packetsLost} lost (${st.audioIn.codec})`);
  if (st.pair) lines.push(`  path      ${st.pair.localType} → ${st.pair.remoteType}, rtt ${st.pair.rttMs} ms`);
  return lines;
}
