# dmscale — plain Makefile (no Kbuild, no autotools).
# Targets: all check check-unit check-unit-san check-vm bench install clean deps demo lint

PREFIX        ?= /usr
SBINDIR       ?= $(PREFIX)/sbin
UDEVRULESDIR  ?= /usr/lib/udev/rules.d
SYSTEMDUNITDIR?= /usr/lib/systemd/system
SYSCONFDIR    ?= /etc
MANDIR        ?= $(PREFIX)/share/man
DESTDIR       ?=
VERSION       := 0.3.0

CC      ?= gcc
PKGS    := devmapper libudev libcurl jansson blkid mount uuid libkmod libxml-2.0 libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -laio
OPTFLAGS ?= -O2 -g
override CFLAGS += $(OPTFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla \
           -Wno-unused-parameter -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DDMSCALE_VERSION='"$(VERSION)"' \
           -I. $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lm

# TESTING=1: failpoints compiled in (-DDMS_TESTING), built apart in build-testing/;
# the VM tests install this build. A plain build has no failpoint code.
ifeq ($(TESTING),1)
B       ?= build-testing
override CFLAGS += -DDMS_TESTING
endif
B       ?= build
SRCS    := $(filter-out dmscale/main.c,$(wildcard dmscale/*.c ec2/*.c kmod-helpers/*.c))
OBJS    := $(SRCS:%.c=$(B)/obj/%.o)
TESTS   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
PY      ?= /usr/bin/python3

# check-fresh: everything but the VMs, in a fresh Debian 12 chroot (tools/check-fresh.sh).
.PHONY: check-fresh all check check-unit check-no-failpoints check-unit-san check-valgrind check-vm bench install clean deps demo lint image man deb check-deb

all: $(B)/dmscale

$(B)/obj/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libdmscale.a: $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/dmscale: $(B)/obj/dmscale/main.o $(B)/obj/ec2/daemon.o $(B)/obj/ec2/cli_glue.o $(B)/libdmscale.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libdmscale.a tests/unit/unit.h $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-field-initializers $(LDFLAGS) -o $@ $< $(B)/libdmscale.a $(LDLIBS) -lcmocka

# Unit tests: no root, no VM. Run from the project root (tests read ../shared).
check-unit: $(TESTS) check-no-failpoints
	@fail=0; for t in $(TESTS); do echo "== $$t"; $$t || fail=1; done; exit $$fail
	$(PY) -m pytest -q -p no:cacheprovider tests/unit_py

# The production binary carries no test failpoints (names nor code).
check-no-failpoints: $(B)/dmscale
	@strip -o $(B)/dmscale.stripped $(B)/dmscale   # as packaged (dh_strip)
	@if [ "$(TESTING)" != 1 ] && strings $(B)/dmscale.stripped | grep -iE 'failpoint|attach:|init:labelled'; then \
		echo "$(B)/dmscale contains test failpoints: build it without TESTING=1"; exit 1; fi; rm -f $(B)/dmscale.stripped

# Same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
check-unit-san:
	$(MAKE) B=build-san OPTFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" $(patsubst build/%,build-san/%,$(TESTS))
	@fail=0; for t in $(patsubst build/%,build-san/%,$(TESTS)); do echo "== $$t (asan+ubsan)"; $$t || fail=1; done; exit $$fail

# VM tests: boot the Debian guest under QEMU with the project installed.
# VM tests run VM_JOBS at a time (pytest-xdist): most of a test's time is the
# guest waiting (boot, hot-plug, the simulator), so two overlap well on 2 cores.
VM_JOBS ?= 2
check-vm: all
	tests/vm/preflight.sh
	tests/vm/build-base.sh $(B)/vm
	cd tests/vm && $(PY) -m pytest -v -rfE --durations=15 -p no:cacheprovider -n $(VM_JOBS) $(PYTEST_ARGS) .

# Unit tests under valgrind (leaks and invalid accesses fail the run).
check-valgrind: $(TESTS)
	@fail=0; for t in $(TESTS); do echo "== $$t (valgrind)"; \
		valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite $$t >/dev/null || fail=1; \
	done; exit $$fail

# Every stage, in order, each timed (the times also go to $(B)/check-times.txt).
# check-fresh comes first: a missing `make deps` entry fails in minutes, named.
CHECK_STAGES := check-fresh check-unit check-unit-san check-valgrind lint check-deb check-vm
check:
	@mkdir -p $(B); : > $(B)/check-times.txt; all0=$$(date +%s); \
	for s in $(CHECK_STAGES); do t0=$$(date +%s); \
		if ! $(MAKE) --no-print-directory $$s; then \
			echo "check: $$s FAILED after $$(( $$(date +%s) - t0 )) s" | tee -a $(B)/check-times.txt; exit 1; fi; \
		echo "check: $$s passed in $$(( $$(date +%s) - t0 )) s" | tee -a $(B)/check-times.txt; \
	done; echo "check: all stages passed in $$(( $$(date +%s) - all0 )) s" | tee -a $(B)/check-times.txt

# Benchmarks (docs/BENCHMARKS.md, bench/results.json); BENCH_SMOKE=1 for a tiny run.
bench: all
	tests/vm/preflight.sh
	tests/vm/build-base.sh $(B)/vm
	$(PY) bench/bench.py $(BENCH_ARGS)

demo: all
	tests/vm/preflight.sh
	tests/vm/build-base.sh $(B)/vm
	$(PY) tests/vm/demo.py

deps:
	tools/deps.sh

check-fresh:
	tools/check-fresh.sh

lint:
	@! grep -n '#include "ec2/' dmscale/*.c dmscale/*.h || { echo "the core (dmscale/) must not include ec2/"; exit 1; }
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem -I. dmscale ec2 kmod-helpers

install: $(B)/dmscale man
	install -D -m 0755 $(B)/dmscale $(DESTDIR)$(SBINDIR)/dmscale
	install -D -m 0644 $(B)/man/dmscale.8 $(DESTDIR)$(MANDIR)/man8/dmscale.8
	install -D -m 0644 $(B)/man/dmscale.json.5 $(DESTDIR)$(MANDIR)/man5/dmscale.json.5
	install -D -m 0644 udev-rules/69-dmscale.rules $(DESTDIR)$(UDEVRULESDIR)/69-dmscale.rules
	for u in systemd/*.service; do install -D -m 0644 $$u $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u); done
	install -D -m 0644 systemd/docker.service.d/dmscale.conf $(DESTDIR)$(SYSTEMDUNITDIR)/docker.service.d/dmscale.conf
	install -d $(DESTDIR)$(SYSCONFDIR)/dmscale

# Man pages from scdoc sources (man/*.scd).
MANPAGES := $(B)/man/dmscale.8 $(B)/man/dmscale.json.5
man: $(MANPAGES)

$(B)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# Debian package, built from a copy of the files it needs (independent of git
# state; dpkg-buildpackage writes into the copy's parent) -> $(B)/deb/*.deb.
# The package version is VERSION above: if debian/changelog's top entry
# differs, the copy gets a new top entry for VERSION.
DEB_SRC   := Makefile README.md debian docs dmscale ec2 kmod-helpers man systemd udev-rules
DEB_STAGE := $(B)/deb/stage
DEB_TREE  := $(DEB_STAGE)/dmscale-$(VERSION)
deb:
	rm -rf $(DEB_STAGE) && mkdir -p $(DEB_TREE)
	rm -f $(B)/deb/dmscale_* $(B)/deb/dmscale-dbgsym_*
	cp -a $(DEB_SRC) $(DEB_TREE)/
	cd $(DEB_TREE) && if [ "$$(dpkg-parsechangelog -SVersion)" != "$(VERSION)" ]; then \
		{ printf 'dmscale (%s) unstable; urgency=medium\n\n  * Version %s (from the Makefile).\n\n -- %s  %s\n\n' \
		  "$(VERSION)" "$(VERSION)" "$$(dpkg-parsechangelog -SMaintainer)" "$$(date -R)"; \
		  cat debian/changelog; } > debian/changelog.new && mv debian/changelog.new debian/changelog; fi
	cd $(DEB_TREE) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc --no-sign -j2 >../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	mv $(DEB_STAGE)/*.deb $(DEB_STAGE)/*.changes $(DEB_STAGE)/*.buildinfo $(DEB_STAGE)/build.log $(B)/deb/
	rm -rf $(DEB_STAGE)
	@ls -l $(B)/deb/*.deb

# The package must be lintian-clean (errors and warnings; overrides carry a reason).
# /etc/default/dmscale may hold AWS_SECRET_ACCESS_KEY: it must ship 0600 root:root.
check-deb: deb
	lintian --fail-on error,warning --display-info $(B)/deb/dmscale_$(VERSION)_*.changes
	@dpkg-deb -c $(B)/deb/dmscale_$(VERSION)_*.deb | awk '$$6 == "./etc/default/dmscale" { found = 1; \
		if ($$1 != "-rw-------" || $$2 != "root/root") { print "etc/default/dmscale ships " $$1 " " $$2 \
		", not -rw------- root/root"; exit 1 } } END { if (!found) { print "etc/default/dmscale missing from the .deb"; exit 1 } }'

clean:
	rm -rf build build-san build-testing
