package dbusiface

import (
	"encoding/xml"
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
	Methods: []introspect.Method{
		{Name: "ListProcesses", Args: []introspect.Arg{
			{Name: "query", Type: "s", Direction: "in"},
			{Name: "sort", Type: "s", Direction: "in"},
			{Name: "order", Type: "s", Direction: "in"},
			{Name: "processes", Type: "aa{sv}", Direction: "out"},
		}},
		{Name: "GetProcess", Args: []introspect.Arg{
			{Name: "pid", Type: "u", Direction: "in"},
			{Name: "process", Type: "a{sv}", Direction: "out"},
		}},
		{Name: "GetSystem", Args: []introspect.Arg{
			{Name: "system", Type: "a{sv}", Direction: "out"},
		}},
		{Name: "Signal", Args: []introspect.Arg{
			{Name: "pid", Type: "u", Direction: "in"},
			{Name: "signal", Type: "s", Direction: "in"},
		}},
		{Name: "Renice", Args: []introspect.Arg{
			{Name: "pid", Type: "u", Direction: "in"},
			{Name: "nice", Type: "i", Direction: "in"},
		}},
		{Name: "Restart", Args: []introspect.Arg{
			{Name: "pid", Type: "u", Direction: "in"},
			{Name: "new_pid", Type: "u", Direction: "out"},
			{Name: "unit", Type: "s", Direction: "out"},
		}},
		{Name: "SignalPIDFD", Args: []introspect.Arg{
			{Name: "pidfd", Type: "h", Direction: "in"},
			{Name: "signal", Type: "s", Direction: "in"},
		}},
		{Name: "RenicePIDFD", Args: []introspect.Arg{
			{Name: "pidfd", Type: "h", Direction: "in"},
			{Name: "nice", Type: "i", Direction: "in"},
		}},
		{Name: "RestartPIDFD", Args: []introspect.Arg{
			{Name: "pidfd", Type: "h", Direction: "in"},
			{Name: "new_pid", Type: "u", Direction: "out"},
			{Name: "unit", Type: "s", Direction: "out"},
		}},
	},
	Signals: []introspect.Signal{
		{Name: "ProcessSignalled", Args: []introspect.Arg{
			{Name: "pid", Type: "u"},
			{Name: "signal", Type: "s"},
		}},
		{Name: "ProcessReniced", Args: []introspect.Arg{
			{Name: "pid", Type: "u"},
			{Name: "nice", Type: "i"},
		}},
		{Name: "ProcessRestarted", Args: []introspect.Arg{
			{Name: "old_pid", Type: "u"},
			{Name: "new_pid", Type: "u"},
			{Name: "unit", Type: "s"},
		}},
	},
	Properties: []introspect.Property{
		{Name: "Version", Type: "s", Access: "read", Annotations: []introspect.Annotation{
			{Name: "org.freedesktop.DBus.Property.EmitsChangedSignal", Value: "const"},
		}},
	},
}

// introspectionXML is the reply of Introspect on ObjectPath: Manager,
// Properties, Introspectable and Peer (answered by godbus on every path).
func introspectionXML() string {
	node := introspect.Node{
		Interfaces: []introspect.Interface{
			managerInterface,
			prop.IntrospectData,
			introspect.IntrospectData,
			introspect.PeerData,
		},
	}
	b, err := xml.MarshalIndent(node, "", "  ")
	if err != nil {
		panic(err) // static data: a test catches it
	}
	return strings.TrimSpace(introspect.IntrospectDeclarationString) + "\n" + string(b) + "\n"
}

// parentXML is the reply of Introspect on "/" and "/org/roy" so that tree
// walkers (busctl tree) find the object.
func parentXML(child string) string {
	node := introspect.Node{
		Interfaces: []introspect.Interface{introspect.IntrospectData, introspect.PeerData},
		Children:   []introspect.Node{{Name: child}},
	}
	b, err := xml.MarshalIndent(node, "", "  ")
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(introspect.IntrospectDeclarationString) + "\n" + string(b) + "\n"
}
