package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"maps"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
	"github.com/peercall/peercall/signalserver"
)

// The received-media rule (docs/headless-report.md, "When ok is false"):
// every kind the peer says it sends must arrive within mediaStartLimit of
// connecting and must not stop for more than mediaStopLimit before the end.
const (
	mediaStartLimit = 3 * time.Second
	mediaStopLimit  = 2 * time.Second
)

// Values of the report's "ended" field.
const (
	endDuration    = "duration"     // ran its --duration
	endPeerHungUp  = "peer-hung-up" // the peer sent bye
	endPeerLeft    = "peer-left"    // signaling said the peer left
	endInterrupted = "interrupted"  // SIGINT or SIGTERM
)

// headlessRun holds one run's moving parts.
type headlessRun struct {
	o     HeadlessOptions
	log   *slog.Logger
	start time.Time

	link  *roomLink
	sess  *call.Session
	video *videoReceiver
	audio *audioReceiver
	rec   *recording // nil without --record

	vs  *videoSender
	fs  *encodedSender // video from file
	as  *audioSender
	afs *encodedSender // audio from file

	mu           sync.Mutex
	connectedAt  time.Time
	endedAt      time.Time
	ended        string // why the connected call ended (end* constants)
	gotTrack     map[webrtc.RTPCodecType]bool
	cpuAtConnect [2]time.Duration // user, sys

	sendersStarted bool // owner goroutine only
	restarts       int
}

// RunHeadless runs one call and returns its report. The report is returned
// with ok=false alongside most errors, so testers always get figures.
func RunHeadless(ctx context.Context, o HeadlessOptions, log *slog.Logger) (*Report, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.PeerWait <= 0 {
		o.PeerWait = DefaultPeerWait // callers that build options by hand
	}
	r := &headlessRun{o: o, log: log, start: time.Now()}
	u0, s0 := cpuTimes()
	rep := &Report{Room: o.Room, SetupMS: SetupTimes{-1, -1, -1, -1}, ICE: ICEReport{Policy: o.ICEPolicy}}
	err := r.run(ctx, rep)
	if r.rec != nil {
		r.mu.Lock()
		end := r.endedAt
		r.mu.Unlock()
		if cerr := r.rec.close(end); cerr != nil && err == nil {
			err = fmt.Errorf("--record: %w", cerr)
		}
	}
	r.fill(rep, u0, s0)
	if err == nil {
		err = r.checkExpectations(rep)
	}
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
	}
	return rep, err
}

