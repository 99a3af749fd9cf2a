package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
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

// headlessRun holds one run's moving parts: an observer of the one call
// pipeline (conference) that fills the Report from its events.
type headlessRun struct {
	o     HeadlessOptions
	log   *slog.Logger
	start time.Time

	conf  *conference
	media *localMedia
	rec   *recording      // nil without --record
	voice *voiceProcessor // --audio mic's processing; nil when off
	// lastShare is the latest share frame (--share-snapshot; guarded by mu).
	lastShare *image.YCbCr
	// voiceStats are the module's last figures, taken as it closed.
	voiceStats codec.AudioProcessingStats
	// timeline samples the call once a second (the report's timeline).
	timeline *timeline

	mu           sync.Mutex
	connectedAt  time.Time // the first connection
	endedAt      time.Time
	ended        string           // why the connected call ended (end* constants)
	cpuAtConnect [2]time.Duration // user, sys
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
	if o.Peers < 2 {
		o.Peers = 2
	}
	r := &headlessRun{o: o, log: log, start: time.Now()}
	u0, s0 := cpuTimes()
	rep := &Report{Room: o.Room, SetupMS: SetupTimes{Signaling: -1, ICEConnected: -1, FirstVideoFrame: -1, FirstAudioPacket: -1}, ICE: ICEReport{Policy: o.ICEPolicy}, Peers: []PeerReport{}, Files: []FileReport{}}
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
	if err == nil && o.ShareSnapshot != "" {
		err = r.writeShareSnapshot()
	}
	if err == nil {
		err = r.checkExpectations(rep)
	}
	if r.conf != nil {
		rep.Files = r.conf.files.Reports()
		if bad := r.conf.files.failed(); err == nil && len(bad) > 0 {
			err = fmt.Errorf("%w: %s", ErrFileTransfer, strings.Join(bad, "; "))
		}
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
	media, err := r.buildSenders()
	// Closed after the sender and the speaker (deferred below) stopped.
	defer func() {
		r.voiceStats = r.voice.stats() // the report's, before it closes
		r.voice.close()
	}()
	if media != nil {
		r.media = media
		defer media.stop()
	}
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
	rep.PeerID = client.PeerID()
	if r.o.ReadyFile != "" {
		if err := os.WriteFile(r.o.ReadyFile, nil, 0o644); err != nil {
			_ = client.Close()
			return fmt.Errorf("--ready-file: %w", err)
		}
	}
	var mixer *audioMixer
	if r.o.Speaker != "" && r.o.Speaker != "none" {
		// The far end to a real device: what the echo canceller hears back.
		id := r.o.Speaker
		if id == "default" {
			id = ""
		}
		mixer = newAudioMixer(newSpeakerOut(id, nil, r.log), r.voice.render)
		defer mixer.close()
	}
	var onFrame func(string, DecodedFrame)
	if r.o.ShareSnapshot != "" {
		onFrame = r.keepShareFrame
	}
	conf := newConference(conferenceOptions{
		Client: client, Media: media, Net: r.peerNet(client), Group: r.o.Peers, Speaker: mixer, OnFrame: onFrame,
		// Tell each peer what this run sends, so it shows a placeholder
		// rather than waiting for video that never comes.
		Announce: func() (bool, bool) { return r.o.Audio != "none", r.o.Video != "none" },
		Record:   r.rec, Logger: r.log,
		Files:     FilePolicy{Dir: r.o.ReceiveDir, MaxBytes: r.o.MaxFileSize, AutoAccept: true},
		SendFiles: r.o.SendFiles,
	})
	r.conf = conf
	r.timeline = startTimeline(conf)
	defer r.timeline.stop()
	defer func() {
		_ = client.Close()
		conf.link.Wait()
	}()
	cctx, stopConf := context.WithCancel(context.WithoutCancel(ctx))
	confDone := make(chan error, 1)
	go func() { confDone <- conf.run(cctx) }()
	// waitConf drains the conference's events and returns how it ended,
	// once; finish ends the conference (bye to every peer) and waits for it.
	var confOnce sync.Once
	var confErr error
	waitConf := func() error {
		confOnce.Do(func() {
			for range conf.Events() {
			}
			confErr = <-confDone
		})
		return confErr
	}
	finish := func() error {
		stopConf()
		return waitConf()
	}
	defer func() { _ = finish() }()

	want := r.o.Peers - 1
	peerWait := time.NewTimer(r.o.PeerWait)
	defer peerWait.Stop()
	joined, connected := map[string]bool{}, map[string]bool{}
	var end <-chan time.Time
	var filesTick <-chan time.Time // during the file grace: are they done?
	waitOver := false              // --peer-wait has passed
	var shareTick <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if end == nil {
				if len(joined) < want {
					return fmt.Errorf("%w while waiting for a peer", ErrInterrupted)
				}
				return fmt.Errorf("%w before the call connected", ErrInterrupted)
			}
			r.endNow(endInterrupted)
			return finish()
		case <-peerWait.C:
			waitOver = true
			if len(joined) < want {
				who := "nobody joined"
				if len(joined) > 0 {
					who = fmt.Sprintf("%d of %d others joined", len(joined), want)
				}
				return fmt.Errorf("%w: %s room %q within %s (--peer-wait)", ErrConnect, who, r.o.Room, r.o.PeerWait)
			}
		case <-end:
			if filesTick == nil && conf.files.busy() {
				// A transfer still runs: wait for it, at most another
				// --duration (docs/headless-report.md).
				end = time.After(r.o.Duration)
				t := time.NewTicker(100 * time.Millisecond)
				defer t.Stop()
				filesTick = t.C
				continue
			}
			r.endNow(endDuration)
			return finish()
		case <-filesTick:
			if !conf.files.busy() {
				r.endNow(endDuration)
				return finish()
			}
		case <-shareTick:
			r.toggleShare(conf)
		case ev, ok := <-conf.Events():
			if !ok {
				return waitConf()
			}
			switch {
			case ev.Peer != "" && ev.Gone:
				delete(connected, ev.Peer)
				if end == nil {
					// Gone before everyone connected: someone else may
					// still take the place until --peer-wait is over.
					delete(joined, ev.Peer)
					if waitOver && len(joined) > 0 && len(joined) < want {
						r.endNow(endPeerLeft)
						return fmt.Errorf("%w: %d of %d others in the call after one left before everyone connected (--peer-wait %s)",
							ErrConnect, len(joined), want, r.o.PeerWait)
					}
				}
			case ev.Peer != "" && ev.Phase == PhaseConnecting:
				joined[ev.Peer] = true
			case ev.Peer != "" && ev.Phase == PhaseConnected:
				connected[ev.Peer] = true
				r.onConnected(rep)
				if end == nil && len(connected) >= want {
					end = time.After(r.o.Duration)
					if r.o.Share != "" {
						r.toggleShare(conf)
						if r.o.ShareToggle > 0 {
							t := time.NewTicker(r.o.ShareToggle)
							defer t.Stop()
							shareTick = t.C
						}
					}
				}
			case ev.Peer == "" && (ev.Phase == PhaseEnded || ev.Phase == PhaseFailed):
				// The last peer left or failed.
				err := waitConf()
				r.endNow(r.lastPeerEnd())
				if err == nil && end == nil {
					err = fmt.Errorf("%w: the call ended before every peer connected", ErrConnect)
				}
				if err != nil && !errors.Is(err, ErrConnect) && end == nil {
					err = fmt.Errorf("%w: %w", ErrConnect, err)
				}
				return err
			}
		}
	}
}

