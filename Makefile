# ct4_jobs — PGXS build of a C++17 extension.
EXTENSION  = ct4_jobs
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" ct4_jobs.control)
MODULE_big = ct4_jobs

# Every C++ file under src/ belongs to the module; src/core/ is pure C++ (no
# PostgreSQL header) and is also compiled into the GoogleTest binary.
CPP_SRCS = $(sort $(wildcard src/*/*.cpp))
OBJS     = $(CPP_SRCS:.cpp=.o)

# The install script of the version in ct4_jobs.control is assembled from
# schema/*.sql in name order (each concern keeps its own small file) into
# build/. A released version's full script is frozen in the repository root,
# ct4_jobs--<version>.sql, and never edited: make install ships every frozen
# script and every update script ct4_jobs--<old>--<new>.sql, and the
# assembled one only for a version not released yet. test/upgrade.sh checks
# that schema/ still assembles into the frozen script of its version
# (docs/architecture.md "Versions and upgrades").
SCHEMA_SRCS    = $(sort $(wildcard schema/*.sql))
BUILT_SCRIPT   = build/$(EXTENSION)--$(EXTVERSION).sql
UPDATE_SCRIPTS = $(sort $(wildcard $(EXTENSION)--*--*.sql))
FROZEN_SCRIPTS = $(sort $(filter-out $(UPDATE_SCRIPTS),$(wildcard $(EXTENSION)--*.sql)))
ifeq ($(filter $(EXTENSION)--$(EXTVERSION).sql,$(FROZEN_SCRIPTS)),)
DATA_built = $(BUILT_SCRIPT)
endif
DATA = $(FROZEN_SCRIPTS) $(UPDATE_SCRIPTS)

# `make installcheck` (PGXS): runs sql/*.sql against the running server that
# PGHOST/PGPORT/PGUSER name (a superuser: the tests create the extension) and
# writes results/, regression.out and regression.diffs here, as every PGXS
# extension does (`make clean` removes them).
REGRESS      = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=.

PG_CONFIG ?= pg_config
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register -fPIC
PG_CPPFLAGS = -Isrc -Ibuild/gen
SHLIB_LINK  = -lstdc++

# Debian's server is built with LLVM; the bitcode rule needs clang and
# ignores CXXFLAGS, so we do not emit bitcode (JIT still works for queries).
override with_llvm = no

EXTRA_CLEAN = build test/selftest/*.o test/selftest/*.so test/selftest/*.bc

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Built by `all` whether or not its version is frozen, so that the check
# always has it.
all: $(BUILT_SCRIPT)
$(BUILT_SCRIPT): $(SCHEMA_SRCS) ct4_jobs.control
	@mkdir -p build
	@echo "-- ct4_jobs $(EXTVERSION): schema/*.sql assembled by make (frozen as $(EXTENSION)--$(EXTVERSION).sql when released)" > $@
	@printf '%s\n' '\echo Use "CREATE EXTENSION ct4_jobs" to load this file. \quit' >> $@
	cat $(SCHEMA_SRCS) >> $@

# Releases the version of ct4_jobs.control: its assembled script becomes the
# frozen $(EXTENSION)--<version>.sql, to be committed.
freeze: $(BUILT_SCRIPT)
	@if [ -e $(EXTENSION)--$(EXTVERSION).sql ]; then \
	    echo "$(EXTENSION)--$(EXTVERSION).sql is released and frozen: bump default_version in ct4_jobs.control" >&2; exit 1; fi
	cp $(BUILT_SCRIPT) $(EXTENSION)--$(EXTVERSION).sql

# SQL lives in .sql files next to the C++ that runs it (src/<concern>/<job>.sql,
# statements named "-- name: <identifier>"); each becomes a header of C++
# constants, build/gen/<concern>/<job>.sql.hpp, in namespace ct4::sql::<job>.
SQL_SRCS = $(sort $(wildcard src/*/*.sql))
SQL_HDRS = $(patsubst src/%.sql,build/gen/%.sql.hpp,$(SQL_SRCS))
build/gen/%.sql.hpp: src/%.sql scripts/sql_header.awk
	@mkdir -p $(dir $@)
	awk -v ns=$(basename $(notdir $<)) -f scripts/sql_header.awk $< > $@.tmp && mv $@.tmp $@

$(OBJS): $(wildcard src/*/*.hpp) $(SQL_HDRS)

# --- pure C++ unit tests (GoogleTest) --------------------------------------
# src/core/ and the identity matcher (src/identity/matcher.cpp: no PostgreSQL
# header, the run's decisions in memory) are tested on their own.
CORE_SRCS = $(sort $(wildcard src/core/*.cpp)) src/identity/matcher.cpp
UNIT_SRCS = $(sort $(wildcard test/unit/*.cpp))
build/unit_tests: $(CORE_SRCS) $(UNIT_SRCS) $(wildcard src/core/*.hpp) src/identity/matcher.hpp
	@mkdir -p build
	$(CXX) -std=c++17 -O2 -Wall -Wextra -Isrc -o $@ $(CORE_SRCS) $(UNIT_SRCS) -lgtest -lgtest_main -pthread

unit: build/unit_tests
	build/unit_tests

# --- test-only self-test extension (test/selftest/) ------------------------
# Never part of `make install`: the tests build and install it themselves.
selftest: all
	$(MAKE) -C test/selftest

selftest-install: selftest
	$(MAKE) -C test/selftest install

format:
	clang-format -i src/*/*.cpp src/*/*.hpp test/unit/*.cpp test/selftest/*.cpp bench/*.cpp 2>/dev/null || true

.PHONY: unit format selftest selftest-install freeze