func (r *headlessRun) run(ctx context.Context, rep *Report) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Media first: a missing file or device fails at once, before anyone waits.
	tracks, err := r.buildSenders()
	defer func() {
		if !r.sendersStarted {
			r.closeSenders()
		}
	}()
	if err != nil {
		return err
	}
	if err := r.openRecorders(); err != nil {
		return err
	}
	url := r.o.Server
	if r.o.Serve != "" {
		// Not ctx: on an interrupt the server must outlive the bye it relays;
		// stop ends it when run returns.
		addr, stop, err := serveSignaling(context.WithoutCancel(ctx), r.o.Serve, r.log)
		if err != nil {
			return err
		}
		defer stop()
		if url == "" {
			url = "ws://" + addr + "/ws"
		}
	}

	client, err := signalserver.Dial(ctx, url, signalserver.ClientOptions{
		Room: r.o.Room, Name: r.o.Name, Password: r.o.Password, Token: r.o.Token, Logger: r.log,
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w while joining the room", ErrInterrupted)
		}
		return fmt.Errorf("%w: signaling server %s: %w", ErrConnect, url, err)
	}
	rep.SetupMS.Signaling = msSince(r.start, time.Now())
	if r.o.ReadyFile != "" {
		if err := os.WriteFile(r.o.ReadyFile, nil, 0o644); err != nil {
			_ = client.Close()
			return fmt.Errorf("--ready-file: %w", err)
		}
	}
	r.link = newRoomLink(client, r.log)
	defer func() {
		_ = client.Close()
		r.link.Wait()
	}()

	remote, err := r.waitForPeer(ctx)
	if err != nil {
		return err
	}
	r.link.SetRemote(remote)

	sess, err := call.New(r.callConfig(client, remote, tracks))
	if errors.Is(err, call.ErrNoICEServer) || errors.Is(err, call.ErrNoRelayServer) {
		return fmt.Errorf("%w: ICE policy %q has no server to gather through (neither the signaling server nor --stun/--turn gave one): add --stun or --turn, or use --ice-policy mdns or all: %w",
			ErrConnect, r.o.ICEPolicy, err)
	}
	if err != nil {
		return fmt.Errorf("call setup: %w", err)
	}
	r.sess = sess
	defer sess.Close()
	// Tell the peer what this run sends, so it shows a placeholder rather
	// than waiting for video that never comes.
	_ = sess.SetLocalMedia(r.o.Audio != "none", r.o.Video != "none")
	if err := sess.Start(); err != nil {
		return fmt.Errorf("call start: %w", err)
	}

	// Encoders run from the start and send a fresh keyframe when the path
	// comes up (browsers stall on a stream whose first packet arrives the
	// moment we see "connected"). File senders start at connect instead:
	// they cannot make a keyframe to replace the frames lost before it.
	var wg sync.WaitGroup
	mediaCtx, stopMedia := context.WithCancel(ctx)
	defer func() {
		stopMedia()
		wg.Wait()
	}()
	r.sendersStarted = true
	startSenders(mediaCtx, &wg, r.log, nilIfNil(r.vs), nilIfNil(r.as))
	var filesStarted bool

	// Follow the call until connected, then for Duration.
	var end <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if end == nil {
				return fmt.Errorf("%w before the call connected", ErrInterrupted)
			}
			r.endNow(endInterrupted)
			_ = sess.Close() // sends bye
			return nil
		case <-end:
			r.endNow(endDuration)
			_ = sess.Close()
			return nil
		case ev, ok := <-r.link.Events():
			if !ok {
				return fmt.Errorf("%w: signaling closed", ErrConnect)
			}
			if ev.Kind == RoomClosed && r.connected().IsZero() {
				return fmt.Errorf("%w: signaling closed: %v", ErrConnect, ev.Err)
			}
		case up, ok := <-sess.Updates():
			if !ok {
				return r.endedEarly(end != nil)
			}
			switch up.Kind {
			case call.UpdateState:
				switch up.State {
				case call.StateConnected:
					r.onConnected(rep)
					if !filesStarted {
						filesStarted = true
						startSenders(mediaCtx, &wg, r.log, nilIfNil(r.fs), nilIfNil(r.afs))
					}
					if end == nil {
						end = time.After(r.o.Duration)
					}
				case call.StateReconnecting:
					r.mu.Lock()
					r.restarts++
					r.mu.Unlock()
				case call.StateFailed:
					if end == nil {
						return fmt.Errorf("%w: %s", ErrConnect, up.Reason)
					}
					return fmt.Errorf("call failed: %s", up.Reason)
				case call.StateEnded:
					if up.Event == call.EventPeerLeft {
						r.endNow(endPeerLeft)
					} else {
						r.endNow(endPeerHungUp)
					}
					return r.endedEarly(end != nil)
				}
			}
		}
	}
}

// endNow records the end of the connected call and why (first call wins).
func (r *headlessRun) endNow(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.endedAt.IsZero() {
		r.endedAt = time.Now()
	}
	if r.ended == "" {
		r.ended = why
	}
}

func (r *headlessRun) connected() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connectedAt
}

// endedEarly: the peer hung up or left. After the call connected that is a
// normal end (the figures cover the connected time); before, it is a
// failure to connect.
func (r *headlessRun) endedEarly(wasConnected bool) error {
	r.mu.Lock()
	if r.endedAt.IsZero() {
		r.endedAt = time.Now()
	}
	r.mu.Unlock()
	if !wasConnected {
		return fmt.Errorf("%w: the call ended before it connected", ErrConnect)
	}
	return nil
}

func (r *headlessRun) onConnected(rep *Report) {
	now := time.Now()
	r.mu.Lock()
	if r.connectedAt.IsZero() {
		r.connectedAt = now
		r.cpuAtConnect[0], r.cpuAtConnect[1] = cpuTimes()
	}
	r.mu.Unlock()
	if rep.SetupMS.ICEConnected < 0 {
		rep.SetupMS.ICEConnected = msSince(r.start, now)
	}
	// Frames sent before the path (or the restarted path) was up are lost:
	// start the peer's picture with a keyframe.
	if r.vs != nil {
		r.vs.ForceKeyFrame()
	}
}