// toggleShare starts the --share (a fresh source each time) or stops it.
func (r *headlessRun) toggleShare(conf *conference) {
	if conf.o.Media.sharing() != nil {
		if err := conf.StopShare(); err != nil {
			r.log.Warn("stop share", "err", err)
		}
		return
	}
	src, err := OpenShareSource(r.o.Share)
	if err == nil {
		err = conf.StartShare(src)
	}
	if err != nil {
		r.log.Warn("screen share not started", "err", err)
		if src.Close != nil {
			_ = src.Close()
		}
	}
}

// lastPeerEnd is why the last peer's session ended (end* constants).
func (r *headlessRun) lastPeerEnd() string {
	var why string
	var at time.Time
	for _, p := range r.conf.Peers() {
		p.mu.Lock()
		if p.endedAt.After(at) || why == "" {
			why, at = p.ended, p.endedAt
		}
		p.mu.Unlock()
	}
	if why == "failed" {
		return ""
	}
	return why
}

// endNow records the end of the connected call and why (first call wins).
func (r *headlessRun) endNow(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.endedAt.IsZero() {
		r.endedAt = time.Now()
	}
	if r.ended == "" && !r.connectedAt.IsZero() {
		r.ended = why
	}
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
}

// peerNet is how headless sessions reach their peers: the server's ICE
// servers plus --stun/--turn, the chosen policy, loopback when asked.
func (r *headlessRun) peerNet(client *signalserver.Client) peerNet {
	servers := toWebRTCServers(client.ICEServers())
	for _, u := range r.o.STUN {
		servers = append(servers, webrtc.ICEServer{URLs: []string{u}})
	}
	if len(r.o.TURN) > 0 {
		servers = append(servers, webrtc.ICEServer{URLs: r.o.TURN, Username: r.o.TURNUser, Credential: r.o.TURNPass})
	}
	return peerNet{
		Servers: servers,
		Policy:  call.Policy(r.o.ICEPolicy),
		ICE: call.ICEOptions{
			PortMin: r.o.PortMin, PortMax: r.o.PortMax, Loopback: r.o.LoopbackOnly,
			OnlyIP: net.ParseIP(r.o.ICEIP), // nil without --ice-ip
		},
		ReceiveLoss:   r.o.SimulateLoss / 100,
		InterfacePoll: -1,
	}
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

func (r *headlessRun) buildSenders() (*localMedia, error) {
	m := &localMedia{}
	switch v := r.o.Video; {
	case v == "none":
	case strings.HasPrefix(v, "screen") || strings.HasPrefix(v, "window:") || v == "portal":
		// A screen instead of the camera: the share's source and encoder
		// on the video track.
		src, err := openScreenShare(v, nil)
		if err != nil {
			return m, fmt.Errorf("--video %s: %w", v, err)
		}
		track, vs, err := newScreenSender(src, "video", "peercall")
		if err != nil {
			_ = src.Close()
			return m, err
		}
		m.vs = vs
		m.closers = append(m.closers, src.Close)
		m.tracks = append(m.tracks, track)
	case v == "synthetic" || v == "camera":
		track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "peercall")
		if err != nil {
			return m, err
		}
		next, err := r.rawVideo()
		if err != nil {
			return m, err
		}
		m.vs, err = newVideoSender(track, next, codec.VP8Config{
			Width: r.o.Width, Height: r.o.Height, FPS: r.o.FPS, BitRate: call.DefaultStartBitrate - audioBitrate, ErrorResilient: true,
		})
		if err != nil {
			return m, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
		}
		m.tracks = append(m.tracks, track)
	case strings.HasSuffix(strings.ToLower(v), ".y4m"):
		// Raw frames of a clip through our own encoder, at the clip's size
		// and rate (--size and --fps are the synthetic source's).
		src, err := capture.OpenY4M(v, capture.Y4MConfig{Loop: true, Paced: true})
		if err != nil {
			return m, fmt.Errorf("--video %s: %w", v, err)
		}
		m.closers = append(m.closers, src.Close)
		track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "peercall")
		if err != nil {
			return m, err
		}
		h := src.Header
		m.vs, err = newVideoSender(track, src.Next, codec.VP8Config{
			Width: h.Width, Height: h.Height, FPS: max(1, int(h.FPS()+0.5)), BitRate: call.DefaultStartBitrate - audioBitrate, ErrorResilient: true,
		})
		if err != nil {
			return m, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
		}
		m.tracks = append(m.tracks, track)
	case strings.HasSuffix(strings.ToLower(v), ".ivf"):
		src, err := capture.OpenIVF(v, capture.FileOptions{Loop: true, Paced: true})
		if err != nil {
			return m, fmt.Errorf("--video %s: %w", v, err)
		}
		track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "peercall")
		if err != nil {
			return m, err
		}
		m.fs = &encodedSender{track: track, next: src.Next}
		m.tracks = append(m.tracks, track)
	default:
		return m, badFlag("--video %q: want synthetic, camera, screen[:DISPLAY[:WxH+X+Y]], window:ID, portal, FILE.y4m, FILE.ivf or none", v)
	}

	opusCap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	switch a := r.o.Audio; {
	case a == "none":
	case strings.HasSuffix(strings.ToLower(a), ".ogg"):
		src, err := capture.OpenOgg(a, capture.FileOptions{Loop: true, Paced: true})
		if err != nil {
			return m, fmt.Errorf("--audio %s: %w", a, err)
		}
		track, err := webrtc.NewTrackLocalStaticSample(opusCap, "audio", "peercall")
		if err != nil {
			return m, err
		}
		m.afs = &encodedSender{track: track, next: src.Next}
		m.tracks = append(m.tracks, track)
	default:
		next, err := r.rawAudio(a)
		if err != nil {
			return m, err
		}
		track, err := webrtc.NewTrackLocalStaticSample(opusCap, "audio", "peercall")
		if err != nil {
			return m, err
		}
		cfg := codec.DefaultOpusConfig()
		cfg.FEC = r.o.OpusFEC
		cfg.BitRate = audioBitrate
		if cfg.FEC {
			cfg.PacketLossPerc = 10
		}
		m.as, err = newAudioSender(track, next, cfg)
		if err != nil {
			return m, fmt.Errorf("%w: %w", ErrUnsupportedMedia, err)
		}
		m.tracks = append(m.tracks, track)
	}
	return m, nil
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
		var mic *capture.Microphone
		mic, err = capture.OpenMicrophone("", capture.AudioConstraints{SampleRate: 48000})
		if err == nil {
			// The room's echo and noise go before the encoder, as on the
			// desktop.
			r.voice = newVoiceOrNone(r.o.Voice, r.log)
			return r.voice.wrap(mic.Next), nil
		}
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

