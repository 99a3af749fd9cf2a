// Package pulsetest runs a private PulseAudio daemon for tests: its own
// runtime directory and socket, a null sink whose monitor is the default
// source (the virtual microphone) and a null sink as the default sink (the
// virtual speaker). Nothing of the user's sound session is touched. It also
// scores what comes out of the sound path (tone frequency, SNR, gaps).
package pulsetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Names of the virtual devices.
const (
	MicSink     = "peercall_vmic"      // play into this sink…
	MicSource   = MicSink + ".monitor" // …and it comes out of this source
	SpeakerSink = "peercall_vspeaker"
	// SpeakerMonitor records what is played on the virtual speaker.
	SpeakerMonitor = SpeakerSink + ".monitor"
)

// Config sets the native format of the virtual devices; zero means 48000 Hz
// mono.
type Config struct {
	MicRate, MicChannels         int
	SpeakerRate, SpeakerChannels int
}

// Server is a running private daemon.
type Server struct {
	Dir    string // temp dir holding the socket, runtime dir and home
	Socket string // PULSE_SERVER value
	env    []string
	cmd    *exec.Cmd
	log    *bytes.Buffer
	done   chan struct{}
}

// Need fails t loudly when a tool the sound tests use is missing.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	pkg := map[string]string{
		"pulseaudio": "pulseaudio", "pactl": "pulseaudio-utils", "pacat": "pulseaudio-utils",
		"parecord": "pulseaudio-utils", "sox": "sox", "espeak-ng": "espeak-ng",
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Debian package %s (make deps)", tool, pkg[tool])
		}
	}
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Start runs a private daemon until the test ends. It does not change the
// test process' environment: call Setenv for that (before anything opens a
// sound device) or hand Env to a subprocess.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	Need(t, "pulseaudio", "pactl", "pacat")
	// Socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "pa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for _, d := range []string{"run", "home", "config"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "native")
	script := fmt.Sprintf(`load-module module-native-protocol-unix auth-anonymous=1 socket=%s
load-module module-null-sink sink_name=%s rate=%d channels=%d sink_properties=device.description=PeercallVirtualMic
load-module module-null-sink sink_name=%s rate=%d channels=%d sink_properties=device.description=PeercallVirtualSpeaker
set-default-source %s
set-default-sink %s
`, sock, MicSink, orDefault(cfg.MicRate, 48000), orDefault(cfg.MicChannels, 1),
		SpeakerSink, orDefault(cfg.SpeakerRate, 48000), orDefault(cfg.SpeakerChannels, 1),
		MicSource, SpeakerSink)
	pa := filepath.Join(dir, "peercall.pa")
	if err := os.WriteFile(pa, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: dir, Socket: "unix:" + sock, log: &bytes.Buffer{}, done: make(chan struct{})}
	s.env = []string{
		"PULSE_SERVER=" + s.Socket,
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"PULSE_RUNTIME_PATH=" + filepath.Join(dir, "run"),
		"PULSE_STATE_PATH=" + filepath.Join(dir, "run"),
		"PULSE_CONFIG_PATH=" + filepath.Join(dir, "config"),
		"PULSE_COOKIE=" + filepath.Join(dir, "cookie"),
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
	}
	// -n: no default script, so no hardware, no session modules. Raised
	// priority (nice -11, as desktops run the daemon) keeps a loaded test
	// machine from starving the daemon itself.
	s.cmd = exec.Command("pulseaudio", "--daemonize=no", "-n", "-F", pa,
		"--exit-idle-time=-1", "--use-pid-file=no", "--realtime=yes", "--high-priority=yes",
		"--disallow-module-loading=no", "--log-target=stderr", "--log-level=warning")
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stdout, s.cmd.Stderr = &syncWriter{b: s.log}, &syncWriter{b: s.log}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start pulseaudio: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.command(context.Background(), "pactl", "info").Run()
		if err == nil {
			break
		}
		select {
		case <-s.done:
			t.Fatalf("pulseaudio exited: %s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pulseaudio not answering: %v; log: %s", err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Log is what the daemon printed so far.
func (s *Server) Log() string {
	w := s.cmd.Stderr.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Env is the environment that points PulseAudio clients (and the ALSA
// pulse plugin) at this daemon.
func (s *Server) Env() []string { return append([]string(nil), s.env...) }

// Setenv points this test process at the daemon for the rest of the test.
func (s *Server) Setenv(t *testing.T) {
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), s.env...)
	return cmd
}

// Pactl runs pactl against the daemon.
func (s *Server) Pactl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.command(context.Background(), "pactl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pactl %v: %v: %s", args, err, out)
	}
	return string(out)
}

// Player is a pacat playing into a sink.
type Player struct {
	cmd  *exec.Cmd
	done chan error
}

