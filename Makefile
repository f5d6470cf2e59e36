# sandbox-service: build, install and test on Debian 12 (run as root).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
# sandbox-service finds the shim at $(BINDIR)/../libexec/sandbox-service.
LIBEXECDIR ?= $(PREFIX)/libexec
SYSCONFDIR ?= /etc
# systemd reads /usr/local/lib/systemd/system as well as /usr/lib/...
UNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
CARGO ?= cargo
# Where cargo puts release binaries (CARGO_TARGET_DIR when set).
RELEASE ?= $(or $(CARGO_TARGET_DIR),target)/release

# Build: libselinux headers and libclang for the selinux crate's bindings.
BUILD_DEPS = build-essential pkg-config libselinux1-dev libclang-dev libseccomp-dev
# Tests: a real systemd to boot in namespaces, real service packages, rpm.
TEST_DEPS = systemd dbus iproute2 util-linux apache2 nginx rpm man-db groff-base curl logrotate tmux systemd-container procps \
            hyperfine bubblewrap crun tini strace python3 selinux-policy-dev debhelper lintian fakeroot openssl \
            zsh fish nftables podman skopeo catatonit runc libelf-dev zlib1g-dev $(SERVICE_DEPS)
# The daemons of the service matrix (tests/service_matrix.rs) and their clients.
SERVICE_DEPS = redis-server redis-tools mariadb-server mariadb-client postgresql haproxy php8.2-fpm dovecot-imapd vsftpd \
            memcached socat netcat-openbsd libfcgi-bin openssh-server tor postfix bind9 bind9-dnsutils unbound dnsmasq \
            lighttpd squid

.PHONY: all build deps-build deps-test install uninstall test check lint man-check clean quickstart bench bench-smoke policy install-files rpm deb youki

all: build

build:
	$(CARGO) build --release --locked

