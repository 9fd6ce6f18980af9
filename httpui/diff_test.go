package httpui

import (
	"reflect"
	"strings"
	"testing"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// diffKeys are the Process fields that identify a process across
// snapshots (a change there is a removal and an addition, not a delta).
var diffKeys = map[string]bool{"PID": true, "CreateTime": true}

// changeField sets v (a settable field) to a value different from the
// one it has; false when the test does not know the field's kind.
func changeField(t *testing.T, v reflect.Value) bool {
	t.Helper()
	switch v.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 1)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.Set(reflect.Zero(v.Type()))
		}
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	default:
		return false
	}
	return true
}

// TestDiffProcessCoversEveryField fails when a field is added to
// procs.Process (or procs.Port) and the event stream's diff does not
// compare it: clients would never see it change.
func TestDiffProcessCoversEveryField(t *testing.T) {
	base := procs.Process{PID: 10, PPID: 1, Name: "n", Cmdline: []string{"n"}, Ports: []procs.Port{{Local: "127.0.0.1:1"}}}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || diffKeys[f.Name] {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue // not sent to clients
		}
		b := base
		b.Cmdline = append([]string(nil), base.Cmdline...)
		b.Ports = append([]procs.Port(nil), base.Ports...)
		if !changeField(t, reflect.ValueOf(&b).Elem().Field(i)) {
			t.Errorf("Process.%s: this test cannot change a %s: teach changeField", f.Name, f.Type)
			continue
		}
		d := diffProcess(&base, &b)
		if _, ok := d[name]; !ok {
			t.Errorf("Process.%s (%q) changed and diffProcess did not report it: add it to diffProcess", f.Name, name)
		}
		if d["pid"] != base.PID || len(d) != 2 {
			t.Errorf("Process.%s changed: diff %v, want pid and %q only", f.Name, d, name)
		}
	}
	if d := diffProcess(&base, &base); d != nil {
		t.Errorf("no change: diff %v", d)
	}

	ptyp := reflect.TypeOf(procs.Port{})
	for i := range ptyp.NumField() {
		f := ptyp.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); !f.IsExported() || name == "" || name == "-" {
			continue // not sent to clients
		}
		a := []procs.Port{{Local: "127.0.0.1:1", Status: "LISTEN", Family: "IPv4", Type: "tcp", LocalPort: 1}}
		b := []procs.Port{a[0]}
		if !changeField(t, reflect.ValueOf(&b[0]).Elem().Field(i)) {
			t.Errorf("Port.%s: this test cannot change a %s: teach changeField", f.Name, f.Type)
			continue
		}
		if portsEqual(a, b) {
			t.Errorf("Port.%s changed and portsEqual did not notice: add it to portsEqual", f.Name)
		}
	}
}