// waitForPeer returns the id of the first other peer in the room.
func (r *headlessRun) waitForPeer(ctx context.Context) (string, error) {
	timer := time.NewTimer(r.o.PeerWait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w while waiting for a peer", ErrInterrupted)
		case <-timer.C:
			return "", fmt.Errorf("%w: nobody joined room %q within %s (--peer-wait)", ErrConnect, r.o.Room, r.o.PeerWait)
		case ev, ok := <-r.link.Events():
			if !ok {
				return "", fmt.Errorf("%w: signaling closed", ErrConnect)
			}
			switch ev.Kind {
			case RoomJoined:
				if len(ev.Peers) > 0 {
					return ev.Peers[0].ID, nil
				}
			case RoomPeerJoined:
				return ev.PeerID, nil
			case RoomClosed, RoomShutdown:
				return "", fmt.Errorf("%w: signaling ended before a peer joined", ErrConnect)
			}
		}
	}
}

func (r *headlessRun) callConfig(client *signalserver.Client, remote string, tracks []webrtc.TrackLocal) call.Config {
	servers := toWebRTCServers(client.ICEServers())
	for _, u := range r.o.STUN {
		servers = append(servers, webrtc.ICEServer{URLs: []string{u}})
	}
	if len(r.o.TURN) > 0 {
		servers = append(servers, webrtc.ICEServer{URLs: r.o.TURN, Username: r.o.TURNUser, Credential: r.o.TURNPass})
	}
	cfg := call.Config{
		LocalID:    client.PeerID(),
		RemoteID:   remote,
		Signaler:   r.link,
		ICEServers: servers,
		Policy:     call.Policy(r.o.ICEPolicy),
		ICE: call.ICEOptions{
			PortMin: r.o.PortMin, PortMax: r.o.PortMax, Loopback: r.o.LoopbackOnly,
			LoggerFactory: call.NewSlogLoggerFactory(r.log),
		},
		Tracks:        tracks,
		OnTrack:       r.onTrack,
		ReceiveLoss:   r.o.SimulateLoss / 100,
		InterfacePoll: -1,
		Logger:        r.log,
	}
	if r.vs != nil {
		vs := r.vs
		cfg.OnTargetBitrate = func(bps int) { vs.SetBitRate(bps - audioBitrate) }
		cfg.OnKeyFrameRequest = vs.ForceKeyFrame
	}
	if r.fs != nil {
		cfg.OnKeyFrameRequest = r.fs.ForceKeyFrame
	}
	if r.as != nil {
		as := r.as
		cfg.OnAudioLoss = as.SetPacketLoss
	}
	return cfg
}

func toWebRTCServers(in []signalserver.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// audioBitrate is what the Opus sender uses; the rest of the estimate goes to video.
const audioBitrate = 32_000

func (r *headlessRun) buildSenders() ([]webrtc.TrackLocal, error) {
	var tracks []webrtc.TrackLocal
	switch v := r.o.Video; {
	case v == "none":
	case v == "synthetic" || v == "camera":
		track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "peercall")
		if err != nil {
			return nil, err
		}
		next, err := r.rawVideo()
		if err != nil {
			return nil, err
		}
		r.vs, err = newVideoSender(track, next, codec.VP8Config{
			Width: r.o.Width, Height: r.o.Height, FPS: r.o.FPS, BitRate: call.DefaultStartBitrate - audioBitrate, ErrorResilient: true,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
		}
		tracks = append(tracks, track)
	case strings.HasSuffix(strings.ToLower(v), ".ivf"):
		src, err := capture.OpenIVF(v, capture.FileOptions{Loop: true, Paced: true})
		if err != nil {
			return nil, fmt.Errorf("--video %s: %w", v, err)
		}
		track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "peercall")
		if err != nil {
			return nil, err
		}
		r.fs = &encodedSender{track: track, next: src.Next}
		tracks = append(tracks, track)
	default:
		return nil, badFlag("--video %q: want synthetic, camera, FILE.ivf or none", v)
	}

	opusCap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	switch a := r.o.Audio; {
	case a == "none":
	case strings.HasSuffix(strings.ToLower(a), ".ogg"):
		src, err := capture.OpenOgg(a, capture.FileOptions{Loop: true, Paced: true})
		if err != nil {
			return nil, fmt.Errorf("--audio %s: %w", a, err)
		}
		track, err := webrtc.NewTrackLocalStaticSample(opusCap, "audio", "peercall")
		if err != nil {
			return nil, err
		}
		r.afs = &encodedSender{track: track, next: src.Next}
		tracks = append(tracks, track)
	default:
		next, err := r.rawAudio(a)
		if err != nil {
			return nil, err
		}
		track, err := webrtc.NewTrackLocalStaticSample(opusCap, "audio", "peercall")
		if err != nil {
			return nil, err
		}
		cfg := codec.DefaultOpusConfig()
		cfg.FEC = r.o.OpusFEC
		cfg.BitRate = audioBitrate
		if cfg.FEC {
			cfg.PacketLossPerc = 10
		}
		r.as, err = newAudioSender(track, next, cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
		}
		tracks = append(tracks, track)
	}
	return tracks, nil
}

