package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peercall/peercall/call"
	"github.com/peercall/peercall/signalserver"
)

// Phase is where the user is, as the GUI shows it.
type Phase int

// Phases, in the order a call walks through them.
const (
	PhaseIdle             Phase = iota // start screen
	PhaseConnectingServer              // starting/reaching the signaling server
	PhaseWaiting                       // in the room, waiting for the other person
	PhaseConnecting                    // the other person is here; ICE/DTLS running
	PhaseConnected                     // media flows
	PhaseReconnecting                  // path lost, ICE restart
	PhaseEnded                         // over, with Reason
	PhaseFailed                        // over, with a user-safe Error
)

func (p Phase) String() string {
	switch p {
	case PhaseIdle:
		return "idle"
	case PhaseConnectingServer:
		return "connecting to server"
	case PhaseWaiting:
		return "waiting for the other person"
	case PhaseConnecting:
		return "connecting"
	case PhaseConnected:
		return "connected"
	case PhaseReconnecting:
		return "reconnecting"
	case PhaseEnded:
		return "ended"
	case PhaseFailed:
		return "failed"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// InCall reports whether the call screen shows (a call is being set up or live).
func (p Phase) InCall() bool { return p >= PhaseConnectingServer && p <= PhaseReconnecting }

// Terminal reports whether the call is over.
func (p Phase) Terminal() bool { return p == PhaseEnded || p == PhaseFailed }

// ChatLine is one chat message as shown.
type ChatLine struct {
	Local bool
	From  string
	Text  string
	Time  time.Time
}

// CallStats is a call.Stats snapshot with what the media layer measures
// (VideoIn's FPS and frame size come from the decoder too).
type CallStats struct {
	call.Stats
	LatencyMS float64 // capture to decode of marked (synthetic) frames, 0 if none
}

// Notify is one snapshot of everything the GUI shows. The controller sends a
// new one after every change; the GUI renders it and keeps no state of its
// own. Video frames travel separately (SetFrameSink).
type Notify struct {
	Phase    Phase
	Progress string // the long step now running, for the user ("Starting the server…")
	Reason   string // PhaseEnded: why ("The other person hung up")
	Error    string // PhaseFailed: user-safe message

	Room, Name string
	ServerURL  string // the server this side joined
	Hosting    bool   // the signaling server runs in this process
	LANAddress string // host:port others on the LAN use (display only)
	JoinString string // what to send the other person (copyable)
	// BrowserLink opens the call page for this room in a browser
	// (https://HOST:PORT/r/ROOM), for someone without the app; empty when
	// the server has no https side known to this app.
	BrowserLink string
	// BrowserFingerprint is the SHA-256 of the hosted server's self-signed
	// certificate, which the browser warns about; empty when not hosting.
	BrowserFingerprint string

	ConnectedAt time.Time
	Elapsed     time.Duration // call timer

	SASDigits string
	SASWords  []string

	Stats        CallStats
	Quality      int // 0 (unknown) to 4 bars
	MicLevel     float64
	SpeakerLevel float64

	Muted     bool
	CameraOn  bool
	AudioOnly bool // no camera: placeholder picture
	// Devices are the camera, microphone and speaker in use (in a call)
	// or chosen for the next one (Settings).
	Devices Devices

	// The other person: display name (may be empty) and what their side
	// says of its media. Both stay true for a peer that never says (an
	// older version): its video then shows as it arrives.
	RemoteName     string
	RemoteCameraOn bool // false: show "<name>'s camera is off"
	RemoteMicOn    bool // false: show "muted"

	// Peers are everyone else in the call, in the order they joined (a
	// group call has up to three). The Remote* fields, SAS and Stats above
	// describe Peers[0], for 1:1 views.
	Peers []PeerView

	Chat []ChatLine

	NetTest        *NetTestReport
	NetTestRunning bool

	Previewing   bool   // the Settings preview runs (MicLevel is its level)
	PreviewError string // why the preview could not start, user-safe

	// PlainPasswords: TURN passwords are in the settings file because no
	// keyring is available (the Settings screen says so).
	PlainPasswords bool

	// Notice is a user-safe message about something that went wrong in
	// the background without stopping anything (signaling lost mid-call,
	// passwords saved in plain text, a device switch that failed); the GUI
	// shows it until the next. NoticeSeq counts notices, so the same
	// sentence twice is still seen as new.
	Notice    string
	NoticeSeq int

	// SwitchingDevices: a SwitchDevices runs (the devices popup waits).
	SwitchingDevices bool

	// Sharing: this side shares a screen (ShareLabel says which).
	Sharing    bool
	ShareLabel string

	// Files are this call's file transfers, both ways, oldest first (a
	// group call has one per person a file goes to).
	Files []FileView
}

// PeerView is one other person in the call as the GUI shows them.
type PeerView struct {
	ID   string // the signaling server's peer id: keys VideoFrame.Peer
	Name string
	// Phase is this person's own connection: PhaseConnecting,
	// PhaseConnected or PhaseReconnecting.
	Phase    Phase
	CameraOn bool    // false: show "<name>'s camera is off"
	MicOn    bool    // false: show "muted"
	Level    float64 // their received audio, 0..1
	Speaking bool    // the loudest voice now (active speaker highlight)

	SASDigits string // this pair's code, compared with this person
	SASWords  []string
	Stats     CallStats
	Quality   int // 0 (unknown) to 4 bars
	// Sharing: their screen share arrives (VideoFrame.Share frames).
	Sharing bool
}

// VideoFrame is a picture for the video view. Image is only valid during
// the callback (decoders and sources reuse it): convert or copy it there.
type VideoFrame struct {
	Local bool   // self-view
	Peer  string // remote frames: the sender's PeerView.ID
	Share bool   // remote frames: from the sender's screen share
	Image *image.YCbCr
}

// MediaOptions chooses the media sources of a call.
type MediaOptions struct {
	Video        string // camera | synthetic | none ("" = camera, falling back to audio-only)
	Audio        string // mic | synthetic | tone | none ("" = mic, falling back to synthetic silence)
	LoopbackOnly bool   // ICE on loopback only, both ends (tests, smoke run)
}

// CallParams is what the engine needs to place a call.
type CallParams struct {
	Server, Room, Name, Password string
	Settings                     Settings
	Media                        MediaOptions
	OnFrame                      func(VideoFrame) // must not block
}

// HostedServer is a signaling server running in this process.
type HostedServer struct {
	URL     string // loopback ws:// URL this side joins
	LANAddr string // host:port for others (display only)
	// HTTPSAddr is host:port of the same server over TLS, for the browser
	// page (display only); Fingerprint is the SHA-256 of its self-signed
	// certificate (signalserver.Fingerprint form). Both empty: no browser link.
	HTTPSAddr   string
	Fingerprint string
	Stop        func()
}

// CallEvent is what a running Call reports. Exactly one part is set,
// besides Peer.
type CallEvent struct {
	// Peer names the person the event is about (PeerView.ID); "" for the
	// call as a whole. A Phase with Peer set is that person's connection.
	Peer string
	// Gone: Peer left the call (Reason says how; Err when it failed).
	Gone      bool
	Phase     Phase // non-zero: a phase change
	Reason    string
	Err       error
	Stats     *CallStats
	SAS       *call.SASCode
	Chat      *call.ChatMessage
	AudioOnly bool   // with Phase: the call has no local camera
	PeerName  string // with Phase: the other person's display name, once known
	// RemoteMedia: the other person turned the mic or camera on or off.
	RemoteMedia *call.MediaState
	// Notice: something the user should know; the call goes on
	// (SignalingLostNotice).
	Notice string
	// Share: Peer started (On) or stopped sharing a screen.
	Share *ShareState
	// File: a transfer with Peer changed (state, progress).
	File *FileView
}

// ShareState is whether a person's screen share is arriving.
type ShareState struct{ On bool }

// Call is one running call inside the engine.
type Call interface {
	// Events reports phases, stats, SAS and chat; closed when the call is over.
	Events() <-chan CallEvent
	// Levels are the current mic and speaker levels, 0..1.
	Levels() (mic, speaker float64)
	SetMute(on bool)
	SetCamera(on bool) error
	// SetDevices moves the call to the devices in d; those equal to the
	// current ones are kept. It returns the devices in use afterwards
	// (some may have switched when another failed) and the first error,
	// user-safe. Opening a camera can take a moment: not on the GUI thread.
	SetDevices(d Devices) (Devices, error)
	SendChat(text string) error
	// HangUp ends the call and waits until it has released everything.
	HangUp()
}

// Engine is the call pipeline: the real one (NewEngine) or a test fake.
type Engine interface {
	Host(ctx context.Context) (HostedServer, error)
	// Dial reaches the server, joins the room and returns the call,
	// which then waits for the other person.
	Dial(ctx context.Context, p CallParams) (Call, error)
}

// Previewer runs the Settings screen's camera and microphone preview until
// ctx ends: frames go to onFrame (Local), levels to level.
type Previewer interface {
	// warn reports a device that failed while the other one previews.
	Preview(ctx context.Context, s Settings, media MediaOptions, onFrame func(VideoFrame), level func(float64), warn func(error)) error
}

// NetTester runs the network test (NewNetTester or a fake).
type NetTester interface {
	Run(ctx context.Context, cfg NetTestConfig, progress func(NetTestReport)) NetTestReport
}

// ControllerOptions configures NewController.
type ControllerOptions struct {
	Engine    Engine
	NetTester NetTester
	Previewer Previewer   // nil: no device preview
	Store     Store       // settings; nil keeps them in memory
	Secrets   SecretStore // TURN passwords; nil means no keyring
	Media     MediaOptions
	Logger    *slog.Logger
	Now       func() time.Time
	// Tick is how often the call timer and level meters refresh (default 200 ms).
	Tick time.Duration
}

// Controller is the Fyne-free heart of the desktop app: commands in,
// Notify snapshots out. Every method is safe from any goroutine and none
// blocks on the network: long steps run on the controller's goroutines.
type Controller struct {
	o   ControllerOptions
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	st       Notify
	settings Settings
	call     Call
	callStop context.CancelFunc // cancels the call being set up
	gen      int                // call generation: stale goroutines check it
	watch    func(Notify)
	pending  []Notify
	flushing bool
	sink     func(VideoFrame)
	testStop context.CancelFunc
	prevStop context.CancelFunc
	prevDone chan struct{}

	// jobs are the slow halves of commands (opening a device, the keyring,
	// the settings store), run in order on one controller goroutine so the
	// GUI thread never waits on them and the call ends as the clicks did.
	jobs    []func()
	jobBusy bool

	// own are the app's own X windows, hidden from a shared screen and
	// left out of the Share picker (SetOwnWindows).
	own []uint32
}

// NewController loads the settings and returns an idle controller.
func NewController(o ControllerOptions) *Controller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick <= 0 {
		o.Tick = 200 * time.Millisecond
	}
	c := &Controller{o: o, log: o.Logger, settings: DefaultSettings()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if o.Store != nil {
		s, err := LoadSettings(o.Store, o.Secrets)
		if err != nil {
			c.log.Warn("settings reset to defaults", "err", err)
		}
		c.settings = s
		c.st.PlainPasswords = hasPlainPasswords(o.Store)
	}
	c.st.Name = c.settings.DisplayName
	c.st.CameraOn = true
	c.st.Devices = callDevices(c.settings, o.Media)
	return c
}

// Watch sets the function that receives every snapshot, in order, on a
// controller goroutine. It must not block (the GUI hands it to fyne.Do).
// The current snapshot is delivered at once.
func (c *Controller) Watch(fn func(Notify)) {
	c.mu.Lock()
	c.watch = fn
	c.mu.Unlock()
	c.update(func(*Notify) {})
}

// SetFrameSink sets the function that receives local and remote video
// frames (latest frame wins is the GUI's job). nil drops frames.
func (c *Controller) SetFrameSink(fn func(VideoFrame)) {
	c.mu.Lock()
	c.sink = fn
	c.mu.Unlock()
}

// Snapshot returns the current state.
func (c *Controller) Snapshot() Notify {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneNotify(c.st)
}

// Settings returns the current settings.
func (c *Controller) Settings() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.settings
	s.ICEServers = slices.Clone(s.ICEServers)
	s.Interfaces = slices.Clone(s.Interfaces)
	s.RecentServers = slices.Clone(s.RecentServers)
	return s
}

func cloneNotify(n Notify) Notify {
	n.Chat = slices.Clone(n.Chat)
	n.SASWords = slices.Clone(n.SASWords)
	n.Peers = slices.Clone(n.Peers)
	n.Files = slices.Clone(n.Files)
	for i := range n.Peers {
		n.Peers[i].SASWords = slices.Clone(n.Peers[i].SASWords)
	}
	if n.NetTest != nil {
		t := n.NetTest.clone()
		n.NetTest = &t
	}
	return n
}

// update changes the snapshot under the lock and queues a copy for the
// watcher. Delivery is ordered and never holds c.mu.
func (c *Controller) update(f func(*Notify)) {
	c.mu.Lock()
	f(&c.st)
	if c.watch == nil {
		c.mu.Unlock()
		return
	}
	c.pending = append(c.pending, cloneNotify(c.st))
	if c.flushing {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.flushing = false
			c.mu.Unlock()
			return
		}
		batch := c.pending
		c.pending = nil
		fn := c.watch
		c.mu.Unlock()
		for _, n := range batch {
			fn(n)
		}
	}
}

