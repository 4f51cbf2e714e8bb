# Builds, tests and installs leadd. `make install` puts binaries, plugins, units, the example
# config and man pages in the usual places; override PREFIX, SYSCONFDIR, UNITDIR, DESTDIR.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BINDIR = $(PREFIX)/bin
PLUGINDIR = $(PREFIX)/lib/leadd/plugins
MANDIR = $(PREFIX)/share/man
BUILD ?= .build/release

.PHONY: build test bench install install-files uninstall

build:
	swift build -c release

test:
	scripts/test

bench: build
	$(BUILD)/leadd-bench

install: build install-files

# Copies what BUILD holds; `install` builds it first.
install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -d $(DESTDIR)$(SYSCONFDIR)/leadd
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/leadd/credentials
	install -m 0755 $(BUILD)/leadd $(BUILD)/leaddctl $(DESTDIR)$(BINDIR)/
	install -m 0644 $(BUILD)/libSMS.so $(BUILD)/libWhatsApp.so $(BUILD)/libEmail.so $(BUILD)/libTestChannel.so \
		$(DESTDIR)$(PLUGINDIR)/
	for unit in leadd.service leadd.socket; do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' etc/systemd/$$unit \
			> $(DESTDIR)$(UNITDIR)/$$unit; \
	done
	install -m 0644 etc/systemd/leadd.sysusers $(DESTDIR)$(SYSUSERSDIR)/leadd.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/leadd/leadd.yaml || \
		install -m 0644 etc/leadd.yaml $(DESTDIR)$(SYSCONFDIR)/leadd/leadd.yaml
	install -m 0644 docs/leaddctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/leadd.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/leadd.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/leadd $(DESTDIR)$(BINDIR)/leaddctl
	rm -rf $(DESTDIR)$(PREFIX)/lib/leadd
	rm -f $(DESTDIR)$(UNITDIR)/leadd.service $(DESTDIR)$(UNITDIR)/leadd.socket
	rm -f $(DESTDIR)$(SYSUSERSDIR)/leadd.conf
	rm -f $(DESTDIR)$(MANDIR)/man1/leaddctl.1 $(DESTDIR)$(MANDIR)/man5/leadd.yaml.5 $(DESTDIR)$(MANDIR)/man8/leadd.8
