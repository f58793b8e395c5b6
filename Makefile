# dmscale — plain Makefile (no Kbuild, no autotools).
# Targets: all check check-unit check-unit-san check-vm bench install clean deps demo lint fuzz check-fuzz

PREFIX        ?= /usr
SBINDIR       ?= $(PREFIX)/sbin
LIBEXECDIR    ?= $(PREFIX)/libexec
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
SRCS    := $(filter-out dmscale/main.c ec2/cli_front.c,$(wildcard dmscale/*.c ec2/*.c kmod-helpers/*.c))
OBJS    := $(SRCS:%.c=$(B)/obj/%.o)
TESTS   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
PY      ?= /usr/bin/python3

# check-fresh: everything but the VMs, in a fresh Debian 12 chroot (tools/check-fresh.sh).
PHONY_SIM := sim bench-cost
.PHONY: $(PHONY_SIM) check-fresh all check check-unit check-no-failpoints check-unit-san check-valgrind check-vm vm-prep vm-guest bench install clean deps demo lint image man deb check-deb \
	fuzz check-fuzz fuzz-build fuzz-seeds fuzz-coverage

all: $(B)/dmscale $(B)/dmscale-ec2 $(B)/dmscale-attach

$(B)/obj/%.o: %.c $(wildcard */*.h) $(wildcard bench/sim/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libdmscale.a: $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# dmscale-ec2: the daemon's binary, with the EC2 side (libcurl, libxml2,
# OpenSSL). dmscale, the command-line front, is linked against the core and
# jansson only and execs dmscale-ec2 for the daemon and for a device name only
# EC2 can resolve: under the three the dynamic loader does about 3.5 times the
# work at every start (docs/DESIGN.md, "Command-line front").
$(B)/dmscale-ec2: $(B)/obj/dmscale/main.o $(B)/obj/ec2/daemon.o $(B)/obj/ec2/cli_glue.o $(B)/libdmscale.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FRONT_OBJS := $(patsubst %,$(B)/obj/ec2/%.o,cli_front cli_defaults config names resolve_local)
$(B)/obj/ec2/cli_front.o: override CFLAGS += -DDMS_EC2_BIN='"$(LIBEXECDIR)/dmscale/dmscale-ec2"'
$(B)/dmscale: $(B)/obj/dmscale/main.o $(FRONT_OBJS) $(B)/libdmscore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ATTACH_LIBS) $(shell pkg-config --libs jansson 2>/dev/null)

# dmscale-attach: the udev unit's attach, linked against the core only (no
# libcurl, libxml2, OpenSSL or jansson: docs/DESIGN.md, "Attach start-up").
ATTACH_PKGS := devmapper libudev blkid mount uuid libkmod
ATTACH_LIBS := $(shell pkg-config --libs $(ATTACH_PKGS) 2>/dev/null) -laio -lm
CORE_OBJS   := $(patsubst %.c,$(B)/obj/%.o,$(filter-out dmscale/main.c,$(wildcard dmscale/*.c kmod-helpers/*.c)))

$(B)/libdmscore.a: $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/obj/dmscale/main_attach.o: dmscale/main.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DDMS_ATTACH_ONLY -c -o $@ $<

$(B)/dmscale-attach: $(B)/obj/dmscale/main_attach.o $(B)/libdmscore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ATTACH_LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libsim.a $(B)/libdmscale.a tests/unit/unit.h $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-field-initializers $(LDFLAGS) -o $@ $< $(B)/libsim.a $(B)/libdmscale.a $(LDLIBS) -lcmocka

# The cost simulations (docs/COST.md): trace replay and the fleet, host
# programs over the product's pure code (bench/sim/); the unit tests link the
# same archive.
SIM_SRCS := $(filter-out %_main.c,$(wildcard bench/sim/*.c))
SIM_OBJS := $(SIM_SRCS:%.c=$(B)/obj/%.o)
SIM_BINS := $(B)/dmscale-replay $(B)/dmscale-fleet

$(B)/libsim.a: $(SIM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/dmscale-replay: $(B)/obj/bench/sim/replay_main.o $(B)/libsim.a $(B)/libdmscale.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/dmscale-fleet: $(B)/obj/bench/sim/fleet_main.o $(B)/libsim.a $(B)/libdmscale.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

sim: $(SIM_BINS)

# bench/results-cost.json: the replay of bench/traces/ (shipped defaults and
# the seed's policy) and the fleet; seconds, no VM. Also run by `make bench`.
bench-cost: $(SIM_BINS)
	$(PY) bench/cost.py $(B)

# Unit tests: no root, no VM. Run from the project root (tests read ../shared).
check-unit: $(TESTS) check-no-failpoints
	@fail=0; for t in $(TESTS); do echo "== $$t"; $$t || fail=1; done; exit $$fail
	$(PY) -m pytest -q -p no:cacheprovider tests/unit_py

# The production binary carries no test failpoints (names nor code).
check-no-failpoints: $(B)/dmscale $(B)/dmscale-ec2 $(B)/dmscale-attach
	@for b in dmscale dmscale-ec2 dmscale-attach; do cp $(B)/$$b $(B)/$$b.stripped; \
	if [ "$(TESTING)" != 1 ] && strings $(B)/$$b.stripped | grep -iE 'failpoint|attach:|init:labelled'; then \
		echo "$(B)/$$b contains test failpoints: build it without TESTING=1"; exit 1; fi; rm -f $(B)/$$b.stripped; done

# Same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
check-unit-san:
	$(MAKE) B=build-san OPTFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" $(patsubst build/%,build-san/%,$(TESTS))
	@printf '%s\n' $(patsubst build/%,build-san/%,$(TESTS)) | xargs -P$(UNIT_JOBS) -n1 sh -c \
		'out=$$("$$1" 2>&1); rc=$$?; printf "== %s (asan+ubsan)\n%s\n" "$$1" "$$out"; exit $$rc' sh

# VM tests: boot the Debian guest under QEMU with the project installed.
# VM tests run VM_JOBS at a time (pytest-xdist), each guest with one vCPU
# (tests/vm/vm.py), one per core: three 1-vCPU guests on 2 cores cost each
# test a third more host CPU than two (the same 23 tests: 1614 against 1094
# CPU s, cloud-init 389 against 249, the bench smoke 375 against 271). The
# stage's wall time is about the same (1504 s at three; 1548 s at two, with
# one test failing after 280 s of waiting): two leave the host's CPU to
# spare. Three beat two 2-vCPU guests (25.0 min against 30.1).
# The installed image and the saved booted guest that every worker resumes
# are built once (tests/vm/prep.py): into VM_PREPARED when it names a
# directory that vm-prep filled (make check does that beside check-fresh),
# else into a directory of this run, removed after it.
VM_JOBS ?= 2
VM_PREPARED ?=
check-vm: all vm-guest
	@prep='$(VM_PREPARED)'; own=; if [ -z "$$prep" ]; then prep=$(CURDIR)/$(B)/vm/prep.run$$$$; own=1; \
		$(PY) tests/vm/prep.py $$prep || exit 1; fi; \
	cd tests/vm && DMSCALE_VM_PREPARED=$$prep $(PY) -m pytest -v -rfE --durations=25 -p no:cacheprovider \
		-n $(VM_JOBS) --dist loadgroup $(PYTEST_ARGS) .; rc=$$?; [ -z "$$own" ] || rm -rf $$prep; exit $$rc

# What check-vm's workers share, built into VM_PREP_DIR ahead of it. Only the
# TESTING build (build-testing/): make check runs it beside stages that build build/.
VM_PREP_DIR ?= $(CURDIR)/$(B)/vm/prep
vm-prep: vm-guest
	$(PY) tests/vm/prep.py $(VM_PREP_DIR)

# The host tools, the cached guest rootfs and the TESTING build the VM tests install.
vm-guest:
	tests/vm/preflight.sh
	tests/vm/build-base.sh $(B)/vm
	$(MAKE) --no-print-directory TESTING=1 all man

# Unit tests under valgrind (leaks and invalid accesses fail the run).
# The sanitised and valgrind runs: UNIT_JOBS test programs at once (one per
# core), each printing its own block when it is done.
UNIT_JOBS ?= $(shell nproc)
check-valgrind: $(TESTS)
	@printf '%s\n' $(TESTS) | xargs -P$(UNIT_JOBS) -n1 sh -c \
		'out=$$(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite "$$1" 2>&1 >/dev/null); \
		rc=$$?; printf "== %s (valgrind)\n" "$$1"; [ -z "$$out" ] || printf "%s\n" "$$out"; exit $$rc' sh

# Every stage, each timed (the times also go to $(B)/check-times.txt), the
# independent ones at once: tools/check.sh says which and why. check-fresh
# runs first of all, beside the VM preparation and the sanitised, valgrind and
# fuzz runs; on a clean checkout it has already run check-unit, lint and
# check-deb on this very commit (in the chroot, from `git archive HEAD`), and
# kept its package: they are not run twice. With uncommitted changes they run
# here too (check-fresh tests HEAD only). check-vm starts once vm-prep and
# the unit lane are done (on a clean tree, beside the end of check-fresh).
check:
	@tools/check.sh $(B) '$(MAKE)'

# Fuzzing (docs/FUZZING.md): libFuzzer harnesses tests/fuzz/fuzz_NAME.c, built
# with clang against the product sources (SRCS) compiled into build-fuzz/ with
# ASan+UBSan and coverage. Seed corpus: tests/fuzz/corpus/NAME/ (committed);
# what a run finds goes to build-fuzz/corpus/NAME/, crashes to
# build-fuzz/artifacts/NAME/. Optional per harness: tests/fuzz/NAME.options
# (extra libFuzzer flags) and tests/fuzz/NAME.dict (a dictionary).
FUZZ_CC      ?= clang
FB           := build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_CHECK_SECONDS ?= 10
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
		-std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-unused-parameter \
		-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DDMSCALE_VERSION='"$(VERSION)"' -I. $(PKG_CFLAGS)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FB)/fuzz_%)
FUZZ_OBJS    := $(SRCS:%.c=$(FB)/obj/%.o)

$(FB)/obj/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FB)/libdmscale.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FB)/libdmscale.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FB)/libdmscale.a $(LDLIBS)

# Seed generator for the binary corpora (labels, label sets, NVMe identify).
$(FB)/gen_seeds: tests/fuzz/gen_seeds.c $(FB)/libdmscale.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FB)/libdmscale.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Rewrite the generated seeds under tests/fuzz/corpus/ (then commit them).
fuzz-seeds: $(FB)/gen_seeds
	$(FB)/gen_seeds tests/fuzz/corpus
	$(PY) tests/fuzz/gen_text_seeds.py tests/fuzz/corpus

# libFuzzer flags of harness $$n: its .options file and dictionary.
FUZZ_OPTS = $$(cat tests/fuzz/$$n.options 2>/dev/null) $$(test -f tests/fuzz/$$n.dict && echo -dict=tests/fuzz/$$n.dict)

# Line coverage of each harness's parsers by its corpora (committed, and what
# make fuzz / long-run.sh found): build-fuzz/cov/; per harness, llvm-cov's
# line and branch coverage of every function the corpus reaches.
FCB := $(FB)/cov
FUZZ_COV_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=all,$(FUZZ_CFLAGS)) \
		-fprofile-instr-generate -fcoverage-mapping
FUZZ_COV_FILES_label   := dmscale/label.c dmscale/label_v2.c dmscale/crc32c.c
FUZZ_COV_FILES_plan    := dmscale/plan.c dmscale/label.c dmscale/label_v2.c
FUZZ_COV_FILES_config  := ec2/config.c
FUZZ_COV_FILES_xml     := ec2/xml.c
FUZZ_COV_FILES_imds    := ec2/imds.c
FUZZ_COV_FILES_thin    := dmscale/thin.c
FUZZ_COV_FILES_ebsname := dmscale/ebsname.c dmscale/label.c dmscale/label_v2.c
FUZZ_COV_FILES_pending := dmscale/pending.c

$(FCB)/obj/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_COV_CFLAGS) -c -o $@ $<

$(FCB)/libdmscale.a: $(SRCS:%.c=$(FCB)/obj/%.o)
	rm -f $@ && ar rcs $@ $^

$(FCB)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FCB)/libdmscale.a
	$(FUZZ_CC) $(FUZZ_COV_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FCB)/libdmscale.a $(LDLIBS)

fuzz-coverage: $(FUZZ_NAMES:%=$(FCB)/fuzz_%)
	@set -e; $(foreach h,$(FUZZ),n=$(h); echo "== fuzz_$$n"; rm -f $(FCB)/$$n.profraw; \
		LLVM_PROFILE_FILE=$(FCB)/$$n.profraw $(FCB)/fuzz_$$n $(FUZZ_OPTS) -runs=0 tests/fuzz/corpus/$$n \
			$$(ls -d $(FB)/corpus/$$n $(FB)/long/corpus/$$n 2>/dev/null) >$(FCB)/$$n.log 2>&1; \
		llvm-profdata-14 merge -o $(FCB)/$$n.profdata $(FCB)/$$n.profraw; \
		llvm-cov-14 report -show-functions $(FCB)/fuzz_$$n -instr-profile=$(FCB)/$$n.profdata $(FUZZ_COV_FILES_$(h)) | \
			awk '$$1 == "File" { f = $$2 } $$2 ~ /^[0-9]+$$/ && $$3 < $$2 { \
				printf "  %-40s lines %4d/%-4d %7s  branches %4d/%-4d %7s\n", $$1, $$5 - $$6, $$5, $$7, $$8 - $$9, $$8, $$10 }';)

# Each harness for FUZZ_SECONDS (FUZZ=NAME for one), new inputs kept in build-fuzz/corpus/.
FUZZ ?= $(FUZZ_NAMES)
fuzz: $(FUZZ_BINS)
	@fail=0; for n in $(FUZZ); do echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
		mkdir -p $(FB)/corpus/$$n $(FB)/artifacts/$$n; \
		$(FB)/fuzz_$$n $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FB)/artifacts/$$n/ $(FB)/corpus/$$n tests/fuzz/corpus/$$n || fail=1; \
	done; exit $$fail

# Replay the committed corpus and regression inputs (tests/fuzz/crashes/NAME/)
# one by one, then fuzz each harness for FUZZ_CHECK_SECONDS from its corpus.
# The harnesses are independent and single-threaded: FUZZ_JOBS of them run at
# once (one per core), each printing its own block when it is done.
FUZZ_JOBS ?= $(shell nproc)
check-fuzz: $(FUZZ_BINS)
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) $(FUZZ_NAMES:%=check-fuzz-%)

check-fuzz-%: $(FB)/fuzz_%
	@n=$*; log=$(FB)/check-block-$$n.log; fail=0; { \
		echo "== fuzz_$$n: replay corpus"; \
		find tests/fuzz/corpus/$$n tests/fuzz/crashes/$$n -type f 2>/dev/null | sort | \
			xargs -r $(FB)/fuzz_$$n $(FUZZ_OPTS) 2>$(FB)/replay-$$n.log || { cat $(FB)/replay-$$n.log; fail=1; }; \
		echo "== fuzz_$$n: $(FUZZ_CHECK_SECONDS) s"; \
		rm -rf $(FB)/check-corpus/$$n && mkdir -p $(FB)/check-corpus/$$n $(FB)/artifacts/$$n; \
		$(FB)/fuzz_$$n $(FUZZ_OPTS) -max_total_time=$(FUZZ_CHECK_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FB)/artifacts/$$n/ $(FB)/check-corpus/$$n tests/fuzz/corpus/$$n \
			>$(FB)/check-$$n.log 2>&1 || { tail -60 $(FB)/check-$$n.log; fail=1; }; \
		grep -E '^stat::number_of_executed_units|^stat::peak_rss' $(FB)/check-$$n.log | tr '\n' ' '; echo; \
	} >$$log 2>&1; cat $$log; exit $$fail

# Benchmarks (docs/BENCHMARKS.md, bench/results.json); BENCH_SMOKE=1 for a tiny run.
bench: all bench-cost
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
		--suppress=missingIncludeSystem -I. dmscale ec2 kmod-helpers bench/sim
	@echo "clang-tidy (.clang-tidy) over dmscale ec2 kmod-helpers bench/sim"
	@TIDY_FLAGS='-std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DDMSCALE_VERSION="lint" -I. $(shell pkg-config --cflags-only-I $(PKGS) 2>/dev/null)' \
		sh -c 'ls dmscale/*.c ec2/*.c kmod-helpers/*.c bench/sim/*.c | \
		xargs -P$$(nproc) -n4 sh -c "clang-tidy --quiet \"\$$@\" -- \$$TIDY_FLAGS 2>/dev/null" sh'

install: $(B)/dmscale $(B)/dmscale-ec2 $(B)/dmscale-attach man
	install -D -m 0755 $(B)/dmscale $(DESTDIR)$(SBINDIR)/dmscale
	install -D -m 0755 $(B)/dmscale-ec2 $(DESTDIR)$(LIBEXECDIR)/dmscale/dmscale-ec2
	install -D -m 0755 $(B)/dmscale-attach $(DESTDIR)$(LIBEXECDIR)/dmscale/dmscale-attach
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

	rm -rf build build-san build-fuzz
