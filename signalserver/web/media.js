// The page's own camera and microphone. One stream feeds every peer
// connection of the mesh: the browser encodes it once per peer.

import { log } from './util.js';

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };

export class LocalMedia {
  constructor() {
    this.stream = null;
    this.muted = false;
    this.cameraOff = false;
    // note says what the call goes without (no camera, no microphone).
    this.note = '';
  }

  // open asks for the microphone and the camera, and for whichever one
  // exists when the other is missing or refused (a laptop without a camera
  // still talks); null when neither is there (watch and listen only).
  async open() {
    const tries = [
      [{ audio: AUDIO, video: VIDEO }, ''],
      [{ audio: AUDIO }, 'No camera: joining with the microphone only.'],
      [{ video: VIDEO }, 'No microphone: joining with the camera only.'],
    ];
    for (const [constraints, note] of tries) {
      try {
        const s = await navigator.mediaDevices.getUserMedia(constraints);
        this.note = note;
        // Without a camera the call starts as with a camera turned off:
        // the button offers to try again.
        this.cameraOff = !constraints.video;
        this.stream = s;
        this.setMuted(this.muted); // a mute from the last call holds
        return s;
      } catch (err) {
        log('media unavailable', Object.keys(constraints).join('+'), err);
      }
    }
    this.note = 'Camera or microphone unavailable: joining to watch and listen only.';
    return null;
  }

  // state is what the page tells its peers of its mic and camera.
  state() {
    const s = this.stream;
    return {
      audio: !!s && !this.muted && s.getAudioTracks().length > 0,
      video: !!s && !this.cameraOff && s.getVideoTracks().length > 0,
    };
  }

  // processingLine says which of the browser's own voice processing runs
  // on the microphone (what the track really got, not what was asked).
  processingLine() {
    const t = this.stream && this.stream.getAudioTracks()[0];
    if (!t || !t.getSettings) return '';
    const st = t.getSettings();
    const onOff = (v) => (v ? 'on' : 'off');
    return `Microphone (the browser's processing): echo cancellation ${onOff(st.echoCancellation)}, ` +
      `noise suppression ${onOff(st.noiseSuppression)}, gain control ${onOff(st.autoGainControl)}`;
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.stream) this.stream.getAudioTracks().forEach((t) => (t.enabled = !muted));
  }

  // releaseCamera stops the camera (its light goes off) once the senders
  // no longer use it.
  releaseCamera() {
    this.cameraOff = true;
    const old = this.stream && this.stream.getVideoTracks()[0];
    if (old) {
      old.stop();
      this.stream.removeTrack(old);
    }
  }

  // acquireCamera opens the camera again and returns its track; it throws
  // when the camera cannot be had.
  async acquireCamera() {
    const s = await navigator.mediaDevices.getUserMedia({ video: VIDEO });
    const t = s.getVideoTracks()[0];
    if (!this.stream) this.stream = new MediaStream();
    this.stream.addTrack(t);
    this.cameraOff = false;
    return t;
  }

  stop() {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
  }
}

// LocalShare is the page's own screen share: one display capture, sent to
// every peer as a second video track (Session.setShare). onEnded runs when
// the browser ends it (its own "Stop sharing" button, or the shared window
// closing), not when stop() does.
export class LocalShare {
  constructor(onEnded) {
    this.track = null;
    this.onEnded = onEnded;
  }

  static supported() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }

  // start asks the browser for a screen, window or tab (its own picker)
  // and returns the video track; it throws when the person cancels.
  async start() {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
    s.getAudioTracks().forEach((t) => t.stop());
    const t = s.getVideoTracks()[0];
    if (!t) throw new Error('no video in the display capture');
    // Text and lines stay sharp; the encoder gives up frame rate first.
    t.contentHint = 'detail';
    t.addEventListener('ended', () => {
      if (this.track !== t) return;
      this.track = null;
      this.onEnded();
    });
    this.track = t;
    return t;
  }

  stop() {
    const t = this.track;
    this.track = null;
    if (t) t.stop();
  }
}
