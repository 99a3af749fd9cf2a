package app_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
	"github.com/peercall/peercall/app/cli"
	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
	"github.com/peercall/peercall/signalserver"
)

// TestHeadlessRecordingFaithful records a real call (clean and under 5 %
// loss) and has ffmpeg read it: no complaints, both files as long as the
// connected call (±2 %), and picture and sound aligned within 50 ms as
// measured by the sender's video frame markers and audio markers.
func TestHeadlessRecordingFaithful(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	app.RequireFFmpeg(t)
	tests := []struct {
		name string
		args []string
	}{
		{"clean", nil},
		{"loss5", []string{"--simulate-loss", "5"}},
	}
	bin := buildHeadless(t, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := startSignal(t)
			rec := t.TempDir()
			common := []string{"--duration", "8s", "--size", "320x240"}
			res := runPair(t, url, [2]peerSpec{
				{bin, common},
				{bin, append(slices.Concat(common, tt.args), "--record", rec)},
			}, 0, nil)
			for i, r := range res {
				if r.code != 0 {
					t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
				}
			}
			call := res[1].rep.CallS
			for _, f := range []string{"video.ivf", "audio.ogg"} {
				p := filepath.Join(rec, f)
				if msg := app.FFmpegErrors(t, p); msg != "" {
					t.Errorf("%s: ffmpeg says: %s", f, msg)
				}
				d := app.ProbeDuration(t, p)
				if math.Abs(d-call)/call > 0.02 {
					t.Errorf("%s: %.3f s long, the call was connected %.3f s (want ±2%%)", f, d, call)
				}
				t.Logf("%s: %.3f s for a %.3f s call", f, d, call)
			}
			skew := avSkew(t, filepath.Join(rec, "video.ivf"), filepath.Join(rec, "audio.ogg"))
			t.Logf("A/V skew %v", skew)
			if skew.Abs() > 50*time.Millisecond {
				t.Errorf("video and audio are %v apart, want within 50 ms", skew)
			}
		})
	}
}

// avSkew is how much later than the sound the recording shows the picture
// captured at the same moment (median over all markers).
func avSkew(t *testing.T, ivfPath, oggPath string) time.Duration {
	t.Helper()
	data, err := os.ReadFile(ivfPath)
	if err != nil || len(data) < 32 || string(data[:4]) != "DKIF" {
		t.Fatalf("read %s: %v", ivfPath, err)
	}
	den, num := binary.LittleEndian.Uint32(data[16:]), binary.LittleEndian.Uint32(data[20:])
	dec, err := codec.NewVP8Decoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var video []float64 // capture time minus presentation time, ms
	for off := 32; off+12 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		pts := int64(binary.LittleEndian.Uint64(data[off+4:]))
		frame := data[off+12 : off+12+n]
		off += 12 + n
		img, err := dec.Decode(frame)
		if err != nil {
			continue
		}
		if m, err := capture.ReadVideoMarker(img); err == nil {
			at := time.Duration(pts * int64(num) * int64(time.Second) / int64(den))
			video = append(video, float64(m.CaptureTime.UnixMicro())/1000-float64(at.Microseconds())/1000)
		}
	}
	pcm := app.DecodePCM(t, oggPath)
	marks, err := capture.ReadAudioMarkers(pcm, 48000)
	if err != nil {
		t.Fatal(err)
	}
	var audio []float64
	for _, m := range marks {
		audio = append(audio, float64(m.CaptureTime.UnixMicro())/1000-float64(m.Offset)/48)
	}
	if len(video) < 50 || len(audio) < 5 {
		t.Fatalf("found %d video and %d audio markers in the recording", len(video), len(audio))
	}
	// Capture time minus playback time is larger for the stream that plays
	// earlier: audio's minus video's is how late the picture is.
	return time.Duration((median(audio) - median(video)) * float64(time.Millisecond))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestHeadlessMediaMustArrive: a peer that says its camera and microphone
