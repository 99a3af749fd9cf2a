package app_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/capture/pulsetest"
	"github.com/peercall/peercall/codec"
)

// decodeOgg decodes a recorded Opus track to 48 kHz mono PCM16.
func decodeOgg(t *testing.T, path string) []int16 {
	t.Helper()
	ogg, err := capture.OpenOgg(path, capture.FileOptions{})
	if err != nil {
		t.Fatalf("recorded audio: %v", err)
	}
	defer ogg.Close()
	dec, err := codec.NewOpusDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var pcm []int16
	buf := make([]int16, 48000*120/1000)
	for range ogg.Packets() {
		f, err := ogg.Next()
		if err != nil {
			t.Fatal(err)
		}
		n, err := dec.Decode(f.Data, buf)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, buf[:n]...)
	}
	return pcm
}

// TestHeadlessMicThroughPulse is the real capture path end to end: a
// 440 Hz tone at -12 dBFS plays into a private PulseAudio daemon's virtual
// microphone, one headless peer sends it with --audio mic, the other
// records what it receives, and the decoded recording must hold the tone:
// frequency within 0.5 %, tone SNR ≥ 30 dB, no gaps.
func TestHeadlessMicThroughPulse(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	bin := buildHeadless(t, true)
	tests := []struct{ rate, channels int }{{44100, 1}, {48000, 2}}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dHz-%dch", tc.rate, tc.channels), func(t *testing.T) {
			pa := pulsetest.Start(t, pulsetest.Config{MicRate: tc.rate, MicChannels: tc.channels})
			pa.Setenv(t) // the peers inherit it
			url, _ := startSignal(t)
			for attempt := 1; ; attempt++ {
				rec := t.TempDir()
				p := pa.Play(t, pulsetest.MicSink, pulsetest.Sine(440, -12, tc.rate, tc.channels, 20*time.Second), tc.rate, tc.channels)
				ref := pa.Record(t, pulsetest.MicSource, 48000, 1)
				res := runPair(t, url, [2]peerSpec{
					// The capture path's fidelity, without the voice processing
					// (noise suppression would take a steady tone for noise):
					// TestEchoCancellationOnPulseLoop judges that.
					{bin, []string{"--audio", "mic", "--aec", "off", "--ns", "off", "--agc", "off", "--video", "none", "--duration", "6s"}},
					{bin, []string{"--audio", "none", "--video", "none", "--duration", "6s", "--record", rec}},
				}, 0, nil)
				refRep := pulsetest.AnalyzeTone(pulsetest.Active(pulsetest.Mono(ref.Stop(), 1), 48000, 300*time.Millisecond), 48000)
				p.Stop()
				for i, r := range res {
					if r.code != 0 {
						t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
					}
				}
				if !strings.Contains(res[0].stderr, "microphone opened") {
					t.Logf("sender log: %s", res[0].stderr)
				}
				got := decodeOgg(t, filepath.Join(rec, "audio.ogg"))
				rep := pulsetest.AnalyzeTone(pulsetest.Active(pulsetest.Mono(got, 1), 48000, 500*time.Millisecond), 48000)
				t.Logf("reference (pacat): %v", refRep)
				t.Logf("received: %v", rep)
				if refRep.SNR < 60 || refRep.Gaps != 0 {
					if attempt == 3 {
						t.Fatalf("the daemon's own recording is not clean in %d runs (machine too loaded?)", attempt)
					}
					continue
				}
				if dir := os.Getenv("PEERCALL_SOUND_DUMP"); dir != "" {
					dumpPCM(t, filepath.Join(dir, fmt.Sprintf("e2e-%d-%d.raw", tc.rate, tc.channels)), got)
				}
				if math.Abs(rep.Freq/440-1) > 0.005 || rep.SNR < 30 || rep.Gaps != 0 || rep.Span < 3*time.Second {
					t.Fatalf("received %v; want 440 Hz ± 0.5 %%, SNR ≥ 30 dB, no gaps, ≥ 3 s", rep)
				}
				return
			}
		})
	}
}

func dumpPCM(t *testing.T, path string, pcm []int16) {
	b := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		b[2*i], b[2*i+1] = byte(v), byte(uint16(v)>>8)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Error(err)
	}
}