# Installing a service package where no systemd runs would start its daemon
# through /etc/init.d: policy-rc.d (exit 101) keeps anything from starting.
define apt_install
	@test -e /usr/sbin/policy-rc.d || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; }
	@n=$$(dpkg-query -W -f='$${Status}\n' $(1) 2>/dev/null | grep -c 'install ok installed'); \
	if [ "$$n" != "$(words $(1))" ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(1); \
	else echo "already installed: $(1)"; fi
endef

deps-build:
	$(call apt_install,$(BUILD_DEPS))

deps-test: deps-build
	$(call apt_install,$(TEST_DEPS))

install: deps-build build install-files

# What a package build runs after `make build` (see packaging/).
install-files:
	install -D -m 0755 $(RELEASE)/sandbox-service $(DESTDIR)$(BINDIR)/sandbox-service
	install -D -m 0755 $(RELEASE)/sandbox-service-init $(DESTDIR)$(LIBEXECDIR)/sandbox-service/sandbox-service-init
	for u in sandbox-service-logrotate.service sandbox-service-logrotate.timer; do \
	    sed 's|@BINDIR@|$(BINDIR)|g' units/$$u > units/$$u.out && install -D -m 0644 units/$$u.out $(DESTDIR)$(UNITDIR)/$$u && rm units/$$u.out; done
	sed 's|@BINDIR@|$(BINDIR)|g' units/sandbox-service.cron.daily > units/cron.out && \
	    install -D -m 0755 units/cron.out $(DESTDIR)$(SYSCONFDIR)/cron.daily/sandbox-service && rm units/cron.out
	mkdir -p $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions \
	         $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	COMPLETE=bash $(RELEASE)/sandbox-service > $(DESTDIR)$(DATADIR)/bash-completion/completions/sandbox-service
	COMPLETE=zsh $(RELEASE)/sandbox-service > $(DESTDIR)$(DATADIR)/zsh/site-functions/_sandbox-service
	COMPLETE=fish $(RELEASE)/sandbox-service > $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/sandbox-service.fish
	# The unit templates are built into the binary (what runs is what was
	# built); installed copies let an admin read and diff them after an upgrade.
	for t in sandbox.service sandboxes.target; do \
	    install -D -m 0644 templates/$$t $(DESTDIR)$(DATADIR)/sandbox-service/templates/$$t; done
	for f in sandbox_service.te sandbox_service.fc sandbox_service.if; do \
	    install -D -m 0644 policy/$$f $(DESTDIR)$(DATADIR)/sandbox-service/policy/$$f; done
	install -D -m 0644 man/sandbox-service.8 $(DESTDIR)$(MANDIR)/man8/sandbox-service.8
	install -D -m 0644 man/sandbox-service-init.8 $(DESTDIR)$(MANDIR)/man8/sandbox-service-init.8
	install -D -m 0644 man/sandbox-service.sandbox.5 $(DESTDIR)$(MANDIR)/man5/sandbox-service.sandbox.5

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sandbox-service $(DESTDIR)$(LIBEXECDIR)/sandbox-service/sandbox-service-init \
	      $(DESTDIR)$(MANDIR)/man8/sandbox-service.8 $(DESTDIR)$(MANDIR)/man8/sandbox-service-init.8 \
	      $(DESTDIR)$(MANDIR)/man5/sandbox-service.sandbox.5 \
	      $(DESTDIR)$(UNITDIR)/sandbox-service-logrotate.service $(DESTDIR)$(UNITDIR)/sandbox-service-logrotate.timer \
	      $(DESTDIR)$(SYSCONFDIR)/cron.daily/sandbox-service \
	      $(DESTDIR)$(DATADIR)/bash-completion/completions/sandbox-service \
	      $(DESTDIR)$(DATADIR)/zsh/site-functions/_sandbox-service \
	      $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/sandbox-service.fish
	rm -rf $(DESTDIR)$(DATADIR)/sandbox-service/policy $(DESTDIR)$(DATADIR)/sandbox-service/templates
	-rmdir $(DESTDIR)$(DATADIR)/sandbox-service
	-rmdir $(DESTDIR)$(LIBEXECDIR)/sandbox-service

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

# Each page must render without a single warning.
man-check:
	@for p in man/*.[0-9]; do \
	    out=$$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$$p" 2>&1 >/dev/null); \
	    if [ -n "$$out" ]; then echo "$$p: $$out"; exit 1; fi; \
	done; echo "man pages render cleanly"

# The tests boot a throwaway systemd in namespaces: they need root. The
# release build is what tests/harness_selftest.rs installs as the host's
# (a no-op after `make quickstart`; a fresh clone's `make check` needs it).
test: deps-test youki build
	$(CARGO) test --locked

# youki, the third OCI runtime tests/export.rs runs an exported bundle
# under: Debian 12 has none, so its release is built from crates.io into
# target/youki, once (v1 too: the harness's host may be hybrid; libbpf-sys,
# for the cgroup v2 device filter, needs libelf-dev and zlib1g-dev).
YOUKI_VERSION = 0.7.0
YOUKI_FEATURES = seccomp,v1,v2,cgroupsv2_devices
YOUKI = $(or $(CARGO_TARGET_DIR),target)/youki
youki: deps-test
	@if [ "$$(cat $(YOUKI)/built 2>/dev/null)" = '$(YOUKI_VERSION) $(YOUKI_FEATURES)' ]; then echo "youki $(YOUKI_VERSION) is built"; \
	else $(CARGO) install --locked --force --root $(YOUKI) youki --version $(YOUKI_VERSION) --features $(YOUKI_FEATURES) \
	    && echo '$(YOUKI_VERSION) $(YOUKI_FEATURES)' > $(YOUKI)/built; fi

check: deps-test lint man-check policy test bench-smoke rpm deb

# Every benchmark against the peers (target/bench/report.md); see docs/benchmarks.md.
bench: deps-test
	bench/run

# CI's smoke of the benchmarks: each measure twice, no targets checked.
bench-smoke: deps-test
	bench/run --quick > /dev/null

# The SELinux policy module, built with the distribution's policy devel
# Makefile (selinux-policy-dev); load it with semodule -i policy/sandbox_service.pp.
policy:
	$(MAKE) -C policy -f /usr/share/selinux/devel/Makefile sandbox_service.pp

# The RPM, from the tree in place (Debian's rpmbuild cannot see Fedora's
# BuildRequires, hence --nodeps); it lands in target/rpm/RPMS/.
rpm:
	rpmspec -P packaging/sandbox-service.spec > /dev/null
	rpmbuild -bb --build-in-place --nodeps --define "_topdir $(CURDIR)/target/rpm" packaging/sandbox-service.spec > target/rpmbuild.log 2>&1 \
	    || { tail -30 target/rpmbuild.log; exit 1; }
	rpm -qlp target/rpm/RPMS/*/sandbox-service-*.rpm | grep -qx /usr/libexec/sandbox-service/sandbox-service-init

# The .deb, built with dpkg-buildpackage from a copy of the tree (it writes
# beside the source), sharing this tree's cargo cache; checked with lintian.
DEBBUILD = $(CURDIR)/target/deb
deb:
	rm -rf $(DEBBUILD) && mkdir -p $(DEBBUILD)/sandbox-service-0.1.0
	tar --exclude=./target --exclude=./.git -cf - . | tar -xf - -C $(DEBBUILD)/sandbox-service-0.1.0
	cp -a packaging/debian $(DEBBUILD)/sandbox-service-0.1.0/debian
	cp packaging/check-deb.sh $(DEBBUILD)/check-deb.sh
	cd $(DEBBUILD)/sandbox-service-0.1.0 && CARGO_TARGET_DIR=$(CURDIR)/target \
	    dpkg-buildpackage -b -us -uc > $(DEBBUILD)/build.log 2>&1 || { tail -30 $(DEBBUILD)/build.log; exit 1; }
	lintian --fail-on error $(DEBBUILD)/sandbox-service_*.deb
	tests/harness/in-systemd.sh $(CURDIR)/target $(DEBBUILD)/harness.log \
	    bash $(CURDIR)/target/deb/check-deb.sh $(DEBBUILD)/$$(cd $(DEBBUILD) && ls sandbox-service_*.deb) > $(DEBBUILD)/check.log 2>&1 \
	    || { tail -30 $(DEBBUILD)/check.log; exit 1; }
	@tail -1 $(DEBBUILD)/check.log

clean:
	$(CARGO) clean

# The README's first command: install, then make an nginx sandbox (site1)
# and show what is private in it and why.
quickstart: install
	$(call apt_install,nginx)
	$(BINDIR)/sandbox-service status site1 >/dev/null 2>&1 || $(BINDIR)/sandbox-service create -u nginx site1
	$(BINDIR)/sandbox-service status --explain site1
