package dbusiface

import (
	"encoding/xml"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// managerInterface describes org.roy.ProcWatch1.Manager with argument
// names, so that `busctl introspect` documents the API. godbus does not
// derive it (introspect.Methods leaves names empty): keep it in step with
// the methods of manager and the signals in server.go —
// TestIntrospectionMatchesExport checks the methods against the export.
var managerInterface = introspect.Interface{
	Name: Interface,
	Methods: slices.Concat(
		[]introspect.Method{
			method("ListProcesses", in("query", "s"), in("sort", "s"), in("order", "s"), out("processes", "aa{sv}")),
			method("GetProcess", in("pid", "u"), out("process", "a{sv}")),
			method("GetSystem", out("system", "a{sv}")),
		},
		targeted("", in("pid", "u")),
		[]introspect.Method{
			method("ListServices", in("pattern", "s"), in("state", "s"), out("services", "aa{sv}")),
			method("GetServiceJournal", in("unit", "s"), in("lines", "u"), out("entries", "aa{sv}")),
		},
		targeted("PIDFD", in("pidfd", "h")),
	),
	Signals: []introspect.Signal{
		{Name: "ProcessSignalled", Args: []introspect.Arg{arg("pid", "u"), arg("signal", "s")}},
		{Name: "ProcessReniced", Args: []introspect.Arg{arg("pid", "u"), arg("nice", "i")}},
		{Name: "ProcessRestarted", Args: []introspect.Arg{arg("old_pid", "u"), arg("new_pid", "u"), arg("unit", "s")}},
	},
	Properties: []introspect.Property{
		{Name: "Version", Type: "s", Access: "read", Annotations: []introspect.Annotation{
			{Name: "org.freedesktop.DBus.Property.EmitsChangedSignal", Value: "const"},
		}},
	},
}

// targeted is the actions on one process, named by target (a PID, or a
// pidfd for the methods whose name ends in suffix), with what follows it.
func targeted(suffix string, target introspect.Arg) []introspect.Method {
	return []introspect.Method{
		method("Signal"+suffix, target, in("signal", "s")),
		method("Renice"+suffix, target, in("nice", "i")),
		method("Restart"+suffix, target, out("new_pid", "u"), out("unit", "s")),
	}
}

func method(name string, args ...introspect.Arg) introspect.Method {
	return introspect.Method{Name: name, Args: args}
}

func in(name, typ string) introspect.Arg {
	return introspect.Arg{Name: name, Type: typ, Direction: "in"}
}

func out(name, typ string) introspect.Arg {
	return introspect.Arg{Name: name, Type: typ, Direction: "out"}
}

// arg is a signal's argument (no direction).
func arg(name, typ string) introspect.Arg { return introspect.Arg{Name: name, Type: typ} }

// introspectionXML is the reply of Introspect on ObjectPath: Manager,
// Properties, Introspectable and Peer (answered by godbus on every path).
func introspectionXML() string {
	return nodeXML(introspect.Node{
		Interfaces: []introspect.Interface{
			managerInterface,
			prop.IntrospectData,
			introspect.IntrospectData,
			introspect.PeerData,
		},
	})
}

// parentXML is the reply of Introspect on "/" and "/org/roy" so that tree
// walkers (busctl tree) find the object.
func parentXML(child string) string {
	return nodeXML(introspect.Node{
		Interfaces: []introspect.Interface{introspect.IntrospectData, introspect.PeerData},
		Children:   []introspect.Node{{Name: child}},
	})
}

func nodeXML(node introspect.Node) string {
	b, err := xml.MarshalIndent(node, "", "  ")
	if err != nil {
		panic(err) // static data: a test catches it
	}
	return strings.TrimSpace(introspect.IntrospectDeclarationString) + "\n" + string(b) + "\n"
}
