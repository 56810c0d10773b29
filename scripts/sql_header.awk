# Turns a .sql file of named statements into a C++ header of constants.
#   awk -v ns=<namespace> -f scripts/sql_header.awk src/<concern>/<job>.sql > <job>.sql.hpp
# A statement starts at a line "-- name: <identifier>" and runs to the next
# such line or the end of the file; lines before the first name (the file's
# own comments) are left out. Each statement becomes
#   inline constexpr const char <identifier>[] = R"ct4sql(...)ct4sql";
# in namespace ct4::sql::<namespace>, so the SQL is written, formatted and
# read as SQL, and the C++ names it.
function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; failed = 1; exit 1 }
function close_stmt() {
    if (name == "") return
    sub(/\n+$/, "", body)
    if (body ~ /^[ \t\n]*$/) fail("statement " name " is empty")
    printf "inline constexpr const char %s[] = R\"ct4sql(%s)ct4sql\";\n", name, body
    body = ""
}
BEGIN {
    if (ns == "") { print "sql_header.awk: -v ns=<namespace> is required" > "/dev/stderr"; failed = 1; exit 1 }
    name = ""; body = ""; count = 0
}
/^-- name:/ {
    close_stmt()
    name = $3
    if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/ || NF != 3) fail("bad statement name line: " $0)
    if (name in seen) fail("statement " name " is named twice")
    seen[name] = 1
    if (count++ == 0) {
        printf "// Generated from %s by scripts/sql_header.awk; do not edit.\n#pragma once\n\n", FILENAME
        printf "namespace ct4::sql::%s {\n\n", ns
    }
    next
}
{
    if (name == "") next
    if (index($0, ")ct4sql") > 0) fail("the text )ct4sql cannot appear in a statement")
    if (body == "" && $0 ~ /^[ \t]*$/) next
    body = body (body == "" ? "" : "\n") $0
}
END {
    if (failed) exit 1
    if (count == 0) { printf "%s: no \"-- name:\" statement\n", FILENAME > "/dev/stderr"; exit 1 }
    close_stmt()
    printf "\n}  // namespace ct4::sql::%s\n", ns
}
