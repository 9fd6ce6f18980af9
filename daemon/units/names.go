package units

import (
	"strings"
)

// unitTypes are systemd's unit type suffixes (systemd.unit(5)).
var unitTypes = map[string]bool{
	"service": true, "socket": true, "device": true, "mount": true, "automount": true,
	"swap": true, "target": true, "path": true, "timer": true, "slice": true, "scope": true,
}

// unitNameMax is UNIT_NAME_MAX in systemd (unit-name.h).
const unitNameMax = 255

// validChar is systemd's VALID_CHARS plus "@" handled by the caller:
// ASCII letters, digits, ":-_.\".
func validChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == ':' || c == '-' || c == '_' || c == '.' || c == '\\'
}

// ValidateName checks name with systemd's unit_name_is_valid() rules for
// plain units and instances ("prefix@instance.type"); templates ("a@.service")
// are not units and are refused, as are patterns. It returns the unit type.
func ValidateName(name string) (string, error) {
	bad := func(why string) (string, error) {
		q := name
		if len(q) > 64 {
			q = q[:64] + "…"
		}
		return "", errf(KindInvalidArgument, "invalid unit name %q: %s", q, why)
	}
	if name == "" {
		return bad("empty")
	}
	if len(name) > unitNameMax {
		return bad("longer than 255 characters")
	}
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 {
		return bad("no type suffix such as .service")
	}
	typ := name[dot+1:]
	if !unitTypes[typ] {
		return bad("unknown unit type \"." + typ + "\"")
	}
	at := strings.IndexByte(name, '@')
	prefix, instance := name[:dot], ""
	if at >= 0 {
		if at == 0 {
			return bad("empty prefix before @")
		}
		prefix, instance = name[:at], name[at+1:dot]
		if instance == "" {
			return bad("a template (name@.type) is not a unit: give an instance")
		}
	}
	for i := 0; i < len(prefix); i++ {
		if !validChar(prefix[i]) {
			return bad("character not allowed in a unit name (letters, digits and \":-_.\\\" only)")
		}
	}
	for i := 0; i < len(instance); i++ {
		if !validChar(instance[i]) && instance[i] != '@' {
			return bad("character not allowed in an instance name (letters, digits and \":-_.\\\" only)")
		}
	}
	return typ, nil
}