// JoinParams are the Start screen's fields.
type JoinParams struct {
	Server   string // Join only: ws:// or wss:// URL (a join string also works)
	Room     string
	Name     string
	Password string
}

// StartCall hosts the signaling server in this process on a free port and
// joins it; Notify.JoinString is what the other person needs.
func (c *Controller) StartCall(p JoinParams) error {
	if strings.TrimSpace(p.Room) == "" {
		return &UserError{Msg: "Enter a room name.", Err: ErrBadFlags}
	}
	return c.begin(p, true)
}

// Join connects to the server at p.Server (or a join string) and joins p.Room.
func (c *Controller) Join(p JoinParams) error {
	server, room, err := ParseJoinString(p.Server)
	if err != nil {
		return err
	}
	p.Server = server
	if p.Room == "" {
		p.Room = room
	}
	if strings.TrimSpace(p.Room) == "" {
		return &UserError{Msg: "Enter a room name.", Err: ErrBadFlags}
	}
	return c.begin(p, false)
}

func (c *Controller) begin(p JoinParams, host bool) error {
	if c.o.Engine == nil {
		return &UserError{Msg: "Calls are not available in this build.", Err: ErrUnsupportedMedia}
	}
	c.StopPreview() // the call needs the camera and microphone
	c.mu.Lock()
	if c.st.Phase.InCall() || c.call != nil {
		c.mu.Unlock()
		return ErrBusy
	}
	c.gen++
	gen := c.gen
	ctx, cancel := context.WithCancel(c.ctx)
	c.callStop = cancel
	if p.Name == "" {
		p.Name = c.settings.DisplayName
	}
	settings := c.settings
	c.mu.Unlock()

	c.update(func(n *Notify) {
		*n = Notify{
			Phase: PhaseConnectingServer, Room: p.Room, Name: p.Name, ServerURL: p.Server, Hosting: host,
			CameraOn: true, RemoteCameraOn: true, RemoteMicOn: true, Devices: callDevices(settings, c.o.Media),
			Progress: "Connecting to the server…", NetTest: n.NetTest, PlainPasswords: n.PlainPasswords,
			// The last call's notice is stale; the count goes on.
			NoticeSeq: n.NoticeSeq,
		}
		if host {
			n.Progress = "Starting the server…"
		}
	})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		c.runCall(ctx, gen, p, host, settings)
	}()
	return nil
}