func (r *headlessRun) rawVideo() (func() (*image.YCbCr, error), error) {
	if r.o.Video == "camera" {
		cam, err := capture.OpenCamera("", capture.VideoConstraints{Width: r.o.Width, Height: r.o.Height, FPS: float64(r.o.FPS)})
		if err != nil {
			return nil, fmt.Errorf("--video camera: %w", err)
		}
		return cam.Next, nil
	}
	src, err := capture.NewPatternSource(capture.PatternConfig{Width: r.o.Width, Height: r.o.Height, FPS: float64(r.o.FPS), Paced: true})
	if err != nil {
		return nil, fmt.Errorf("--video synthetic: %w", err)
	}
	// The encoder is done with a frame when Encode returns: one buffer serves.
	return src.NextReusing(), nil
}

func (r *headlessRun) rawAudio(a string) (func() ([]int16, error), error) {
	cfg := capture.AudioConfig{SampleRate: 48000, Paced: true}
	var src interface{ Next() ([]int16, error) }
	var err error
	switch {
	case a == "synthetic":
		src, err = capture.NewSpeechSource(cfg)
	case a == "tone":
		src, err = capture.NewToneSource(440, cfg)
	case a == "mic":
		src, err = capture.OpenMicrophone("", capture.AudioConstraints{SampleRate: 48000})
	case strings.HasSuffix(strings.ToLower(a), ".wav"):
		if !r.o.AudioMarkers {
			cfg.MarkerInterval = -1 // a file goes out as it is
		}
		src, err = capture.OpenWAV(a, true, cfg)
	default:
		return nil, badFlag("--audio %q: want synthetic, tone, mic, FILE.ogg, FILE.wav or none", a)
	}
	if err != nil {
		return nil, fmt.Errorf("--audio %s: %w", a, err)
	}
	return src.Next, nil
}

// closeSenders releases the encoders of senders that never ran (the call
// did not connect); running senders close their own.
func (r *headlessRun) closeSenders() {
	if r.vs != nil {
		_ = r.vs.enc.Close()
	}
	if r.as != nil {
		_ = r.as.enc.Close()
	}
}

// onTrack dispatches a remote track to its receiver (pion goroutine).
func (r *headlessRun) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	r.mu.Lock()
	if r.gotTrack == nil {
		r.gotTrack = make(map[webrtc.RTPCodecType]bool)
	}
	r.gotTrack[tr.Kind()] = true
	r.mu.Unlock()
	switch tr.Kind() {
	case webrtc.RTPCodecTypeVideo:
		if r.video == nil {
			return
		}
		ssrc := uint32(tr.SSRC())
		r.video.requestKF = func() { _ = r.sess.RequestKeyFrame(ssrc) }
		r.video.run(tr)
	case webrtc.RTPCodecTypeAudio:
		if r.audio == nil {
			return
		}
		r.audio.run(tr)
	}
}