// are on, but whose media (almost) never gets through, is not ok: exit 3
// with the cause named. A peer that says they are off is fine without them.
func TestHeadlessMediaMustArrive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	bin := buildHeadless(t, true)
	tests := []struct {
		name     string
		sender   []string // peer 0
		receiver []string // peer 1
		want     int      // peer 1's exit code
		wantErr  []string
	}{
		// A packet in a thousand gets through: the cause is then "stopped
		// arriving" or "first arrived late" rather than "no … arrived".
		{"lost in transit", nil, []string{"--simulate-loss", "99.9"}, cli.ExitExpectation, []string{"audio", "video", "microphone is on", "camera is on"}},
		{"said off", []string{"--video", "none", "--audio", "none"}, nil, cli.ExitOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := startSignal(t)
			common := []string{"--duration", "5s"}
			res := runPair(t, url, [2]peerSpec{{bin, slices.Concat(common, tt.sender)}, {bin, slices.Concat(common, tt.receiver)}}, 0, nil)
			r := res[1]
			if r.code != tt.want || r.rep.OK != (tt.want == 0) {
				t.Fatalf("exit %d ok %v, want exit %d; error %q; stderr %s", r.code, r.rep.OK, tt.want, r.rep.Error, r.stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(r.rep.Error, w) {
					t.Errorf("error %q does not say %q", r.rep.Error, w)
				}
			}
		})
	}
}

// startProc runs the headless binary with args and returns it started.
func startProc(t *testing.T, bin string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &stderr
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func waitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear within %v", path, within)
}

func readReport(t *testing.T, path string) app.Report {
	t.Helper()
	var rep app.Report
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	if err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return rep
}

// TestHeadlessSignalEndsCall sends SIGINT/SIGTERM to a peer in a connected
// call: it hangs up (the other side's report says so), writes its report
// and exits 0. Before the call connects a signal means exit 5.
func TestHeadlessSignalEndsCall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	bin := buildHeadless(t, true)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			url, _ := startSignal(t)
			dir := t.TempDir()
			args := func(name string) []string {
				return []string{"--server", url, "--room", "sig", "--name", name, "--loopback-only", "--ice-policy", "all",
					"--duration", "20s", "--video", "none", "--report", filepath.Join(dir, name+".json"), "--ready-file", filepath.Join(dir, name+".ready")}
			}
			alice, aerr := startProc(t, bin, args("alice")...)
			waitFile(t, filepath.Join(dir, "alice.ready"), 30*time.Second)
			bob, berr := startProc(t, bin, args("bob")...)
			// Connected and exchanging media: give it a moment past joining.
			waitFile(t, filepath.Join(dir, "bob.ready"), 30*time.Second)
			time.Sleep(3 * time.Second)
			if err := alice.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan [2]int, 1)
			go func() { done <- [2]int{exitCode(alice.Wait()), exitCode(bob.Wait())} }()
			var codes [2]int
			select {
			case codes = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("peers still running 15 s after the signal")
			}
			ra, rb := readReport(t, filepath.Join(dir, "alice.json")), readReport(t, filepath.Join(dir, "bob.json"))
			if codes[0] != cli.ExitOK || !ra.OK || ra.Ended != "interrupted" {
				t.Errorf("alice: exit %d, ok %v, ended %q, error %q; stderr %s", codes[0], ra.OK, ra.Ended, ra.Error, aerr)
			}
			if codes[1] != cli.ExitOK || !rb.OK || rb.Ended != "peer-hung-up" {
				t.Errorf("bob: exit %d, ok %v, ended %q, error %q; stderr %s", codes[1], rb.OK, rb.Ended, rb.Error, berr)
			}
			if ra.CallS <= 0 || ra.CallS > 15 {
				t.Errorf("alice was connected %.1f s", ra.CallS)
			}
		})
	}
	t.Run("before connecting", func(t *testing.T) {
		dir := t.TempDir()
		report, ready := filepath.Join(dir, "r.json"), filepath.Join(dir, "ready")
		cmd, stderr := startProc(t, bin, "--serve", "127.0.0.1:0", "--room", "alone", "--report", report, "--ready-file", ready)
		waitFile(t, ready, 30*time.Second)
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := exitCode(cmd.Wait()); code != cli.ExitInterrupted {
			t.Errorf("exit %d, want %d; stderr %s", code, cli.ExitInterrupted, stderr)
		}
		if rep := readReport(t, report); rep.OK || !strings.Contains(rep.Error, "interrupted") {
			t.Errorf("report ok %v error %q", rep.OK, rep.Error)
		}
	})
}

