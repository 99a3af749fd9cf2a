package app

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// Report is the JSON document a headless run writes (docs/headless-report.md).
type Report struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Room  string `json:"room"`
	// PeerID is this run's id in the room (what the others' peers[].id
	// name it by); empty when it never joined.
	PeerID   string  `json:"peer_id,omitempty"`
	Duration float64 `json:"duration_s"`
	// CallS is the connected time: from connected to the end of the call.
	CallS float64 `json:"call_s"`
	// Ended says why the connected call ended: duration, peer-hung-up,
	// peer-left or interrupted; empty when it never connected or failed.
	Ended    string        `json:"ended,omitempty"`
	SetupMS  SetupTimes    `json:"setup_ms"`
	SAS      string        `json:"sas,omitempty"`
	ICE      ICEReport     `json:"ice"`
	VideoIn  VideoInStats  `json:"video_in"`
	ShareIn  ShareInStats  `json:"share_in"`
	VideoOut VideoOutStats `json:"video_out"`
	AudioIn  AudioInStats  `json:"audio_in"`
	Latency  LatencyStats  `json:"latency_ms"`
	RTTMS    float64       `json:"rtt_ms"`
	CPU      CPUStats      `json:"cpu"`
	// RemoteMedia is what the peer last said of its mic and camera; nil
	// when it never said (an older peer).
	RemoteMedia *RemoteMedia `json:"remote_media,omitempty"`
	// Peers has one entry per other person the call had, in the order
	// they joined: one in a 1:1 call (the same figures as above), up to
	// three in a group call, where the fields above describe the first.
	// A person who left and came back is a new entry (a new peer id).
	Peers []PeerReport `json:"peers"`
	// Voice is the microphone's processing (--audio mic), nil when none ran.
	Voice *VoiceReport `json:"voice_processing,omitempty"`
	// Totals sums what every peer delivered.
	Totals Totals `json:"totals"`
	// Files lists every file transfer, both ways (--send-file,
	// --receive-dir); empty when none.
	Files []FileReport `json:"files"`
	// Timeline is the call second by second: send rate, the congestion
	// controller's estimate, and the first peer's received frame rate,
	// size and latency (bench --network reads adaptation and recovery
	// from it).
	Timeline []TimelinePoint `json:"timeline,omitempty"`
}

// VoiceReport is what the audio processing module said at the end of the
// run: the parts that ran and the echo canceller's own figures.
type VoiceReport struct {
	EchoCancel    bool `json:"echo_cancel"`
	NoiseSuppress bool `json:"noise_suppress"`
	GainControl   bool `json:"gain_control"`
	// EchoValid: the canceller measured an echo path (far-end sound
	// played); ERLEdB and DelayMS are its latest estimates then.
	EchoValid bool    `json:"echo_valid"`
	ERLEdB    float64 `json:"erle_db"`
	DelayMS   float64 `json:"delay_ms"`
}