// openRecorders creates the receivers, with file writers under --record.
func (r *headlessRun) openRecorders() error {
	if dir := r.o.RecordDir; dir != "" {
		rec, err := newRecording(dir, r.log)
		if err != nil {
			return fmt.Errorf("%w: --record %s: %w", ErrBadFlags, dir, err)
		}
		r.rec = rec
	}
	r.video = newVideoReceiver(nil, nil, r.rec, r.log)
	r.audio = newAudioReceiver(r.rec, r.log)
	return nil
}

// fill completes the report from the receivers, senders and last stats.
func (r *headlessRun) fill(rep *Report, u0, s0 time.Duration) {
	end := time.Now()
	u1, s1 := cpuTimes()
	rep.Duration = end.Sub(r.start).Seconds()
	rep.CPU = CPUStats{UserS: (u1 - u0).Seconds(), SysS: (s1 - s0).Seconds()}
	r.mu.Lock()
	// CPU share over the connected time: the steady cost of the call,
	// without process start-up and waiting for the peer.
	if !r.connectedAt.IsZero() {
		if span := end.Sub(r.connectedAt).Seconds(); span > 0 {
			used := (u1 - r.cpuAtConnect[0]) + (s1 - r.cpuAtConnect[1])
			rep.CPU.PercentOfCore = 100 * used.Seconds() / span
		}
	}
	connectedAt, restarts := r.connectedAt, r.restarts
	if !r.endedAt.IsZero() {
		end = r.endedAt
	}
	rep.Ended = r.ended
	r.mu.Unlock()
	if !connectedAt.IsZero() {
		rep.CallS = end.Sub(connectedAt).Seconds()
	}
	// The session keeps its last stats snapshot and SAS after it closed.
	var st call.Stats
	if r.sess != nil {
		st = r.sess.Stats()
		if code, err := r.sess.SAS(); err == nil {
			rep.SAS = code.Digits
		}
		if m, ok := r.sess.RemoteMedia(); ok {
			rep.RemoteMedia = &RemoteMedia{Audio: m.Audio, Video: m.Video}
		}
	}
	if r.link != nil {
		rep.ICE.LocalCandidateTypes = r.link.CandidateTypes()
	}
	rep.ICE.SelectedPair = SelectedPair{Local: st.LocalCandidate, Remote: st.RemoteCandidate}
	rep.ICE.Restarts = restarts
	rep.RTTMS = float64(st.RTT.Microseconds()) / 1000
	if r.video != nil {
		from := connectedAt
		if from.IsZero() {
			from = end
		}
		rep.VideoIn, rep.Latency = r.video.summary(from, end)
		if t := r.video.firstFrame(); !t.IsZero() {
			rep.SetupMS.FirstVideoFrame = msSince(r.start, t)
		}
	}
	rep.VideoIn.PacketsLost = int(st.VideoIn.PacketsLost)
	rep.VideoIn.NACKsSent = int(st.VideoIn.NACKs)
	rep.VideoIn.PLIsSent = max(rep.VideoIn.PLIsSent, int(st.VideoIn.PLIs))
	rep.VideoIn.BitrateKbps = float64(st.VideoIn.Bitrate) / 1000
	if r.vs != nil {
		n := r.vs.frames.Load()
		rep.VideoOut.FramesEncoded = int(n)
		if n > 0 {
			rep.VideoOut.EncodeMSAvg = float64(r.vs.encodeNS.Load()) / float64(n) / 1e6
		}
	}
	rep.VideoOut.BitrateKbps = float64(st.VideoOut.Bitrate) / 1000
	if r.audio != nil {
		rep.AudioIn = r.audio.summary()
		if t := r.audio.firstPacket(); !t.IsZero() {
			rep.SetupMS.FirstAudioPacket = msSince(r.start, t)
		}
	}
}

func (r *headlessRun) checkExpectations(rep *Report) error {
	unmet := r.mediaFlowUnmet(rep)
	if r.o.ExpectFPS > 0 && rep.VideoIn.FPS < r.o.ExpectFPS {
		unmet = append(unmet, fmt.Sprintf("received video at %.1f fps, expected at least %.1f", rep.VideoIn.FPS, r.o.ExpectFPS))
	}
	if r.o.ExpectMinFrames > 0 && rep.VideoIn.FramesDecoded < r.o.ExpectMinFrames {
		unmet = append(unmet, fmt.Sprintf("decoded %d video frames, expected at least %d", rep.VideoIn.FramesDecoded, r.o.ExpectMinFrames))
	}
	if len(unmet) > 0 {
		return fmt.Errorf("%w: %s", ErrExpectationUnmet, strings.Join(unmet, "; "))
	}
	return nil
}

