#!/usr/bin/env bash
# Prints the SQL block of README.md's "Roles and grants" section, so that the
# tests create the roles exactly as the README shows (test/fixtures/readme_roles.sql).
set -euo pipefail
cd "$(dirname "$0")/.."
awk '/^## Roles and grants/ { in_section = 1; next }
     in_section && /^## / { exit }
     in_section && /^```sql/ { in_block = 1; next }
     in_block && /^```/ { exit }
     in_block { print }' README.md