// runCall owns one call from server start to the end.
func (c *Controller) runCall(ctx context.Context, gen int, p JoinParams, host bool, settings Settings) {
	if host {
		hs, err := c.o.Engine.Host(ctx)
		if err != nil {
			c.fail(gen, err)
			return
		}
		defer hs.Stop()
		p.Server = hs.URL
		join := JoinString(hs.LANAddr, p.Room)
		link := BrowserLink(hs.HTTPSAddr, p.Room)
		c.update(func(n *Notify) {
			n.ServerURL, n.LANAddress, n.JoinString = hs.URL, hs.LANAddr, join
			n.BrowserLink, n.BrowserFingerprint = link, hs.Fingerprint
			if link == "" {
				n.BrowserFingerprint = ""
			}
			n.Progress = "Connecting to the server…"
		})
	} else {
		c.mu.Lock()
		c.settings.RememberServer(p.Server)
		recent := slices.Clone(c.settings.RecentServers)
		c.mu.Unlock()
		// Under their own key: the rest of the settings (and the
		// passwords in them) are not written again for a join.
		c.enqueue(func() {
			if c.o.Store != nil {
				SaveRecentServers(c.o.Store, recent)
			}
		})
		c.update(func(n *Notify) {
			n.JoinString = JoinString(hostOf(p.Server), p.Room)
			// A wss:// server serves the page on the same address; a
			// plain one would give the browser no camera.
			if strings.HasPrefix(p.Server, "wss://") {
				n.BrowserLink = BrowserLink(hostOf(p.Server), p.Room)
			}
		})
	}
	cl, err := c.o.Engine.Dial(ctx, CallParams{
		Server: p.Server, Room: p.Room, Name: p.Name, Password: p.Password,
		Settings: settings, Media: c.o.Media, OnFrame: c.frame,
	})
	if err != nil {
		c.fail(gen, err)
		return
	}
	c.mu.Lock()
	if c.gen != gen || ctx.Err() != nil {
		c.mu.Unlock()
		cl.HangUp()
		return
	}
	c.call = cl
	c.mu.Unlock()
	c.update(func(n *Notify) { n.Phase, n.Progress = PhaseWaiting, "Waiting for the other person to join…" })

	tick := time.NewTicker(c.o.Tick)
	defer tick.Stop()
	events := cl.Events()
	for {
		select {
		case <-ctx.Done():
			cl.HangUp()
			c.finish(gen, PhaseEnded, "You hung up", nil)
			c.drain(events)
			return
		case <-tick.C:
			mic, spk := cl.Levels()
			var peers map[string]float64
			if pl, ok := cl.(interface{ PeerLevels() map[string]float64 }); ok {
				peers = pl.PeerLevels()
			}
			now := c.o.Now()
			c.update(func(n *Notify) {
				n.MicLevel, n.SpeakerLevel = mic, spk
				setPeerLevels(n, peers)
				if n.Muted {
					n.MicLevel = 0
				}
				if !n.ConnectedAt.IsZero() {
					n.Elapsed = now.Sub(n.ConnectedAt).Truncate(time.Second)
				}
			})
		case ev, ok := <-events:
			if !ok {
				cl.HangUp()
				c.finish(gen, PhaseEnded, "The call ended", nil)
				return
			}
			if c.apply(gen, ev) {
				cl.HangUp()
				c.drain(events)
				return
			}
		}
	}
}