// TestHeadlessRelayCall runs a relay-only call through the signaling
// server's TURN on 127.0.0.1 and reports how long ICE took to connect
// (pion's 2 s relay acceptance wait no longer applies; see the unit test
// of the setting for the assertion).
func TestHeadlessRelayCall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	url, _ := startSignal(t, signalserver.WithTURN(signalserver.TURNConfig{
		Listen: "127.0.0.1:0", AllowPrivate: true, MinPort: 42000, MaxPort: 42999,
	}))
	bin := buildHeadless(t, true)
	args := []string{"--ice-policy", "relay", "--duration", "3s"}
	// runPair's own --ice-policy all comes first; the later flag wins.
	res := runPair(t, url, [2]peerSpec{{bin, args}, {bin, args}}, 0, nil)
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
		}
		if r.rep.ICE.SelectedPair.Local != "relay" {
			t.Errorf("peer %d: selected pair %+v, want relay", i, r.rep.ICE.SelectedPair)
		}
		t.Logf("peer %d: relay call connected %.0f ms after joining (signaling %.0f ms)", i, r.rep.SetupMS.ICEConnected-r.rep.SetupMS.Signaling, r.rep.SetupMS.Signaling)
	}
}

// TestHeadlessWAVSentAsIs: a WAV file goes out unchanged unless
// --audio-markers asks for markers; the receiver's recording shows which.
func TestHeadlessWAVSentAsIs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	app.RequireFFmpeg(t)
	bin := buildHeadless(t, true)
	wav := filepath.Join(t.TempDir(), "tone.wav")
	writeToneWAV(t, wav, 3*time.Second)
	tests := []struct {
		name        string
		args        []string
		wantMarkers bool
	}{
		{"default", nil, false},
		{"markers", []string{"--audio-markers"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := startSignal(t)
			rec := t.TempDir()
			res := runPair(t, url, [2]peerSpec{
				{bin, append([]string{"--video", "none", "--audio", wav, "--duration", "4s"}, tt.args...)},
				{bin, []string{"--video", "none", "--audio", "none", "--duration", "4s", "--record", rec}},
			}, 0, nil)
			for i, r := range res {
				if r.code != 0 {
					t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
				}
			}
			marks, err := capture.ReadAudioMarkers(app.DecodePCM(t, filepath.Join(rec, "audio.ogg")), 48000)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(marks) > 0; got != tt.wantMarkers {
				t.Errorf("received %d markers, want markers: %v", len(marks), tt.wantMarkers)
			}
		})
	}
}

// writeToneWAV writes a 48 kHz mono 16-bit 440 Hz tone.
func writeToneWAV(t *testing.T, path string, d time.Duration) {
	t.Helper()
	pcm := make([]int16, int(d.Seconds()*48000))
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/48000))
	}
	writeWAV(t, path, pcm)
}

// writeWAV writes 48 kHz mono PCM16 as a WAV file.
func writeWAV(t *testing.T, path string, pcm []int16) {
	t.Helper()
	n := len(pcm)
	b := make([]byte, 44, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], 48000)
	binary.LittleEndian.PutUint32(b[28:], 96000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for _, v := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
