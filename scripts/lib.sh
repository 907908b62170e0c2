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
# median reads one number a line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
