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
  grid: $('grid'),
  gridEmpty: $('grid-empty'),
  localVideo: $('local-video'),
  sasList: $('sas-list'),
  mute: $('mute'),
  camera: $('camera'),
  hangup: $('hangup'),
  stats: $('stats'),
  chatLog: $('chat-log'),
  chatForm: $('chat-form'),
  chatText: $('chat-text'),
};

export const MAX_CHAT_LINES = 200; // the page keeps the last ones

// Tile is one remote peer's place in the grid: its video (which also plays
// its audio: the browser mixes the peers), name, camera-off placeholder and
// muted badge, and its line in the list of security codes.
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
    ui.grid.append(this.el);
    ui.sasList.append(this.sasEl);
    layout();
  }

  addTrack(track) {
    if (!this.stream.getTracks().includes(track)) this.stream.addTrack(track);
    if (this.video.srcObject !== this.stream) this.video.srcObject = this.stream;
  }

  // render shows the peer's name, its camera placeholder (its last frame
  // would freeze there) and muted badge, and the pair's security code.
  render(p) {
    const who = p.remoteName || 'Someone';
    this.nameEl.textContent = who;
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
    this.video.srcObject = null;
    this.el.remove();
    this.sasEl.remove();
    layout();
  }
}

// layout tells the style sheet how many tiles there are.
function layout() {
  const n = ui.grid.children.length;
  ui.grid.dataset.count = String(n);
  ui.gridEmpty.hidden = n > 0;
}

export function removeAllTiles() {
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

export function setCameraButton(off) {
  ui.camera.textContent = off ? 'Camera on' : 'Camera off';
  ui.camera.setAttribute('aria-pressed', String(off));
}

// statsLines is the stats block for one peer.
export function statsLines(name, st) {
  const lines = [name];
  if (st.videoIn) lines.push(`  video in  ${st.videoIn.width}x${st.videoIn.height} ${Math.round(st.videoIn.framesPerSecond)} fps, ${st.videoIn.framesDecoded} frames (${st.videoIn.codec})`);
  if (st.videoOut) lines.push(`  video out ${st.videoOut.width}x${st.videoOut.height} ${Math.round(st.videoOut.framesPerSecond)} fps, ${st.videoOut.framesEncoded} frames (${st.videoOut.codec})`);
  if (st.audioIn) lines.push(`  audio in  ${st.audioIn.packetsReceived} packets, ${st.audioIn.packetsLost} lost (${st.audioIn.codec})`);
  if (st.pair) lines.push(`  path      ${st.pair.localType} → ${st.pair.remoteType}, rtt ${st.pair.rttMs} ms`);
  return lines;
}
