// Capture-to-presentation latency for Chromium in `bench --network
// --network-chromium`. The bench injects this script into the bundled web
// page before the page's own scripts run; the shipped page knows nothing of
// it.
//
// Sending: getUserMedia's camera becomes a 640x480 canvas captured at
// 30 fps, redrawn every ~33 ms (a timer: headless Chromium may throttle
// animation frames) with a moving picture that keeps the encoder as busy as
// a camera would (or the fake camera's frames when
// window.peercallLatencyConfig.camera is set, e.g. the bench's Y4M clip),
// and a marker holding the wall-clock time of the draw. The microphone
// stays the browser's own (fake) device.
//
// Receiving: every frame the remote videos present (requestVideoFrameCallback)
// has its marker read back; presentation time − capture time is one sample.
// Both browsers run on one host and share its clock.
//
// Call setup: the wall-clock time of the page's join (the form's submit,
// where it opens its signaling socket and camera) and of the first remote
// frame presented, for the bench's join → first frame.
//
// Marker: 16×3 cells at the frame's top-left corner, each 1/20 of the
// frame's width and 1/15 of its height (32×32 px at 640x480, one 16×16
// macroblock at 320x240), so it survives Chromium scaling the resolution
// down. 48 bits: 4 sync (1010: both colours, to set the threshold from the
// frame itself), 28 bits of the time in ms (wraps every 74 h; the reader
// unwraps it with its own clock) and a CRC-16 over the first 32.
(() => {
  'use strict';
  if (window.peercallLatency) return;

  const COLS = 16;
  const ROWS = 3;
  const CELL_W = 1 / 20; // of the frame's width
  const CELL_H = 1 / 15; // of the frame's height
  const SYNC = 0b1010;
  const TIME_MOD = 2 ** 28;
  const MIN_CONTRAST = 64; // white and black sync cells at least this far apart (0–255)
  const READ_PX = 8; // a cell's size in the reading canvas
  const FPS = 30;
  const W = 640;
  const H = 480;
  const KEEP = 20000; // samples kept between two take() calls

  function crc16(bytes) {
    let c = 0xffff;
    for (const b of bytes) {
      c ^= b << 8;
      for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    }
    return c;
  }

  // word is sync and time as one unsigned 32-bit number.
  const word = (t) => ((SYNC << 28) | (t % TIME_MOD)) >>> 0;
  const bytesOf = (w) => [(w >>> 24) & 255, (w >>> 16) & 255, (w >>> 8) & 255, w & 255];

  // bits are the 48 cells, row by row, most significant bit first.
  function bits(t) {
    const w = word(t);
    const check = crc16(bytesOf(w));
    const out = [];
    for (let i = 31; i >= 0; i--) out.push((w >>> i) & 1);
    for (let i = 15; i >= 0; i--) out.push((check >>> i) & 1);
    return out;
  }

  // cellRect is cell i's rectangle in a w×h frame, on whole pixels
  // (neighbours share edges, no seams).
  function cellRect(i, w, h) {
    const c = i % COLS;
    const r = Math.floor(i / COLS);
    const x0 = Math.round(c * CELL_W * w);
    const x1 = Math.round((c + 1) * CELL_W * w);
    const y0 = Math.round(r * CELL_H * h);
    const y1 = Math.round((r + 1) * CELL_H * h);
    return [x0, y0, x1 - x0, y1 - y0];
  }

  // draw stamps time t (ms) into a w×h 2D context.
  function draw(ctx, w, h, t) {
    const bs = bits(t);
    for (let i = 0; i < bs.length; i++) {
      ctx.fillStyle = bs[i] ? '#fff' : '#000';
      ctx.fillRect(...cellRect(i, w, h));
    }
  }

  let reader = null;
  // read returns the 28-bit time in src's marker (src: a video, canvas or
  // image of intrinsic size w×h), or -1 when there is none or it does not
  // check.
  function read(src, w, h) {
    if (!reader) {
      const cv = document.createElement('canvas');
      cv.width = COLS * READ_PX;
      cv.height = ROWS * READ_PX;
      reader = cv.getContext('2d', { willReadFrequently: true });
      reader.imageSmoothingQuality = 'medium'; // averages the pixels it shrinks
    }
    if (!(w > 0 && h > 0)) return -1;
    reader.drawImage(src, 0, 0, COLS * CELL_W * w, ROWS * CELL_H * h, 0, 0, COLS * READ_PX, ROWS * READ_PX);
    const px = reader.getImageData(0, 0, COLS * READ_PX, ROWS * READ_PX).data;
    const stride = COLS * READ_PX;
    // Each cell's mean luma over its middle half, away from the edges the
    // encoder and the scaler blur.
    const luma = [];
    for (let i = 0; i < COLS * ROWS; i++) {
      const cx = (i % COLS) * READ_PX;
      const cy = Math.floor(i / COLS) * READ_PX;
      let s = 0;
      let n = 0;
      for (let y = cy + READ_PX / 4; y < cy + (3 * READ_PX) / 4; y++) {
        for (let x = cx + READ_PX / 4; x < cx + (3 * READ_PX) / 4; x++) {
          const o = 4 * (y * stride + x);
          s += 0.299 * px[o] + 0.587 * px[o + 1] + 0.114 * px[o + 2];
          n++;
        }
      }
      luma.push(s / n);
    }
    const white = (luma[0] + luma[2]) / 2;
    const black = (luma[1] + luma[3]) / 2;
    if (white - black < MIN_CONTRAST) return -1;
    const thr = (white + black) / 2;
    let w32 = 0;
    for (let i = 0; i < 32; i++) w32 = (w32 * 2 + (luma[i] > thr ? 1 : 0));
    let check = 0;
    for (let i = 32; i < 48; i++) check = (check << 1) | (luma[i] > thr ? 1 : 0);
    if (w32 >>> 28 !== SYNC || crc16(bytesOf(w32)) !== check) return -1;
    return w32 % TIME_MOD;
  }

  // since is how long ago (ms) the marked time m was, as seen at now (ms):
  // negative when m lies slightly ahead (clocks are one, so only by
  // rounding).
  function since(m, now) {
    const d = (((now - m) % TIME_MOD) + TIME_MOD) % TIME_MOD;
    return d > TIME_MOD / 2 ? d - TIME_MOD : d;
  }

  // A seeded generator: both browsers draw the same picture.
  function rand(seed) {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  }

  // scenery is a large still picture with detail at every scale (shapes,
  // gradients, text), which the camera pans across.
  function scenery() {
    const cv = document.createElement('canvas');
    cv.width = 2 * W;
    cv.height = 2 * H;
    const g = cv.getContext('2d');
    const r = rand(16);
    const hsl = () => `hsl(${Math.floor(r() * 360)},${40 + Math.floor(r() * 50)}%,${20 + Math.floor(r() * 60)}%)`;
    const bg = g.createLinearGradient(0, 0, cv.width, cv.height);
    bg.addColorStop(0, hsl());
    bg.addColorStop(1, hsl());
    g.fillStyle = bg;
    g.fillRect(0, 0, cv.width, cv.height);
    for (let i = 0; i < 900; i++) {
      const size = 4 + r() ** 3 * 160;
      const x = r() * cv.width;
      const y = r() * cv.height;
      g.fillStyle = hsl();
      switch (i % 4) {
        case 0:
          g.fillRect(x, y, size, size * (0.3 + r()));
          break;
        case 1:
          g.beginPath();
          g.arc(x, y, size / 2, 0, 2 * Math.PI);
          g.fill();
          break;
        case 2:
          g.strokeStyle = hsl();
          g.lineWidth = 1 + r() * 4;
          g.beginPath();
          g.moveTo(x, y);
          g.lineTo(x + (r() - 0.5) * 300, y + (r() - 0.5) * 300);
          g.stroke();
          break;
        default:
          g.font = `${Math.floor(8 + size / 4)}px sans-serif`;
          g.fillText('peercall ' + Math.floor(r() * 1e6), x, y);
      }
    }
    return cv;
  }

  // picture draws frame f of the moving picture: a pan and sway over the
  // scenery, and two balls crossing it.
  let scene = null;
  function picture(g, f) {
    if (!scene) scene = scenery();
    const x = (W / 2) * (1 + Math.sin(f / 90));
    const y = (H / 2) * (1 + Math.sin(f / 53));
    g.drawImage(scene, x, y, W, H, 0, 0, W, H);
    for (const [k, hue] of [[1, 20], [2, 200]]) {
      g.fillStyle = `hsl(${hue},80%,50%)`;
      g.beginPath();
      g.arc(W * (0.5 + 0.4 * Math.sin((k * f) / 37)), H * (0.55 + 0.35 * Math.cos(f / (23 * k))), 30 + 10 * k, 0, 2 * Math.PI);
      g.fill();
    }
  }

  // Source is the canvas the page sends as its camera.
  class Source {
    constructor(camera) {
      this.canvas = document.createElement('canvas');
      this.canvas.width = W;
      this.canvas.height = H;
      this.ctx = this.canvas.getContext('2d');
      this.camera = camera; // a <video> of the fake camera, or null
      this.frame = 0;
      this.track = this.canvas.captureStream(FPS).getVideoTracks()[0];
      this.paint();
      this.timer = setInterval(() => this.paint(), 1000 / FPS);
    }

    paint() {
      const g = this.ctx;
      const f = this.frame++;
      if (!this.camera) picture(g, f);
      else if (this.camera.readyState >= 2) g.drawImage(this.camera, 0, 0, W, H);
      draw(g, W, H, Date.now());
    }
  }

  const state = {
    lat: [], // ms, one per presented remote frame with a marker
    ok: 0,
    fail: 0,
    source: null,
    joined: 0, // wall-clock ms of the first join, 0 before it
    first: 0, // wall-clock ms of the first remote frame presented, 0 before it
  };
  // Capturing: seen before the page's own listener handles the submit.
  document.addEventListener('submit', () => {
    if (!state.joined) state.joined = Date.now();
  }, true);

  async function source(getUserMedia) {
    if (state.source) return state.source;
    let camera = null;
    const cfg = window.peercallLatencyConfig || {};
    if (cfg.camera) {
      const s = await getUserMedia({ video: { width: W, height: H, frameRate: FPS } });
      camera = document.createElement('video');
      camera.muted = true;
      camera.playsInline = true;
      camera.srcObject = s;
      await camera.play();
    }
    state.source = new Source(camera);
    return state.source;
  }

  // watch follows every remote video of the page (the grid's tiles, not
  // the self view).
  const watched = new WeakSet();
  function watch() {
    for (const v of document.querySelectorAll('#grid video')) {
      if (watched.has(v) || !v.requestVideoFrameCallback) continue;
      watched.add(v);
      const onFrame = (_now, md) => {
        // Presentation on the wall clock: how long ago it was on the
        // monotonic clock, taken from now.
        const presented = Date.now() - (performance.now() - md.presentationTime);
        if (!state.first) state.first = presented;
        const m = read(v, md.width || v.videoWidth, md.height || v.videoHeight);
        if (m < 0) {
          state.fail++;
        } else {
          state.ok++;
          if (state.lat.length < KEEP) state.lat.push(Math.round(since(m, presented) * 10) / 10);
        }
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    }
  }

  window.peercallLatency = {
    picture,
    draw,
    read,
    since,
    // take returns the samples since the last call, the counts so far and
    // the join's and the first remote frame's times.
    take() {
      const lat = state.lat;
      state.lat = [];
      return { lat, ok: state.ok, fail: state.fail, joined: state.joined, first: state.first };
    },
  };

  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return; // not a secure context: nothing to replace
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = async (constraints = {}) => {
    const out = new MediaStream();
    if (constraints.audio) {
      const a = await original({ audio: constraints.audio });
      for (const t of a.getAudioTracks()) out.addTrack(t);
    }
    if (constraints.video) {
      const src = await source(original);
      // A clone per request: the page may stop one (camera off) and ask
      // again.
      out.addTrack(src.track.clone());
    }
    return out;
  };
  // A remote video is followed as soon as the page adds it, so that its
  // first frame is seen; the timer catches any the observer could not.
  new MutationObserver(watch).observe(document, { childList: true, subtree: true });
  setInterval(watch, 200);
})();
