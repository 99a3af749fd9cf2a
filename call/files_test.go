package call

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

const (
	tid  = "0123456789abcdef0123456789abcdef"
	tsha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// TestDecodeFileMessages: every file message type decodes within the
// protocol's bounds, malformed ones fail with ErrBadMessage and carry no
// content, and a bad offer keeps its id only when readable.
func TestDecodeFileMessages(t *testing.T) {
	long := strings.Repeat("n", MaxFileNameBytes+1)
	tests := []struct {
		name   string
		in     string
		want   FileControl
		err    bool
		keepID bool // the error carries the id (a bad offer is declined bad-offer)
	}{
		{"offer", `{"type":"file-offer","id":"` + tid + `","name":"a.txt","size":3,"sha256":"` + tsha + `"}`,
			FileControl{Type: FileOffer, ID: tid, Name: "a.txt", Size: 3, SHA256: tsha}, false, false},
		{"offer max size", `{"type":"file-offer","id":"` + tid + `","name":"a","size":9007199254740991,"sha256":"` + tsha + `"}`,
			FileControl{Type: FileOffer, ID: tid, Name: "a", Size: MaxFileSize, SHA256: tsha}, false, false},
		{"unknown fields ignored", `{"type":"file-accept","id":"` + tid + `","offset":5,"x":1}`,
			FileControl{Type: FileAccept, ID: tid, Offset: 5}, false, false},
		{"decline", `{"type":"file-decline","id":"` + tid + `","reason":"too-large"}`,
			FileControl{Type: FileDecline, ID: tid, Reason: FileReasonTooLarge}, false, false},
		{"cancel", `{"type":"file-cancel","id":"` + tid + `","reason":"canceled"}`,
			FileControl{Type: FileCancel, ID: tid, Reason: FileReasonCanceled}, false, false},
		{"ack", `{"type":"file-ack","id":"` + tid + `","offset":1048576}`,
			FileControl{Type: FileAck, ID: tid, Offset: 1 << 20}, false, false},
		{"done ok", `{"type":"file-done","id":"` + tid + `","ok":true}`,
			FileControl{Type: FileDone, ID: tid, OK: true}, false, false},
		{"done mismatch", `{"type":"file-done","id":"` + tid + `","ok":false,"reason":"hash-mismatch"}`,
			FileControl{Type: FileDone, ID: tid, Reason: FileReasonHashMismatch}, false, false},
		{"missing id", `{"type":"file-accept","offset":0}`, FileControl{}, true, false},
		{"uppercase id", `{"type":"file-accept","id":"` + strings.ToUpper(tid) + `","offset":0}`, FileControl{}, true, false},
		{"short id", `{"type":"file-ack","id":"abc","offset":0}`, FileControl{}, true, false},
		{"negative size", `{"type":"file-offer","id":"` + tid + `","name":"a","size":-1,"sha256":"` + tsha + `"}`, FileControl{}, true, true},
		{"size too big", `{"type":"file-offer","id":"` + tid + `","name":"a","size":9007199254740992,"sha256":"` + tsha + `"}`, FileControl{}, true, true},
		{"bad hash", `{"type":"file-offer","id":"` + tid + `","name":"a","size":1,"sha256":"XYZ"}`, FileControl{}, true, true},
		{"name too long", `{"type":"file-offer","id":"` + tid + `","name":"` + long + `","size":1,"sha256":"` + tsha + `"}`, FileControl{}, true, true},
		{"offer without size", `{"type":"file-offer","id":"` + tid + `","name":"a","sha256":"` + tsha + `"}`, FileControl{}, true, true},
		{"negative offset", `{"type":"file-accept","id":"` + tid + `","offset":-5}`, FileControl{}, true, true},
		{"accept without offset", `{"type":"file-accept","id":"` + tid + `"}`, FileControl{}, true, true},
		{"fractional size", `{"type":"file-offer","id":"` + tid + `","name":"a","size":1.5,"sha256":"` + tsha + `"}`, FileControl{}, true, false},
		{"done not ok without reason", `{"type":"file-done","id":"` + tid + `","ok":false}`, FileControl{}, true, true},
		{"decline without reason", `{"type":"file-decline","id":"` + tid + `"}`, FileControl{}, true, true},
		{"reason not a word", `{"type":"file-cancel","id":"` + tid + `","reason":"<script>"}`, FileControl{}, true, true},
		{"too long overall", `{"type":"file-offer","id":"` + tid + `","name":"` + strings.Repeat("x", 5000) + `"}`, FileControl{}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := decodeDataMessage([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrBadMessage) {
					t.Fatalf("err %v, want ErrBadMessage", err)
				}
				if strings.Contains(err.Error(), `"a"`) || strings.Contains(err.Error(), "XYZ") || strings.Contains(err.Error(), tid) {
					t.Errorf("error carries content: %v", err)
				}
				var fe *FileMessageError
				gotID := errors.As(err, &fe) && fe.ID != ""
				if gotID != tt.keepID {
					t.Errorf("id readable %v, want %v (%v)", gotID, tt.keepID, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg.kind != dataFile || msg.file != tt.want {
				t.Fatalf("got %+v, want %+v", msg.file, tt.want)
			}
			again, err := EncodeFileControl(msg.file)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := decodeDataMessage(again); err != nil || back.file != tt.want {
				t.Fatalf("round trip %s: %+v %v", again, back.file, err)
			}
		})
	}
}

// TestEncodeFileControlRefuses: the encoder applies the same bounds, so
// this side never sends what a peer must drop.
func TestEncodeFileControlRefuses(t *testing.T) {
	for _, m := range []FileControl{
		{Type: FileOffer, ID: tid, Name: strings.Repeat("x", 10<<10), SHA256: tsha},
		{Type: FileOffer, ID: tid, Name: "a", Size: -1, SHA256: tsha},
		{Type: FileAccept, ID: "nope"},
		{Type: FileDone, ID: tid},
		{Type: FileMsgType(99), ID: tid},
	} {
		if _, err := EncodeFileControl(m); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%+v: %v", m, err)
		}
	}
}

// TestProtocolDocFileMessages: every JSON example in the document's "File
// transfer" table decodes and encodes back to the same bytes.
func TestProtocolDocFileMessages(t *testing.T) {
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### File transfer")
	if !ok {
		t.Fatal("no File transfer section")
	}
	section, _, _ = strings.Cut(section, "\n### ")
	span := regexp.MustCompile("`(\\{[^`]+\\})`")
	seen := map[FileMsgType]bool{}
	for _, sm := range span.FindAllStringSubmatch(section, -1) {
		msg, err := decodeDataMessage([]byte(sm[1]))
		if err != nil || msg.kind != dataFile {
			t.Errorf("%s: %v", sm[1], err)
			continue
		}
		seen[msg.file.Type] = true
		again, err := EncodeFileControl(msg.file)
		if err != nil || string(again) != sm[1] {
			t.Errorf("doc %s, Peercall sends %s (%v)", sm[1], again, err)
		}
	}
	if len(seen) != len(fileMsgNames) {
		t.Errorf("the table shows %d of %d message types", len(seen), len(fileMsgNames))
	}
}

// TestFileInFlightMax: the bound follows the sender's high watermark and
// counts the receive window and the receiving queue.
func TestFileInFlightMax(t *testing.T) {
	tests := []struct {
		name string
		high uint64
	}{
		{"default", 4 << 20},
		{"small sender queue", 256 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldH, oldL := SetFileWatermarks(tc.high, tc.high/4)
			defer SetFileWatermarks(oldH, oldL)
			want := int64(tc.high) + udpBuffer + (fileRecvQueue+2)*MaxFileChunk
			if got := FileInFlightMax(); got != want {
				t.Errorf("FileInFlightMax() = %d, want %d", got, want)
			}
		})
	}
}