// mediaFlow is what one kind of received media did during the call.
type mediaFlow struct {
	kind     string // "audio" or "video"
	device   string // what the peer turns on for it: "microphone", "camera"
	said     bool   // the peer said whether it sends this kind
	on       bool   // what it said (when said)
	gotTrack bool   // a track of this kind arrived
	// first and last arrival: audio packets, decoded (or, without cgo,
	// checked) video frames.
	first, last time.Time
}

// unmet applies the received-media rule to a call connected from connected
// to end and returns the cause when it fails, "" when it holds. A peer that
// never said what it sends is held to the tracks that arrived.
func (f mediaFlow) unmet(connected, end time.Time) string {
	expected := f.on
	why := fmt.Sprintf("the peer said its %s is on", f.device)
	if !f.said {
		expected = f.gotTrack
		why = fmt.Sprintf("the peer's %s track arrived", f.kind)
	}
	if !expected || connected.IsZero() {
		return ""
	}
	span := end.Sub(connected)
	switch {
	case f.first.IsZero() && span < mediaStartLimit:
		return "" // too short a call to expect anything yet
	case f.first.IsZero():
		return fmt.Sprintf("no %s arrived in %.1f s, though %s", f.kind, span.Seconds(), why)
	case f.first.Sub(connected) > mediaStartLimit:
		return fmt.Sprintf("%s first arrived %.1f s after connecting (limit %s), though %s",
			f.kind, f.first.Sub(connected).Seconds(), mediaStartLimit, why)
	case end.Sub(f.last) > mediaStopLimit:
		return fmt.Sprintf("%s stopped arriving %.1f s before the call ended (limit %s), though %s",
			f.kind, end.Sub(f.last).Seconds(), mediaStopLimit, why)
	}
	return ""
}

// mediaFlowUnmet checks the received-media rule for audio and video.
func (r *headlessRun) mediaFlowUnmet(rep *Report) []string {
	r.mu.Lock()
	connected, end := r.connectedAt, r.endedAt
	got := maps.Clone(r.gotTrack)
	r.mu.Unlock()
	if end.IsZero() {
		end = time.Now()
	}
	said := rep.RemoteMedia != nil
	audio := mediaFlow{kind: "audio", device: "microphone", said: said, gotTrack: got[webrtc.RTPCodecTypeAudio]}
	video := mediaFlow{kind: "video", device: "camera", said: said, gotTrack: got[webrtc.RTPCodecTypeVideo]}
	if said {
		audio.on, video.on = rep.RemoteMedia.Audio, rep.RemoteMedia.Video
	}
	if r.audio != nil {
		audio.first, audio.last = r.audio.packetSpan()
	}
	if r.video != nil {
		video.first, video.last = r.video.frameSpan()
	}
	var unmet []string
	for _, f := range []mediaFlow{audio, video} {
		if why := f.unmet(connected, end); why != "" {
			unmet = append(unmet, why)
		}
	}
	return unmet
}

// serveSignaling hosts the signaling server in-process on addr and returns
// its host:port and a stop function that waits for it.
func serveSignaling(ctx context.Context, addr string, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: --serve %s: %w", ErrBadFlags, addr, err)
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	srv, err := signalserver.New(signalserver.WithLogger(log), hostedSTUN(host, advertisedHost(ln.Addr())))
	if err != nil {
		_ = ln.Close()
		return "", nil, fmt.Errorf("signaling server: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := serveInBackground(ctx, srv, ln, log)
	return ln.Addr().String(), func() { cancel(); <-done }, nil
}

// serveInBackground runs srv on ln until ctx ends; the channel closes when
// it has shut down.
func serveInBackground(ctx context.Context, srv *signalserver.Server, ln net.Listener, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("signaling server stopped", "err", err)
		}
	}()
	return done
}
