# lib.sh: helpers shared by the bench scripts; sourced (`. scripts/lib.sh`), not run.
# The scripts set `base` (their DATABASE_URL) before calling db_url.

# db_url NAME: the URL of the database NAME on the server of $base (same user, password
# and options).
db_url() { python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "${base:?set base}" "$1"; }

# generate_once BIN DIR SCALE FILE: `BIN generate --scale SCALE --seed 1` into DIR unless DIR
# already holds FILE (one of the generated files) from the same scale (DIR/.scale).
generate_once() {
	local bin=$1 dir=$2 scale=$3 file=$4
	if [ ! -s "$dir/$file" ] || [ "$(cat "$dir/.scale" 2>/dev/null)" != "$scale" ]; then
		echo "generating scale $scale into $dir" >&2
		rm -rf "$dir"
		mkdir -p "$(dirname "$dir")"
		"$bin" generate --scale "$scale" --seed 1 --out "$dir" >&2
		echo "$scale" >"$dir/.scale"
	fi
}

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
# ratio A B: A/B to two decimals (nan when B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.2f\n", a / b }'; }
# median and spread read one number a line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# spread [FMT [UNIT]] prints "min–max UNIT (±H%)", H being half the range over the median,
# to quote the noise between runs; FMT (default %.2f) formats min and max.
spread() {
	sort -g | awk -v fmt="${1:-%.2f}" -v unit="${2:+ $2}" '{a[NR]=$1} END {
		m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2
		printf fmt "–" fmt "%s (±%.1f%%)\n", a[1], a[NR], unit, m ? 50*(a[NR]-a[1])/m : 0 }'
}

# bin_id BIN: the binary's path, the start of its SHA-256 and its modification time (and its
# commit when the Go toolchain stamped one), to say in the output which binaries were compared.
bin_id() {
	local rev
	rev=$(go version -m "$1" 2>/dev/null | awk '$2 == "vcs.revision" {r=substr($3,1,12)} $2 == "vcs.modified" && $3 == "true" {m="+modified"} END {if (r) print "commit " r m ", "}' || true)
	printf '%s (%ssha256 %s, built %s)\n' "$1" "$rev" "$(sha256sum <"$1" | cut -c1-12)" "$(date -u -r "$1" '+%F %H:%M UTC')"
}
