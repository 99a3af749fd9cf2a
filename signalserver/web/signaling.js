// The signaling connection (docs/protocol.md): one WebSocket to /ws, the
// join with the resume token, reconnects with backoff, and relayed call
// signals put on the wire like app/signaling.go.

export class Signaling {
  // onMessage(m) gets every message the server sends; onLost(text) is
  // called when the connection drops and a reconnect is scheduled;
  // onFinal(text) when the server refused us for good (close 1008/1009).
  constructor({ onMessage, onLost, onFinal }) {
    this.onMessage = onMessage;
    this.onLost = onLost;
    this.onFinal = onFinal;
    this.ws = null;
    this.joinInfo = null; // {room, name, password}
    this.resumeToken = '';
    this.iceServers = [];
    this.capacity = 0; // joined.capacity: peers the room holds, us included
    this.peerId = '';
    this.closed = true;
    this.reconnectDelay = 1000;
  }

  url() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  }

  // open connects and joins; it reconnects and resumes on its own until
  // close.
  open(joinInfo) {
    this.joinInfo = joinInfo;
    this.closed = false;
    this.connect();
  }

  connect() {
    const sock = new WebSocket(this.url());
    this.ws = sock;
    sock.onopen = () => this.sendJoin();
    sock.onmessage = (e) => {
      let m;
      try {
        m = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (m === null || typeof m !== 'object') return;
      this.track(m);
      this.onMessage(m);
    };
    sock.onclose = (e) => {
      if (sock !== this.ws) return;
      this.ws = null;
      if (this.closed) return;
      // Policy and size errors do not heal by retrying (docs/protocol.md).
      if (e.code === 1008 || e.code === 1009) {
        this.closed = true;
        this.onFinal('the server refused the connection');
        return;
      }
      this.onLost('signaling lost, reconnecting');
      setTimeout(() => {
        if (!this.closed && this.ws === null) this.connect();
      }, this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 8000);
    };
  }

  // track keeps what later joins and sessions need from the server's
  // messages.
  track(m) {
    if (m.type === 'joined') {
      this.reconnectDelay = 1000;
      this.peerId = typeof m.peer_id === 'string' ? m.peer_id : '';
      this.resumeToken = m.resume || '';
      this.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
      this.capacity = Number.isInteger(m.capacity) ? m.capacity : 0;
    } else if (m.type === 'refresh') {
      if (m.resume) this.resumeToken = m.resume;
      if (Array.isArray(m.ice_servers)) this.iceServers = m.ice_servers;
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(Object.assign({ v: 1 }, msg)));
  }

  // signal sends one call signal: the payload travels in "sdp" (offer,
  // answer, offer request, bye) or "candidate". to is the remote peer's
  // id; only the page's farewell to the whole room omits it.
  signal(type, payload, to) {
    const m = { type };
    if (to) m.to = to;
    if (type === 'candidate') m.candidate = payload;
    else m.sdp = payload;
    if (type === 'bye' && payload.reason) m.reason = payload.reason;
    this.send(m);
  }

  sendJoin() {
    const j = this.joinInfo;
    const m = { type: 'join', room: j.room, name: j.name };
    if (j.password) m.password = j.password;
    if (this.resumeToken) m.resume = this.resumeToken;
    this.send(m);
  }

  // close leaves for good: no reconnect, the resume token forgotten.
  close() {
    this.closed = true;
    this.resumeToken = '';
    if (this.ws) {
      this.ws.close(1000);
      this.ws = null;
    }
  }

  // drop closes the WebSocket as a network failure would (tests of
  // reconnect and resume); it reconnects and resumes on its own.
  drop() {
    if (this.ws) this.ws.close(4000, 'dropped');
  }
}