func (c *Controller) drain(events <-chan CallEvent) {
	for range events {
	}
}

// apply folds one call event into the snapshot; true when the call is over.
func (c *Controller) apply(gen int, ev CallEvent) bool {
	if ev.File != nil {
		f := *ev.File
		c.update(func(n *Notify) { applyFile(n, f) })
		return false
	}
	if ev.Peer != "" {
		c.update(func(n *Notify) {
			applyPeer(n, ev)
			mirrorFirstPeer(n)
		})
		return false
	}
	switch {
	case ev.Phase == PhaseEnded || ev.Phase == PhaseFailed:
		reason := ev.Reason
		if reason == "" {
			reason = "The call ended"
		}
		c.finish(gen, ev.Phase, reason, ev.Err)
		return true
	case ev.Phase != 0:
		now := c.o.Now()
		c.update(func(n *Notify) {
			n.Phase = ev.Phase
			n.Progress = progressText(ev.Phase)
			if ev.AudioOnly {
				n.AudioOnly, n.CameraOn = true, false
			}
			if ev.PeerName != "" {
				n.RemoteName = ev.PeerName
			}
			if ev.Phase == PhaseConnected && n.ConnectedAt.IsZero() {
				n.ConnectedAt = now
			}
		})
	case ev.Stats != nil:
		st := *ev.Stats
		c.update(func(n *Notify) {
			n.Stats = st
			n.Quality = QualityBars(st.Stats)
		})
	case ev.SAS != nil:
		sas := *ev.SAS
		c.update(func(n *Notify) { n.SASDigits, n.SASWords = sas.Digits, slices.Clone(sas.Words) })
	case ev.RemoteMedia != nil:
		m := *ev.RemoteMedia
		c.update(func(n *Notify) { n.RemoteCameraOn, n.RemoteMicOn = m.Video, m.Audio })
	case ev.Notice != "":
		c.update(func(n *Notify) { setNotice(n, ev.Notice) })
	case ev.Chat != nil:
		m := *ev.Chat
		c.update(func(n *Notify) {
			from := n.RemoteName
			if from == "" {
				from = "Them"
			}
			n.Chat = append(n.Chat, ChatLine{From: from, Text: m.Text, Time: m.Time})
		})
	}
	return false
}

