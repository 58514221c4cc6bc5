#!/usr/bin/perl
# Turns a PostgreSQL log written with log_min_duration_statement = 0 into
# pgbench scripts: the statements the service executed for each request,
# with their parameters written in as literals. The requests are told apart
# by a marker statement (SELECT 'rg-bench-mark') run after each one.
#   perl bench/pglog-scripts.pl DIR NAME_RE < primary.log
# keeps the prepared statements whose name matches NAME_RE (so that the
# service's background jobs stay out), ignores what came before the first
# marker, writes DIR/request-N.sql for every request that executed
# something and prints how many it wrote.
use strict;
use warnings;

my $dir = shift or die "usage: pglog-scripts.pl DIR NAME_RE < log\n";
my $names = shift or die "usage: pglog-scripts.pl DIR NAME_RE < log\n";
my (@records, $cur);
while (my $line = <STDIN>) {
    # A record starts with the default log_line_prefix ('%m [%p] ').
    if ($line =~ /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] (\w+):  (.*)$/s) {
        $cur = { pid => $1, level => $2, text => $3 };
        push @records, $cur;
    } elsif ($cur) {
        $cur->{text} .= $line;
    }
}

# The parameters of a DETAIL record: $n = NULL or a quoted literal.
sub params {
    my ($text) = @_;
    my %p;
    $text =~ s/^parameters: //;
    # the literal unrolled ('…''…'), so that a long one (a JSON array of
    # thousands of ids) needs no regex recursion
    while ($text =~ /\$(\d+) = (NULL|'[^']*(?:''[^']*)*')/gs) {
        $p{$1} = $2;
    }
    return \%p;
}

my (@requests, @current);
my $started = 0;
for (my $i = 0; $i < @records; $i++) {
    my $r = $records[$i];
    next unless $r->{level} eq 'LOG';
    if ($r->{text} =~ /statement: SELECT 'rg-bench-mark'/) {
        push @requests, [@current] if $started && @current;
        @current = ();
        $started = 1;
        next;
    }
    next unless $r->{text} =~ /^duration: [\d.]+ ms  execute ([^:]+): (.*)$/s;
    my ($name, $sql) = ($1, $2);
    next unless $name =~ /$names/;
    my $p = {};
    my $next = $records[$i + 1];
    if ($next && $next->{level} eq 'DETAIL' && $next->{pid} == $r->{pid}
        && $next->{text} =~ /^parameters: /) {
        $p = params($next->{text});
    }
    $sql =~ s/\$(\d+)/exists $p->{$1} ? $p->{$1} : die "no value for \$$1\n"/ge;
    $sql =~ s/\s+$//;
    push @current, "$sql;\n";
}

my $n = 0;
for my $req (@requests) {
    $n++;
    open(my $f, '>', "$dir/request-$n.sql") or die "$dir/request-$n.sql: $!\n";
    print $f @$req;
    close($f);
}
print "$n\n";