// openRecorders creates the --record writers.
func (r *headlessRun) openRecorders() error {
	if dir := r.o.RecordDir; dir != "" {
		rec, err := newRecording(dir, r.log)
		if err != nil {
			return fmt.Errorf("%w: --record %s: %w", ErrBadFlags, dir, err)
		}
		r.rec = rec
	}
	return nil
}

// fill completes the report from the peers' receivers and sessions and
// the senders.
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
	connectedAt := r.connectedAt
	if !r.endedAt.IsZero() {
		end = r.endedAt
	}
	rep.Ended = r.ended
	r.mu.Unlock()
	if !connectedAt.IsZero() {
		rep.CallS = end.Sub(connectedAt).Seconds()
	}
	var types []string
	if r.conf != nil {
		types = r.conf.link.CandidateTypes()
		for _, p := range r.conf.Peers() {
			rep.Peers = append(rep.Peers, r.peerReport(p, end, types))
		}
	}
	rep.ICE.LocalCandidateTypes = types
	rep.Timeline = r.timeline.get()
	rep.Totals = total(rep.Peers)
	if r.voice != nil {
		st := r.voiceStats
		v := r.o.Voice
		rep.Voice = &VoiceReport{EchoCancel: v.EchoCancel, NoiseSuppress: v.NoiseSuppress, GainControl: v.GainControl,
			EchoValid: st.EchoValid && st.DelayValid, ERLEdB: round1(st.ERLE), DelayMS: round1(float64(st.Delay.Microseconds()) / 1000)}
	}
	if len(rep.Peers) > 0 {
		// The top-level figures are the first peer's (all of a 1:1 call).
		f := rep.Peers[0]
		rep.SAS, rep.VideoIn, rep.AudioIn, rep.Latency, rep.RTTMS = f.SAS, f.VideoIn, f.AudioIn, f.Latency, f.RTTMS
		rep.ShareIn = f.ShareIn
		rep.ICE.SelectedPair, rep.ICE.Restarts = f.ICE.SelectedPair, f.ICE.Restarts
		rep.RemoteMedia = f.RemoteMedia
		rep.SetupMS.FirstVideoFrame, rep.SetupMS.FirstAudioPacket = f.SetupMS.FirstVideoFrame, f.SetupMS.FirstAudioPacket
	}
	if m := r.media; m != nil && m.vs != nil {
		n := m.vs.frames.Load()
		rep.VideoOut.FramesEncoded = int(n)
		rep.VideoOut.FramesSkipped = int(m.vs.skipped.Load())
		if n > 0 {
			rep.VideoOut.EncodeMSAvg = float64(m.vs.encodeNS.Load()) / float64(n) / 1e6
		}
	}
	// Sent once, to everyone: the bitrate each session measured is the
	// same stream; report the first peer's.
	if r.conf != nil {
		if ps := r.conf.Peers(); len(ps) > 0 && ps[0].sess != nil {
			rep.VideoOut.BitrateKbps = float64(ps[0].sess.Stats().VideoOut.Bitrate) / 1000
		}
	}
}

