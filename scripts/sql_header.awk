# Turns a .sql file of named statements into a C++ header of constants.
#   awk -v ns=<namespace> -f scripts/sql_header.awk src/<concern>/<job>.sql > <job>.sql.hpp
# A statement starts at a line "-- name: <identifier>" and runs to the next
# such line or the end of the file; lines before the first name (the file's
# own comments) are left out. Each statement becomes
#   inline constexpr const char <identifier>[] = R"ct4sql(...)ct4sql";
# in namespace ct4::sql::<namespace>, so the SQL is written, formatted and
# read as SQL, and the C++ names it.
# A section that starts at "-- fragment: <identifier>" is a piece of SQL that
# several statements of the file share: it is not a constant itself, and
# "{{<identifier>}}" in a later statement stands for its text (one source);
# its comment lines stay in the .sql file.
function expand(text,    out, i, j, key) {
    out = ""
    while ((i = index(text, "{{")) > 0) {
        j = index(substr(text, i + 2), "}}")
        if (j == 0) fail("unclosed {{ in statement " name)
        key = substr(text, i + 2, j - 1)
        if (!(key in fragment)) fail("statement " name " uses unknown fragment " key)
        out = out substr(text, 1, i - 1) fragment[key]
        text = substr(text, i + 2 + j + 1)
    }
    return out text
}
function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; failed = 1; exit 1 }
function close_stmt() {
    if (name == "") return
    sub(/\n+$/, "", body)
    if (body ~ /^[ \t\n]*$/) fail("statement " name " is empty")
    if (is_fragment) {
        sub(/;$/, "", body)
        fragment[name] = body
    } else {
        header()
        printf "inline constexpr const char %s[] = R\"ct4sql(%s)ct4sql\";\n", name, expand(body)
    }
    body = ""
}
function header() {
    if (count++ > 0) return
    printf "// Generated from %s by scripts/sql_header.awk; do not edit.\n#pragma once\n\n", FILENAME
    printf "namespace ct4::sql::%s {\n\n", ns
}
BEGIN {
    if (ns == "") { print "sql_header.awk: -v ns=<namespace> is required" > "/dev/stderr"; failed = 1; exit 1 }
    name = ""; body = ""; count = 0
}
/^-- (name|fragment):/ {
    close_stmt()
    name = $3
    is_fragment = ($2 == "fragment:")
    if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/ || NF != 3) fail("bad statement name line: " $0)
    if (name in seen) fail("statement " name " is named twice")
    seen[name] = 1
    next
}
{
    if (name == "") next
    if (index($0, ")ct4sql") > 0) fail("the text )ct4sql cannot appear in a statement")
    if (body == "" && $0 ~ /^[ \t]*$/) next
    if (is_fragment && $0 ~ /^[ \t]*--/) next  # a fragment's comments stay in the .sql file
    body = body (body == "" ? "" : "\n") $0
}
END {
    if (failed) exit 1
    close_stmt()
    if (count == 0) { printf "%s: no \"-- name:\" statement\n", FILENAME > "/dev/stderr"; exit 1 }
    printf "\n}  // namespace ct4::sql::%s\n", ns
}