// Play streams interleaved PCM16 at rate × channels into sink in real
// time (the sink's clock paces it). Wait returns when it has all been
// played.
func (s *Server) Play(t testing.TB, sink string, pcm []int16, rate, channels int) *Player {
	t.Helper()
	cmd := s.command(context.Background(), "pacat", "--playback", "--raw", "-d", sink,
		"--format=s16le", "--rate="+strconv.Itoa(rate), "--channels="+strconv.Itoa(channels),
		"--latency-msec=500")
	var raw bytes.Buffer
	_ = binary.Write(&raw, binary.LittleEndian, pcm)
	cmd.Stdin = &raw
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("pacat: %v", err)
	}
	p := &Player{cmd: cmd, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("pacat: %w: %s", err, out.String())
		}
		p.done <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

// Stop ends playback now.
func (p *Player) Stop() {
	_ = p.cmd.Process.Kill()
	_ = p.Wait()
}

// Wait blocks until the player is done.
func (p *Player) Wait() error {
	err := <-p.done
	p.done <- err
	return err
}

// Recorder is a pacat recording a source.
type Recorder struct {
	cmd    *exec.Cmd
	out    *syncWriter
	done   chan struct{}
	rate   int
	chans  int
	once   sync.Once
	result []int16
}

// Record starts recording source as PCM16 at rate × channels. A pacat
// that the daemon turns away before it records anything (it happened once
// in CI, with no word, while the machine was loaded) is started again, up
// to three times, with what it said logged.
func (s *Server) Record(t testing.TB, source string, rate, channels int) *Recorder {
	t.Helper()
	for try := 1; ; try++ {
		r, msg := s.record(t, source, rate, channels)
		if r != nil {
			return r
		}
		if try == 3 {
			t.Fatalf("pacat --record %s: %s (tried %d times); daemon log: %s", source, msg, try, s.Log())
		}
		t.Logf("pacat --record %s: %s; starting it again", source, msg)
	}
}

// record starts one pacat and waits for its first data. It returns nil and
// why when pacat ends before recording anything.
func (s *Server) record(t testing.TB, source string, rate, channels int) (*Recorder, string) {
	t.Helper()
	cmd := s.command(context.Background(), "pacat", "--record", "--raw", "-d", source,
		"--format=s16le", "--rate="+strconv.Itoa(rate), "--channels="+strconv.Itoa(channels),
		"--latency-msec=100")
	r := &Recorder{cmd: cmd, out: &syncWriter{b: &bytes.Buffer{}}, done: make(chan struct{}), rate: rate, chans: channels}
	stderr := &syncWriter{b: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = r.out, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("pacat --record: %v", err)
	}
	go func() { _ = cmd.Wait(); close(r.done) }()
	// Wait for the first data. An idle null sink runs at its maximum
	// latency (pactl: "configured 2000000 usec") and renders that far
	// ahead; a stream that joins it was heard only after up to 2 s (a
	// player pulled 10 ms, then nothing for 1.5 s, so a 3 s recording held
	// 1 s of it). A running monitor stream asks for low latency, as
	// hardware would run: callers start what they test once this returns.
	deadline := time.Now().Add(10 * time.Second)
	for r.bytes() == 0 {
		select {
		case <-r.done:
			stderr.mu.Lock()
			defer stderr.mu.Unlock()
			return nil, fmt.Sprintf("ended (%v) before recording anything: %q", cmd.ProcessState, stderr.b.String())
		default:
		}
		if time.Now().After(deadline) {
			r.Stop()
			t.Fatalf("pacat --record %s: no data in 10 s", source)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { r.Stop() })
	return r, ""
}

func (r *Recorder) bytes() int {
	r.out.mu.Lock()
	defer r.out.mu.Unlock()
	return r.out.b.Len()
}

// Recorded is how much audio has been recorded so far.
func (r *Recorder) Recorded() time.Duration {
	return time.Duration(float64(r.bytes()/(2*r.chans)) / float64(r.rate) * float64(time.Second))
}

// WaitRecorded blocks until d of audio has been recorded, failing t after
// timeout (the sound server's clock, not the wall clock, paces the test).
func (r *Recorder) WaitRecorded(t testing.TB, d, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for r.Recorded() < d {
		select {
		case <-r.done:
			t.Fatalf("recorder ended after %v of %v", r.Recorded(), d)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorded %v of %v in %v", r.Recorded(), d, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the recording and returns the interleaved samples.
func (r *Recorder) Stop() []int16 {
	r.once.Do(func() {
		_ = r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		r.out.mu.Lock()
		b := r.out.b.Bytes()
		r.result = make([]int16, len(b)/2)
		for i := range r.result {
			r.result[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		r.out.mu.Unlock()
	})
	return r.result
}