// applyPeer folds an event about one person into n.Peers.
func applyPeer(n *Notify, ev CallEvent) {
	i := slices.IndexFunc(n.Peers, func(p PeerView) bool { return p.ID == ev.Peer })
	if ev.Gone {
		if i >= 0 {
			name := n.Peers[i].Name
			n.Peers = slices.Delete(slices.Clone(n.Peers), i, i+1)
			if len(n.Peers) > 0 {
				setNotice(n, cmp.Or(name, "Someone")+" left the call.")
			}
		}
		return
	}
	if i < 0 {
		n.Peers = append(slices.Clone(n.Peers), PeerView{ID: ev.Peer, Phase: PhaseConnecting, CameraOn: true, MicOn: true})
		i = len(n.Peers) - 1
	} else {
		n.Peers = slices.Clone(n.Peers) // snapshots already sent keep theirs
	}
	p := &n.Peers[i]
	if ev.PeerName != "" {
		p.Name = ev.PeerName
	}
	switch {
	case ev.Phase != 0:
		p.Phase = ev.Phase
	case ev.Stats != nil:
		p.Stats = *ev.Stats
		p.Quality = QualityBars(ev.Stats.Stats)
	case ev.SAS != nil:
		p.SASDigits, p.SASWords = ev.SAS.Digits, slices.Clone(ev.SAS.Words)
	case ev.RemoteMedia != nil:
		p.CameraOn, p.MicOn = ev.RemoteMedia.Video, ev.RemoteMedia.Audio
	case ev.Chat != nil:
		n.Chat = append(n.Chat, ChatLine{From: cmp.Or(p.Name, "Them"), Text: ev.Chat.Text, Time: ev.Chat.Time})
	case ev.Share != nil:
		p.Sharing = ev.Share.On
	}
}

// mirrorFirstPeer keeps the 1:1 fields describing the first person.
func mirrorFirstPeer(n *Notify) {
	if len(n.Peers) == 0 {
		return
	}
	p := n.Peers[0]
	n.RemoteName, n.RemoteCameraOn, n.RemoteMicOn = p.Name, p.CameraOn, p.MicOn
	n.SASDigits, n.SASWords = p.SASDigits, p.SASWords
	n.Stats, n.Quality = p.Stats, p.Quality
}

// speakingLevel is the received level (0..1 over -60..0 dBFS, so about
// -27 dBFS) above which the loudest person counts as speaking.
const speakingLevel = 0.55

// setPeerLevels meters each person and marks the active speaker.
func setPeerLevels(n *Notify, levels map[string]float64) {
	if len(n.Peers) == 0 || levels == nil {
		return
	}
	n.Peers = slices.Clone(n.Peers)
	loudest, top := -1, speakingLevel
	for i := range n.Peers {
		p := &n.Peers[i]
		p.Level, p.Speaking = levels[p.ID], false
		if p.Level >= top {
			loudest, top = i, p.Level
		}
	}
	if loudest >= 0 {
		n.Peers[loudest].Speaking = true
	}
}

// setNotice shows msg as the latest notice.
func setNotice(n *Notify, msg string) {
	n.Notice = msg
	n.NoticeSeq++
}

func progressText(p Phase) string {
	switch p {
	case PhaseWaiting:
		return "Waiting for the other person to join…"
	case PhaseConnecting:
		return "Connecting to the other person…"
	case PhaseReconnecting:
		return "Connection lost, reconnecting…"
	}
	return ""
}

// finish ends the call in phase (Ended or Failed) if gen is still current.
func (c *Controller) finish(gen int, phase Phase, reason string, err error) {
	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		return
	}
	c.call = nil
	c.callStop = nil
	c.mu.Unlock()
	c.update(func(n *Notify) {
		n.Phase, n.Progress = phase, ""
		if phase == PhaseFailed {
			n.Error = UserMessage(err)
			if n.Error == "" {
				n.Error = reason
			}
		} else {
			n.Reason = reason
		}
		n.MicLevel, n.SpeakerLevel = 0, 0
	})
}

func (c *Controller) fail(gen int, err error) {
	if errors.Is(err, context.Canceled) {
		c.finish(gen, PhaseEnded, "You hung up", nil)
		return
	}
	c.finish(gen, PhaseFailed, "", err)
}

