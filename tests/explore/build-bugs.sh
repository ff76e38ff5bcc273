#!/bin/sh
# Builds a broken copy of cutover-relay per bug file
# (tests/explore/bugs/*.mutant) for `cutover explore` to find.  A bug file is
# in the mutant format of `make mutation` (docs/mutation.md): `key: value`
# headers (family, report, file, and ours: expect, the invariant it breaks),
# then one edit: `--- find` lines (found exactly once) `--- replace` lines
# `--- end`.  The copy is made in a build folder from the current sources, so
# the product source is never touched.  The relay's objects from build/rel are copied along with their
# times, so only the changed file is compiled again.
#
# usage: tests/explore/build-bugs.sh [NAME|FILE.mutant ...]   (default: every bug)
# output: build/explore-bugs/NAME/bin/cutover-relay (EXPLORE_BUGS_OUT moves it)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${EXPLORE_BUGS_OUT:-$root/build/explore-bugs}
cd "$root"
# A plain release build whatever called us: `make SAN=1 test` runs this
# from a test, and what make hands its recipes (MAKEFLAGS with a jobserver,
# and SAN=1 itself in the environment, as every command-line variable is)
# would redirect the build to bin/san or clash with -j2.
unset MAKEFLAGS MFLAGS MAKELEVEL SAN WERROR V
make -s -j2 bin/cutover-relay >/dev/null
[ $# -gt 0 ] || set -- tests/explore/bugs/*.mutant
for arg in "$@"; do
    case $arg in
    *.mutant) bug=$arg ;;
    *) bug=tests/explore/bugs/$arg.mutant ;;
    esac
    name=$(basename "$bug" .mutant)
    file=$(sed -n 's/^file: //p' "$bug")
    find=$(sed -n '/^--- find/,/^--- replace$/p' "$bug" | sed '1d;$d')
    repl=$(sed -n '/^--- replace$/,/^--- end$/p' "$bug" | sed '1d;$d')
    if [ -z "$file" ] || [ -z "$find" ] || [ ! -f "$file" ]; then
        echo "build-bugs: $bug: expected 'file:' (an existing source) and a '--- find' ... '--- replace' ... '--- end' edit" >&2
        exit 2
    fi
    dir=$out/$name
    rm -rf "$dir"
    mkdir -p "$dir/build/rel"
    cp -p Makefile "$dir/"
    cp -rp relay common scripts "$dir/"
    cp -rp build/rel/relay build/rel/common "$dir/build/rel/"
    cp -p build/.deps-ok "$dir/build/" 2>/dev/null || true
    FIND=$find REPL=$repl perl -0777 -i -pe '
        BEGIN { $f = $ENV{FIND}; $r = $ENV{REPL} }
        my $n = () = /\Q$f\E/g;
        die "found $n times, expected once\n" if $n != 1;
        s/\Q$f\E/$r/;' "$dir/$file" || { echo "build-bugs: $bug: $file: the '--- find' text" >&2; exit 2; }
    make -s -C "$dir" -j2 bin/cutover-relay >/dev/null
    echo "$dir/bin/cutover-relay"
done