// peerReport is one peer's figures. The session keeps its last stats
// snapshot and SAS after it closed.
func (r *headlessRun) peerReport(p *confPeer, callEnd time.Time, types []string) PeerReport {
	p.mu.Lock()
	connectedAt, endedAt, ended, restarts, joinedAt := p.connectedAt, p.endedAt, p.ended, p.restarts, p.joinedAt
	p.mu.Unlock()
	if endedAt.IsZero() || endedAt.After(callEnd) {
		endedAt = callEnd
	}
	if ended == "" && !connectedAt.IsZero() {
		r.mu.Lock()
		ended = r.ended
		r.mu.Unlock()
	}
	pr := PeerReport{ID: p.id, Name: p.name, Ended: ended,
		SetupMS: SetupTimes{Signaling: -1, ICEConnected: -1, FirstVideoFrame: -1, FirstAudioPacket: -1},
		ICE:     ICEReport{Policy: r.o.ICEPolicy, LocalCandidateTypes: types, Restarts: restarts}}
	if !joinedAt.IsZero() {
		pr.SetupMS.PeerJoined = msSince(r.start, joinedAt)
	}
	if !connectedAt.IsZero() {
		pr.SetupMS.ICEConnected = msSince(r.start, connectedAt)
		pr.CallS = endedAt.Sub(connectedAt).Seconds()
	}
	var st call.Stats
	if p.sess != nil {
		st = p.sess.Stats()
		if code, err := p.sess.SAS(); err == nil {
			pr.SAS = code.Digits
		}
		if m, ok := p.sess.RemoteMedia(); ok {
			pr.RemoteMedia = &RemoteMedia{Audio: m.Audio, Video: m.Video}
		}
	}
	pr.ICE.SelectedPair = SelectedPair{Local: st.LocalCandidate, Remote: st.RemoteCandidate}
	pr.RTTMS = float64(st.RTT.Microseconds()) / 1000
	if v := p.video(); v != nil {
		from := connectedAt
		if from.IsZero() {
			from = endedAt
		}
		pr.VideoIn, pr.Latency = v.summary(from, endedAt)
		pr.VideoIn.LongFreezes = v.longFreezes(from, endedAt)
		if t := v.firstFrame(); !t.IsZero() {
			pr.SetupMS.FirstVideoFrame = msSince(r.start, t)
		}
	}
	pr.VideoIn.PacketsLost = int(st.VideoIn.PacketsLost)
	pr.VideoIn.NACKsSent = int(st.VideoIn.NACKs)
	pr.VideoIn.PLIsSent = max(pr.VideoIn.PLIsSent, int(st.VideoIn.PLIs))
	pr.VideoIn.BitrateKbps = float64(st.VideoIn.Bitrate) / 1000
	pr.ShareIn = shareSummary(p)
	if a := p.audio(); a != nil {
		pr.AudioIn = a.summary(ended)
		if t := a.firstPacket(); !t.IsZero() {
			pr.SetupMS.FirstAudioPacket = msSince(r.start, t)
		}
	}
	return pr
}