func (c *Controller) frame(f VideoFrame) {
	c.mu.Lock()
	sink := c.sink
	c.mu.Unlock()
	if sink != nil {
		sink(f)
	}
}

// HangUp ends the call (or its setup). The snapshot goes to PhaseEnded.
func (c *Controller) HangUp() {
	c.mu.Lock()
	stop := c.callStop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Dismiss returns from an ended or failed call to the start screen.
func (c *Controller) Dismiss() {
	c.update(func(n *Notify) {
		if n.Phase.Terminal() {
			n.Phase, n.Reason, n.Error, n.Progress = PhaseIdle, "", "", ""
		}
	})
}

func (c *Controller) current() (Call, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.call == nil {
		return nil, ErrNotInCall
	}
	return c.call, nil
}

// enqueue runs job after the jobs before it, on a controller goroutine
// (Close waits for it).
func (c *Controller) enqueue(job func()) {
	c.mu.Lock()
	c.jobs = append(c.jobs, job)
	if c.jobBusy {
		c.mu.Unlock()
		return
	}
	c.jobBusy = true
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		for {
			c.mu.Lock()
			if len(c.jobs) == 0 {
				c.jobBusy = false
				c.mu.Unlock()
				return
			}
			job := c.jobs[0]
			c.jobs = c.jobs[1:]
			c.mu.Unlock()
			job()
		}
	}()
}

// notice shows a user-safe message in the snapshot.
func (c *Controller) notice(msg string) {
	c.update(func(n *Notify) { setNotice(n, msg) })
}

// SetMute mutes or unmutes the microphone (allowed before the call too).
// It returns at once; the call follows on a controller goroutine.
func (c *Controller) SetMute(on bool) {
	c.update(func(n *Notify) {
		n.Muted = on
		if on {
			n.MicLevel = 0
		}
	})
	c.enqueue(func() {
		if cl, err := c.current(); err == nil {
			cl.SetMute(on)
		}
	})
}

// SetCamera turns the camera on or off; audio-only calls stay off (the
// error). It returns at once: opening the camera runs on a controller
// goroutine, and if it fails Notify.CameraOn goes back to false with a
// Notice saying why.
func (c *Controller) SetCamera(on bool) error {
	if c.Snapshot().AudioOnly && on {
		return &UserError{Msg: "No camera found: this is an audio-only call.", Err: ErrUnsupportedMedia}
	}
	c.update(func(n *Notify) { n.CameraOn = on })
	c.enqueue(func() {
		cl, err := c.current()
		if err != nil {
			return
		}
		if err := cl.SetCamera(on); err != nil {
			c.update(func(n *Notify) {
				n.CameraOn = !on
				setNotice(n, UserMessage(err))
			})
		}
	})
	return nil
}

// sharer is a call that can share a screen.
type sharer interface {
	StartShare(src ShareSource) error
	StopShare() error
}

// StartShare shares the screen spec names (OpenShareSource) with everyone
// in the call; label is what the "You are sharing" bar says.
func (c *Controller) StartShare(spec, label string) error {
	cl, err := c.current()
	if err != nil {
		return err
	}
	sh, ok := cl.(sharer)
	if !ok {
		return &UserError{Msg: "This call cannot share a screen.", Err: ErrShareSource}
	}
	c.mu.Lock()
	own := slices.Clone(c.own)
	c.mu.Unlock()
	src, err := OpenShareSource(spec, own...)
	if errors.Is(err, ErrShareCanceled) {
		return nil // the user closed the desktop's picker
	}
	if err != nil {
		return &UserError{Msg: "Cannot share that screen: " + err.Error(), Err: err}
	}
	if err := sh.StartShare(src); err != nil {
		if src.Close != nil {
			_ = src.Close()
		}
		if errors.Is(err, ErrAlreadySharing) {
			return &UserError{Msg: "You are already sharing your screen.", Err: err}
		}
		return err
	}
	c.update(func(n *Notify) { n.Sharing, n.ShareLabel = true, cmp.Or(label, "your screen") })
	return nil
}

// ShareChoices lists what the Share picker offers (ListShareChoices; the
// test picture when the call's video is synthetic).
func (c *Controller) ShareChoices() ([]ShareChoice, error) {
	c.mu.Lock()
	own := slices.Clone(c.own)
	c.mu.Unlock()
	choices, err := ListShareChoices(c.o.Media.Video == "synthetic", own...)
	if err != nil {
		msg := err.Error()
		return nil, &UserError{Msg: strings.ToUpper(msg[:1]) + msg[1:] + ".", Err: err}
	}
	return choices, nil
}

// StopShare ends this side's screen share.
func (c *Controller) StopShare() error {
	c.update(func(n *Notify) { n.Sharing, n.ShareLabel = false, "" })
	cl, err := c.current()
	if err != nil {
		return err
	}
	if sh, ok := cl.(sharer); ok {
		if err := sh.StopShare(); err != nil && !errors.Is(err, ErrNotSharing) {
			return err
		}
	}
	return nil
}

