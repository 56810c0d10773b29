#!/usr/bin/perl
# SQL text that the C++ jobs and the install script (schema/) must write the
# same way, and that is written twice because the install script of 1.0 is
# frozen byte for byte (docs/architecture.md "Shared SQL constants"):
#   - the identity keys: the expressions of the key indexes of
#     schema/100_identity.sql, the key match of its functions, and the
#     fragment shares_a_key of src/identity/reconcile_leads.sql (a query uses
#     the indexes only with the same expression in collation "C");
#   - the claims cache encoding (four int8 per claim): the ledger trigger of
#     schema/210_claims_cache.sql and the fragment claims_of_driver of
#     src/claims/claims_cache.sql.
# The C++ side is schema-qualified (pg_catalog."left", int8), the schema side
# is not: both are compared after removing the qualification, the quotes,
# the table aliases and the blanks. Exits 1 and says what differs.
#   scripts/check_shared_sql.pl [repository root]
use strict;
use warnings;

my $root = shift // '.';
my $failed = 0;

sub slurp { my ($f) = @_; open my $h, '<', "$root/$f" or die "$f: $!\n"; local $/; my $t = <$h>; $t }

# Comparable form: no pg_catalog. prefix, no quotes, no one-letter alias,
# int8 = bigint, no blanks.
sub norm {
    my ($s) = @_;
    $s =~ s/--[^\n]*//g;
    $s =~ s/pg_catalog\.//g;
    $s =~ s/"//g;
    $s =~ s/\b[a-z]\.(?=[a-z_])//g;
    $s =~ s/\bint8\b/bigint/g;
    $s =~ s/\s+//g;
    $s;
}

# The text of "-- fragment: <name>" up to the next "-- name:"/"-- fragment:".
sub fragment {
    my ($file, $name) = @_;
    my $t = slurp($file);
    $t =~ /^-- fragment: \Q$name\E\n(.*?)(?=^-- (?:name|fragment):|\z)/ms
        or die "$file: no fragment $name\n";
    $1;
}

sub differ {
    my ($what, $want, $got) = @_;
    return if $want eq $got;
    print "check_shared_sql: $what differs\n  C++ fragment: $want\n  schema:       $got\n";
    $failed = 1;
}

# ---- identity keys ----------------------------------------------------------
my $frag = fragment('src/identity/reconcile_leads.sql', 'shares_a_key');
# The keys of a match "(key) = ANY (...) OR ...", in the comparable form.
sub keys_of { my ($m) = @_; map { norm($_) } ($m =~ /\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)\s*=\s*ANY/g) }
my @keys = keys_of($frag);
die "shares_a_key: expected 3 keys, found " . scalar(@keys) . "\n" unless @keys == 3;
my $want = join(' | ', @keys);

my $schema = slurp('schema/100_identity.sql');
for my $table ('raw.drivers', 'raw.module_ct_cabinet_leads') {
    my @idx = map { norm($_) } ($schema =~ /CREATE INDEX \w+_norm_\w+_idx\s+ON \Q$table\E \((.*?)\);/gs);
    differ("key index expressions of $table", $want, join(' | ', @idx));
}
# Each key match of the schema's functions: three "(key) = ANY (...)" in a row.
my @matches = ($schema =~ /WHERE\s+(\(ct4\.normalize_phone.*?\n(?:\s+OR .*?\n){2})/g);
die "schema/100_identity.sql: no key match found\n" unless @matches;
for my $m (@matches) {
    differ('key match of schema/100_identity.sql', $want, join(' | ', keys_of($m)));
}

# ---- claims cache encoding --------------------------------------------------
sub encoding {
    my ($t) = @_;
    my @e = ($t =~ /unnest\((ARRAY\[.*?\]\)\s*WITH ORDINALITY)/gs);
    map { norm($_) } @e;
}
my ($enc) = encoding(fragment('src/claims/claims_cache.sql', 'claims_of_driver'));
die "claims_of_driver: no ARRAY[...] WITH ORDINALITY\n" unless defined $enc;
my @schema_enc = encoding(slurp('schema/210_claims_cache.sql'));
die "schema/210_claims_cache.sql: expected 2 encodings, found " . scalar(@schema_enc) . "\n"
    unless @schema_enc == 2;
differ('claims encoding of schema/210_claims_cache.sql', $enc, $_) for @schema_enc;

print "check_shared_sql: identity keys and claims encoding agree\n" unless $failed;
exit $failed;