// TestHeadlessHelpIsQuiet: --help must not open the sound system (which
// prints ALSA and JACK noise when no sound server runs). PULSE_SERVER points
// at a socket nobody listens on, as on a machine with PulseAudio installed
// but not running.
func TestHeadlessHelpIsQuiet(t *testing.T) {
	bin := buildHeadless(t, true)
	cmd := exec.Command(bin, "--help")
	cmd.Env = append(os.Environ(), "PULSE_SERVER=unix:"+filepath.Join(t.TempDir(), "none"))
	out, _ := cmd.CombinedOutput()
	for _, noise := range []string{"ALSA lib", "jack", "Jack", "PulseAudio", "pa_context"} {
		if strings.Contains(string(out), noise) {
			t.Fatalf("--help printed sound-system noise %q:\n%s", noise, out)
		}
	}
	if !strings.Contains(string(out), "-audio") {
		t.Fatalf("--help printed no usage:\n%s", out)
	}
}

// TestHeadlessSpeechThroughPulse sends speech through the real capture
// path: espeak-ng speech (in a loop) plays into a private PulseAudio
// daemon's 44.1 kHz stereo virtual microphone, one headless peer sends it
// with --audio mic, the other records what it receives. The decoded
// recording must be the clean speech: found in it by envelope correlation,
// each loud 20 ms frame at the clean level (Opus keeps energy, not the
// waveform), and no loud frame lost.
func TestHeadlessSpeechThroughPulse(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	const text = "Peercall checks that speech reaches the other side intact. " +
		"The quick brown fox jumps over the lazy dog, five times, at dawn."
	const rate, channels, loops = 44100, 2, 4
	bin := buildHeadless(t, true)
	pa := pulsetest.Start(t, pulsetest.Config{MicRate: rate, MicChannels: channels})
	pa.Setenv(t) // the peers inherit it
	url, _ := startSignal(t)

	gap := 300 * time.Millisecond // between repetitions
	played := pulsetest.Repeat(pulsetest.Speech(t, text, rate, channels), loops, int(gap.Seconds()*rate)*channels)
	clean := pulsetest.Mono(pulsetest.Repeat(pulsetest.Speech(t, text, 48000, 1), loops, int(gap.Seconds()*48000)), 1)
	rec := t.TempDir()
	// The mic's monitor runs before anything plays into it (see Record).
	mon := pa.Record(t, pulsetest.MicSource, 48000, 1)
	p := pa.Play(t, pulsetest.MicSink, played, rate, channels)
	res := runPair(t, url, [2]peerSpec{
		// Speech as the microphone gave it: the processing (gain control
		// moves the level) is judged by TestEchoCancellationOnPulseLoop.
		{bin, []string{"--audio", "mic", "--aec", "off", "--ns", "off", "--agc", "off", "--video", "none", "--duration", "8s"}},
		{bin, []string{"--audio", "none", "--video", "none", "--duration", "8s", "--record", rec}},
	}, 0, nil)
	p.Stop()
	mon.Stop()
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("peer %d exit %d: %s", i, r.code, r.stderr)
		}
	}
	got := decodeOgg(t, filepath.Join(rec, "audio.ogg"))
	rep := pulsetest.CompareSpeech(clean, pulsetest.Active(pulsetest.Mono(got, 1), 48000, 500*time.Millisecond), 48000)
	t.Logf("received speech: %v", rep)
	if dir := os.Getenv("PEERCALL_SOUND_DUMP"); dir != "" {
		pulsetest.Spectrogram(t, filepath.Join(dir, "speech-received.png"), got, 48000, 1, "speech received through the virtual mic and a call")
		pulsetest.Spectrogram(t, filepath.Join(dir, "speech-clean.png"), pulsetest.Speech(t, text, 48000, 1), 48000, 1, "clean speech (espeak-ng)")
	}
	if rep.EnvCorr < 0.9 || rep.Gaps != 0 || rep.Within3dB < 0.9 || math.Abs(rep.Gain) > 3 || rep.Span < 4*time.Second {
		t.Errorf("received speech %v; want envelope corr ≥ 0.9, no gaps, ≥ 90 %% of loud frames within 3 dB, gain within ±3 dB, ≥ 4 s", rep)
	}
}