// SendChat sends text and adds it to the chat log.
func (c *Controller) SendChat(text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	cl, err := c.current()
	if err != nil {
		return err
	}
	if err := cl.SendChat(text); err != nil {
		if errors.Is(err, call.ErrChatTooLong) {
			return &UserError{Msg: "That message is too long.", Err: err}
		}
		return &UserError{Msg: "Chat is not available yet.", Err: err}
	}
	now := c.o.Now()
	c.update(func(n *Notify) { n.Chat = append(n.Chat, ChatLine{Local: true, From: n.Name, Text: text, Time: now}) })
	return nil
}

// PlainPasswordsNotice is the Notice of a save whose TURN passwords went
// into the settings file because the keyring failed.
const PlainPasswordsNotice = "The keyring is not available: TURN passwords were saved in plain text in the settings file."

// ApplySettings validates s and makes it the settings of the next call.
// Invalid settings return a *ValidationError and change nothing. The
// recent servers are kept (Join remembers them). It returns at once:
// saving (keyring, store) runs on a controller goroutine and reports
// through the snapshot (PlainPasswords, Notice).
func (c *Controller) ApplySettings(s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	s.RecentServers = slices.Clone(c.settings.RecentServers)
	c.settings = s
	c.mu.Unlock()
	c.update(func(n *Notify) {
		if !n.Phase.InCall() {
			n.Name = s.DisplayName
			n.Devices = callDevices(s, c.o.Media)
		}
	})
	if fc, err := c.fileCall(); err == nil {
		fc.SetFilePolicy(s.FilePolicy()) // offers from now on
	}
	c.enqueue(func() { c.persist(s) })
	return nil
}

// persist saves s (a job): every fallback to plain-text passwords is a
// notice, not only the one found at start.
func (c *Controller) persist(s Settings) {
	if c.o.Store == nil {
		return
	}
	info, err := SaveSettings(c.o.Store, c.o.Secrets, s)
	if err != nil {
		c.log.Warn("settings not saved", "err", err)
		c.notice("The settings could not be saved: " + UserMessage(err))
		return
	}
	if info.PlainPasswords {
		c.log.Warn("TURN passwords saved in plain text", "err", info.KeyringErr)
	}
	c.update(func(n *Notify) {
		n.PlainPasswords = info.PlainPasswords
		if info.PlainPasswords {
			setNotice(n, PlainPasswordsNotice)
		}
	})
}

// SwitchDevices moves the running call to the camera, microphone and
// speaker in d (those equal to the current ones are kept) and saves the
// ones that switched into the settings, so the next call starts on them
// too. It returns at once (ErrNotInCall without a call): opening devices
// runs on a controller goroutine while Notify.SwitchingDevices is set.
// Notify.Devices then shows what the call uses; a device that failed
// stays as it was, with a Notice saying why.
func (c *Controller) SwitchDevices(d Devices) error {
	if _, err := c.current(); err != nil {
		return err
	}
	c.update(func(n *Notify) { n.SwitchingDevices = true })
	c.enqueue(func() {
		defer c.update(func(n *Notify) { n.SwitchingDevices = false })
		c.switchDevices(d)
	})
	return nil
}

func (c *Controller) switchDevices(d Devices) {
	cl, err := c.current()
	if err != nil {
		return
	}
	prev := c.Snapshot().Devices
	got, err := cl.SetDevices(d)
	c.update(func(n *Notify) {
		n.Devices = got
		if err != nil {
			setNotice(n, UserMessage(err))
		}
	})
	if got == prev {
		return
	}
	c.mu.Lock()
	// Only what switched: a camera forced by --video is not a choice.
	if got.Camera != prev.Camera {
		c.settings.Camera = got.Camera
	}
	if got.Microphone != prev.Microphone {
		c.settings.Microphone = got.Microphone
	}
	if got.Speaker != prev.Speaker {
		c.settings.Speaker = got.Speaker
	}
	s := c.settings
	s.ICEServers = slices.Clone(s.ICEServers)
	c.mu.Unlock()
	c.persist(s)
}

// RunNetworkTest checks the current settings' servers (and server, if
// given) in the background; results arrive in Notify.NetTest.
func (c *Controller) RunNetworkTest(server string) error {
	if c.o.NetTester == nil {
		return &UserError{Msg: "The network test is not available.", Err: ErrUnsupportedMedia}
	}
	c.mu.Lock()
	if c.testStop != nil {
		c.mu.Unlock()
		return ErrBusy
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	c.testStop = cancel
	s := c.settings
	c.mu.Unlock()
	if server == "" {
		server = s.SignalingServer
	}
	cfg := NetTestConfig{Server: server, ICEServers: s.ICEServers, Policy: call.Policy(s.ICEPolicy), LoopbackOnly: c.o.Media.LoopbackOnly}
	c.update(func(n *Notify) { n.NetTestRunning, n.NetTest = true, nil })
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		rep := c.o.NetTester.Run(ctx, cfg, func(r NetTestReport) {
			c.update(func(n *Notify) { n.NetTest = &r })
		})
		c.mu.Lock()
		c.testStop = nil
		c.mu.Unlock()
		c.update(func(n *Notify) { n.NetTest, n.NetTestRunning = &rep, false })
	}()
	return nil
}