// keepShareFrame keeps a copy of the latest decoded share frame for
// --share-snapshot (the decoder reuses its picture).
func (r *headlessRun) keepShareFrame(_ string, df DecodedFrame) {
	if !df.Share || df.Image == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastShare = copyYCbCr(r.lastShare, df.Image)
}

// writeShareSnapshot writes the kept share frame's luma as a gray PNG.
func (r *headlessRun) writeShareSnapshot() error {
	r.mu.Lock()
	img := r.lastShare
	r.mu.Unlock()
	if img == nil {
		return fmt.Errorf("--share-snapshot: no screen share frame arrived")
	}
	f, err := os.Create(r.o.ShareSnapshot)
	if err != nil {
		return fmt.Errorf("--share-snapshot: %w", err)
	}
	// The luma plane as it was decoded (studio range): what a PSNR on Y
	// compares, and legible to look at.
	gray := &image.Gray{Pix: img.Y, Stride: img.YStride, Rect: img.Rect}
	if err := png.Encode(f, gray); err != nil {
		_ = f.Close()
		return fmt.Errorf("--share-snapshot: %w", err)
	}
	return f.Close()
}

// copyYCbCr copies src into dst (reallocated when the size changed).
func copyYCbCr(dst, src *image.YCbCr) *image.YCbCr {
	if dst == nil || dst.Rect != src.Rect || dst.SubsampleRatio != src.SubsampleRatio {
		dst = image.NewYCbCr(src.Rect, src.SubsampleRatio)
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	for y := range h {
		copy(dst.Y[y*dst.YStride:y*dst.YStride+w], src.Y[y*src.YStride:y*src.YStride+w])
	}
	for y := range ch {
		copy(dst.Cb[y*dst.CStride:y*dst.CStride+cw], src.Cb[y*src.CStride:y*src.CStride+cw])
		copy(dst.Cr[y*dst.CStride:y*dst.CStride+cw], src.Cr[y*src.CStride:y*src.CStride+cw])
	}
	return dst
}

// shareSummary is what arrived of p's latest screen share, its rate
// over the time it ran.
func shareSummary(p *confPeer) ShareInStats {
	p.mu.Lock()
	n := len(p.shares)
	p.mu.Unlock()
	v := p.shareVideo()
	if v == nil {
		return ShareInStats{}
	}
	first, last := v.frameSpan()
	vi, _ := v.summary(first, last)
	return ShareInStats{Shares: n, FramesDecoded: vi.FramesDecoded, FPS: vi.FPS, Width: vi.Width, Height: vi.Height, Freezes: vi.Freezes}
}

func (r *headlessRun) checkExpectations(rep *Report) error {
	var unmet []string
	for i, pr := range rep.Peers {
		var who string
		if len(rep.Peers) > 1 {
			who = fmt.Sprintf("from %s: ", peerLabel(pr, i))
		}
		var p *confPeer
		if r.conf != nil {
			p = r.conf.Peers()[i]
		}
		for _, why := range r.mediaFlowUnmet(p, pr) {
			unmet = append(unmet, who+why)
		}
		if pr.CallS <= 0 {
			continue // never connected: the flow rule and the figures do not apply
		}
		if r.o.ExpectFPS > 0 && pr.VideoIn.FPS < r.o.ExpectFPS {
			unmet = append(unmet, fmt.Sprintf("%sreceived video at %.1f fps, expected at least %.1f", who, pr.VideoIn.FPS, r.o.ExpectFPS))
		}
		if r.o.ExpectMinFrames > 0 && pr.VideoIn.FramesDecoded < r.o.ExpectMinFrames {
			unmet = append(unmet, fmt.Sprintf("%sdecoded %d video frames, expected at least %d", who, pr.VideoIn.FramesDecoded, r.o.ExpectMinFrames))
		}
	}
	if len(rep.Peers) == 0 && (r.o.ExpectFPS > 0 || r.o.ExpectMinFrames > 0) {
		unmet = append(unmet, "no peer sent anything")
	}
	if len(unmet) > 0 {
		return fmt.Errorf("%w: %s", ErrExpectationUnmet, strings.Join(unmet, "; "))
	}
	return nil
}

func peerLabel(pr PeerReport, i int) string {
	if pr.Name != "" {
		return fmt.Sprintf("%q", pr.Name)
	}
	return fmt.Sprintf("peer %d", i+1)
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

// mediaFlowUnmet checks the received-media rule for one peer's audio and
// video over its connected time.
func (r *headlessRun) mediaFlowUnmet(p *confPeer, pr PeerReport) []string {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	connected, end := p.connectedAt, p.endedAt
	got := maps.Clone(p.gotTrack)
	p.mu.Unlock()
	r.mu.Lock()
	if callEnd := r.endedAt; !callEnd.IsZero() && (end.IsZero() || end.After(callEnd)) {
		end = callEnd
	}
	r.mu.Unlock()
	if end.IsZero() {
		end = time.Now()
	}
	said := pr.RemoteMedia != nil
	audio := mediaFlow{kind: "audio", device: "microphone", said: said, gotTrack: got[webrtc.RTPCodecTypeAudio]}
	video := mediaFlow{kind: "video", device: "camera", said: said, gotTrack: got[webrtc.RTPCodecTypeVideo]}
	if said {
		audio.on, video.on = pr.RemoteMedia.Audio, pr.RemoteMedia.Video
	}
	if a := p.audio(); a != nil {
		audio.first, audio.last = a.packetSpan()
	}
	if v := p.video(); v != nil {
		video.first, video.last = v.frameSpan()
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
