// Package e2e holds the end-to-end tests of the Debian package in a booted
// systemd (Debian bookworm in systemd-nspawn). They are built only with the
// tag e2e and need root: run them with `make e2e` (scripts/e2e.sh), which
// builds the .deb, caches the rootfs and sets E2E_DEB and E2E_ROOTFS.
package e2e