// StartPreview shows camera s.Camera and meters microphone s.Microphone for
// the Settings screen (local frames, Notify.MicLevel). It replaces a running
// preview and is refused during a call (the devices are in use).
func (c *Controller) StartPreview(s Settings) error {
	if c.o.Previewer == nil {
		return &UserError{Msg: "Preview is not available.", Err: ErrUnsupportedMedia}
	}
	c.StopPreview()
	c.mu.Lock()
	if c.st.Phase.InCall() {
		c.mu.Unlock()
		return ErrBusy
	}
	ctx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	c.prevStop, c.prevDone = cancel, done
	c.mu.Unlock()
	c.update(func(n *Notify) { n.Previewing, n.PreviewError, n.MicLevel = true, "", 0 })
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(done)
		var last time.Time
		err := c.o.Previewer.Preview(ctx, s, c.o.Media, c.frame, func(l float64) {
			// Meter at the snapshot rate, not per audio frame.
			if now := time.Now(); now.Sub(last) >= c.o.Tick {
				last = now
				c.update(func(n *Notify) { n.MicLevel = l })
			}
		}, func(err error) {
			c.update(func(n *Notify) { n.PreviewError = UserMessage(err) })
		})
		c.update(func(n *Notify) {
			n.Previewing, n.MicLevel = false, 0
			if err != nil && !errors.Is(err, context.Canceled) {
				n.PreviewError = UserMessage(err)
			}
		})
	}()
	return nil
}

// StopPreview stops the preview and waits until the devices are released.
func (c *Controller) StopPreview() {
	c.mu.Lock()
	stop, done := c.prevStop, c.prevDone
	c.prevStop, c.prevDone = nil, nil
	c.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// Close hangs up, stops the network test and waits for everything.
func (c *Controller) Close() {
	c.cancel()
	c.wg.Wait()
}

// QualityBars rates a connection 1 (bad) to 4 (good) from loss and RTT;
// 0 before the first measurement.
func QualityBars(s call.Stats) int {
	if s.Time.IsZero() {
		return 0
	}
	loss := max(s.VideoIn.LossPct, s.AudioIn.LossPct, s.VideoOut.LossPct, s.AudioOut.LossPct)
	rtt := s.RTT
	switch {
	case loss < 1 && rtt < 150*time.Millisecond:
		return 4
	case loss < 3 && rtt < 300*time.Millisecond:
		return 3
	case loss < 8 && rtt < 600*time.Millisecond:
		return 2
	}
	return 1
}

// UserMessage turns an error into a sentence a user can read: UserError
// and server rejections as they are, known network failures in plain words.
func UserMessage(err error) string {
	if err == nil {
		return ""
	}
	var ue *UserError
	if errors.As(err, &ue) {
		return ue.Msg
	}
	var pe *signalserver.ProtocolError
	if errors.As(err, &pe) {
		return pe.UserMessage()
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Could not reach the server: nothing is listening at that address."
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, call.ErrTimeout):
		return "Timed out. The other person may be behind a firewall that blocks calls; try a TURN server in Settings."
	case errors.Is(err, call.ErrNoRelayServer):
		return "This ICE policy needs a TURN server: add one in Settings."
	case errors.Is(err, call.ErrNoICEServer):
		return "This ICE policy hides your local addresses and needs a STUN or TURN server: add one in Settings, or choose \"mdns\"."
	case errors.Is(err, ErrUnsupportedMedia):
		return "Camera or microphone could not be used."
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "Could not find the server: check its address."
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "Could not reach the server: check the address and your network."
	}
	return "Something went wrong: " + err.Error()
}

// JoinString is what the host shares: the server URL with the room in the
// query, e.g. ws://192.168.1.20:41234/ws?room=kitchen.
func JoinString(hostPort, room string) string {
	if hostPort == "" {
		return ""
	}
	u := url.URL{Scheme: "ws", Host: hostPort, Path: "/ws", RawQuery: url.Values{"room": {room}}.Encode()}
	return u.String()
}

// BrowserLink is the https address of the server's browser page for room,
// e.g. https://192.168.1.20:41235/r/kitchen (docs/browser.md); "" without
// a host or room. The room is path-escaped: a name the page does not accept
// stays one path segment (and gets a 404) instead of reaching another path.
func BrowserLink(hostPort, room string) string {
	if hostPort == "" || room == "" {
		return ""
	}
	return "https://" + hostPort + "/r/" + url.PathEscape(room)
}

// ParseJoinString accepts a server URL, optionally carrying ?room=, and
// returns the URL without the room and the room.
func ParseJoinString(s string) (server, room string, err error) {
	s = strings.TrimSpace(s)
	if err := ValidateServerURL(s); err != nil {
		return "", "", err
	}
	u, _ := url.Parse(s)
	room = u.Query().Get("room")
	q := u.Query()
	q.Del("room")
	u.RawQuery = q.Encode()
	if u.Path == "" {
		u.Path = "/ws"
	}
	return u.String(), room, nil
}

func hostOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Host
}

// hasPlainPasswords reports whether the saved settings carry passwords (the
// keyring fallback was used).
func hasPlainPasswords(store Store) bool {
	s, err := LoadSettings(store, nil)
	if err != nil {
		return false
	}
	for _, e := range s.ICEServers {
		if e.Password != "" {
			return true
		}
	}
	return false
}
