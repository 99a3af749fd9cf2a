package app_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/peercall/peercall/call"
)

// TestRelayAcceptanceWait: under relay and proxy, relay candidates are all
// there is, so pion's 2 s wait for better ones is set to zero; other
// policies keep pion's default. The field is unexported in pion, hence the
// reflection; TestHeadlessRelayCall logs the resulting connect time.
func TestRelayAcceptanceWait(t *testing.T) {
	tests := []struct {
		policy call.Policy
		want   *time.Duration
	}{
		{call.PolicyAll, nil},
		{call.PolicyNoHost, nil},
		{call.PolicyRelay, new(time.Duration)},
		{call.PolicyProxy, new(time.Duration)},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			se, err := call.NewSettingEngine(tt.policy, call.ICEOptions{Loopback: true})
			if err != nil {
				t.Fatal(err)
			}
			f := reflect.ValueOf(se).Elem().FieldByName("timeout").FieldByName("ICERelayAcceptanceMinWait")
			if !f.IsValid() {
				t.Fatal("pion's SettingEngine no longer has timeout.ICERelayAcceptanceMinWait: update this test")
			}
			switch {
			case tt.want == nil && !f.IsNil():
				t.Errorf("relay wait set to %v, want pion's default", time.Duration(f.Elem().Int()))
			case tt.want != nil && (f.IsNil() || time.Duration(f.Elem().Int()) != *tt.want):
				t.Errorf("relay wait not set to %v", *tt.want)
			}
		})
	}
}