// ShareInStats is a received screen share.
type ShareInStats struct {
	// Shares counts the share tracks that arrived (a stop and a new
	// start is a second one).
	Shares        int     `json:"shares"`
	FramesDecoded int     `json:"frames_decoded"`
	FPS           float64 `json:"fps"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	Freezes       int     `json:"freezes"`
}

// Totals is the whole call across its peers.
type Totals struct {
	Peers         int `json:"peers"`
	FramesDecoded int `json:"frames_decoded"`
	AudioPackets  int `json:"audio_packets_received"`
	// MinFPS is the lowest decoded frame rate of any peer that sent
	// video (0 when none did).
	MinFPS float64 `json:"min_fps"`
}

// total sums peers' figures.
func total(peers []PeerReport) Totals {
	t := Totals{Peers: len(peers)}
	first := true
	for _, p := range peers {
		t.FramesDecoded += p.VideoIn.FramesDecoded
		t.AudioPackets += p.AudioIn.PacketsReceived
		if p.VideoIn.FramesDecoded > 0 && (first || p.VideoIn.FPS < t.MinFPS) {
			t.MinFPS, first = p.VideoIn.FPS, false
		}
	}
	return t
}

// PeerReport is what this side received from one other person.
type PeerReport struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	SAS  string `json:"sas,omitempty"`
	// SetupMS counts from the start of the join, like the report's.
	SetupMS SetupTimes   `json:"setup_ms"`
	ICE     ICEReport    `json:"ice"`
	VideoIn VideoInStats `json:"video_in"`
	// ShareIn is the person's screen share as received (its latest share;
	// fps over the time it ran).
	ShareIn ShareInStats `json:"share_in"`
	AudioIn AudioInStats `json:"audio_in"`
	Latency LatencyStats `json:"latency_ms"`
	RTTMS   float64      `json:"rtt_ms"`
	// CallS is this person's connected time; Ended why it ended
	// (duration, peer-hung-up, peer-left, interrupted, failed).
	CallS       float64      `json:"call_s"`
	Ended       string       `json:"ended,omitempty"`
	RemoteMedia *RemoteMedia `json:"remote_media,omitempty"`
}

// RemoteMedia is the peer's media state (docs/protocol.md, "Peer data channel").
type RemoteMedia struct {
	Audio bool `json:"audio"`
	Video bool `json:"video"`
}

// SetupTimes are milliseconds from the start of the join; -1 means never.
type SetupTimes struct {
	Signaling        float64 `json:"signaling"`
	ICEConnected     float64 `json:"ice_connected"`
	FirstVideoFrame  float64 `json:"first_video_frame"`
	FirstAudioPacket float64 `json:"first_audio"`
	// PeerJoined (peers[] only) is when this peer came into the call: a
	// late joiner's first frame is first_video_frame − peer_joined after
	// it arrived.
	PeerJoined float64 `json:"peer_joined,omitempty"`
}

// ICEReport describes what ICE gathered and chose.
type ICEReport struct {
	Policy              string       `json:"policy"`
	LocalCandidateTypes []string     `json:"local_candidate_types"`
	SelectedPair        SelectedPair `json:"selected_pair"`
	Restarts            int          `json:"restarts"`
}

// SelectedPair holds the candidate types (host, srflx, prflx, relay) of the pair in use.
type SelectedPair struct {
	Local  string `json:"local"`
	Remote string `json:"remote"`
}

// VideoInStats describes received video.
type VideoInStats struct {
	FramesDecoded   int     `json:"frames_decoded"`
	FPS             float64 `json:"fps"`
	Width           int     `json:"width"`
	Height          int     `json:"height"`
	Freezes         int     `json:"freezes"`
	LongestFreezeMS float64 `json:"longest_freeze_ms"`
	// FreezeSpans are the freezes counted in Freezes, with their start
	// (Unix ms) and length: the first maxFreezeSpans.
	FreezeSpans   []FreezeSpan `json:"freeze_spans,omitempty"`
	PacketsLost   int          `json:"packets_lost"`
	NACKsSent     int          `json:"nacks_sent"`
	PLIsSent      int          `json:"plis_sent"`
	FramesDropped int          `json:"frames_dropped"`
	LatePackets   int          `json:"late_packets"`
	Gaps          int          `json:"gaps"`
	DuplicatePkts int          `json:"duplicate_packets"`
	BitrateKbps   float64      `json:"bitrate_kbps"`
	// LongFreezes are the gaps of 500 ms or more between decoded frames
	// (LongFreeze), with their start (Unix ms) and length.
	LongFreezes []FreezeSpan `json:"long_freezes,omitempty"`
}

// VideoOutStats describes sent video.
type VideoOutStats struct {
	FramesEncoded int `json:"frames_encoded"`
	// FramesSkipped are the camera's frames skipped to hold the bitrate:
	// dropped by the sender while its output ran ahead of the target
	// (frameDropper), or skipped by libvpx's rate control
	// (codec.VP8Config.DropFrames).
	FramesSkipped int     `json:"frames_skipped"`
	BitrateKbps   float64 `json:"bitrate_kbps"`
	EncodeMSAvg   float64 `json:"encode_ms_avg"`
}

// AudioInStats describes received audio and its repair.
type AudioInStats struct {
	PacketsReceived int     `json:"packets_received"`
	PacketsLost     int     `json:"packets_lost"`
	FECRecovered    int     `json:"fec_recovered"`
	ConcealedMS     float64 `json:"concealed_ms"`
	ConcealedRatio  float64 `json:"concealed_ratio"`
}

// LatencyStats is capture-to-display latency from the synthetic frame markers.
type LatencyStats struct {
	VideoP50 float64 `json:"video_p50"`
	VideoP95 float64 `json:"video_p95"`
	Samples  int     `json:"samples"`
}

// CPUStats is this process's CPU use over the run.
type CPUStats struct {
	UserS         float64 `json:"user_s"`
	SysS          float64 `json:"sys_s"`
	PercentOfCore float64 `json:"percent_of_core"`
}

// WriteReport writes r as indented JSON to path ("-" is w).
func WriteReport(r *Report, path string, w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = w.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// msSince returns milliseconds from start to t, or -1 when t is zero.
func msSince(start, t time.Time) float64 {
	if t.IsZero() {
		return -1
	}
	return float64(t.Sub(start).Microseconds()) / 1000
}

// percentile returns the p-th percentile (0..100) of xs by nearest rank; xs is sorted in place.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	i := int(p/100*float64(len(xs))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(xs) {
		i = len(xs) - 1
	}
	return xs[i]
}
