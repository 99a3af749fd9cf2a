package app

import (
	"github.com/peercall/peercall/capture"
	"github.com/peercall/peercall/codec"
)

// DeviceChoice is one entry of a device picker: ID is what Settings stores.
type DeviceChoice struct {
	ID, Name string
}

// DeviceList is what the Settings screen offers.
type DeviceList struct {
	Cameras, Microphones, Speakers []DeviceChoice
}

// ListDevices lists cameras and microphones (by their stable Label) and
// speakers. Errors leave a list empty: the pickers then offer the default.
func ListDevices() DeviceList {
	var out DeviceList
	if devs, err := capture.ListDevices(); err == nil {
		for _, d := range devs {
			c := DeviceChoice{ID: d.Label, Name: d.Name}
			if c.Name == "" {
				c.Name = d.Label
			}
			if d.Kind == capture.KindVideo {
				out.Cameras = append(out.Cameras, c)
			} else {
				out.Microphones = append(out.Microphones, c)
			}
		}
	}
	if devs, err := codec.ListOutputDevices(); err == nil {
		for _, d := range devs {
			out.Speakers = append(out.Speakers, DeviceChoice{ID: d.ID, Name: d.Name})
		}
	}
	return out
}

// Devices are the camera, microphone and speaker a call uses, as Settings
// stores them: "" is the system default, Camera "synthetic" the test
// pattern.
type Devices struct {
	Camera, Microphone, Speaker string
}

// callDevices are the devices a call placed with s and m starts on.
func callDevices(s Settings, m MediaOptions) Devices {
	d := Devices{Camera: s.Camera, Microphone: s.Microphone, Speaker: s.Speaker}
	if m.Video == "synthetic" {
		d.Camera = "synthetic" // --video synthetic: the pattern, whatever Settings say
	}
	return d
}
