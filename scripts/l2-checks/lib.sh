# Shared helpers for the rtmon layer-2 check scripts (POSIX sh + curl + awk).
# Sourced by the check scripts; not executable on its own.

# Seconds allowed for one HTTP fetch: rtmon-script-exporter passes SCRIPT_TIMEOUT.
l2_fetch_timeout() {
    awk -v t="${SCRIPT_TIMEOUT:-10}" 'BEGIN { t = t + 0; if (t <= 0.2) t = 0.2; printf "%.2f", (t > 10 ? 10 : t) * 0.8 }'
}

# l2_fetch URL: prints the body, fails (status 1) if the source cannot be read.
l2_fetch() {
    curl -fsS --max-time "$(l2_fetch_timeout)" -- "$1"
}

# l2_select NAME [LABEL=VALUE ...] < exposition
# Prints one line per series of metric NAME whose labels include every LABEL=VALUE:
# the value, then TAB-separated label=value pairs (values unescaped). Handles quoted
# commas, braces and \" \\ \n escapes in label values.
l2_select() {
    _name=$1
    shift
    _want=""
    for _kv in "$@"; do
        _want="$_want$_kv$(printf '\036')"
    done
    awk -v name="$_name" -v want="$_want" '
    BEGIN {
        nw = split(want, wl, "\036") - 1
        for (i = 1; i <= nw; i++) {
            p = index(wl[i], "=")
            wk[i] = substr(wl[i], 1, p - 1)
            wv[i] = substr(wl[i], p + 1)
        }
    }
    /^[ \t]*#/ { next }
    {
        line = $0
        sub(/^[ \t]+/, "", line)
        if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) next
        if (substr(line, 1, RLENGTH) != name) next
        rest = substr(line, RLENGTH + 1)
        split("", lab)
        out = ""
        sub(/^[ \t]+/, "", rest)
        if (substr(rest, 1, 1) == "{") {
            i = 2; n = length(rest); ok = 0
            while (i <= n) {
                c = substr(rest, i, 1)
                if (c == " " || c == "\t" || c == ",") { i++; continue }
                if (c == "}") { ok = 1; i++; break }
                k = ""
                while (i <= n && substr(rest, i, 1) ~ /[a-zA-Z0-9_]/) { k = k substr(rest, i, 1); i++ }
                while (i <= n && substr(rest, i, 1) ~ /[ \t=]/) i++
                if (substr(rest, i, 1) != "\"") break
                i++; v = ""
                while (i <= n) {
                    c = substr(rest, i, 1)
                    if (c == "\\") {
                        d = substr(rest, i + 1, 1)
                        v = v (d == "n" ? "\n" : d); i += 2; continue
                    }
                    if (c == "\"") { i++; break }
                    v = v c; i++
                }
                lab[k] = v
                out = out "\t" k "=" v
            }
            if (!ok) next
            rest = substr(rest, i)
        }
        sub(/^[ \t]+/, "", rest)
        split(rest, parts, /[ \t]+/)
        for (j = 1; j <= nw; j++) if (!(wk[j] in lab) || lab[wk[j]] != wv[j]) next
        print parts[1] out
    }'
}

# l2_label_escape VALUE: escapes a label value for the text format.
l2_label_escape() {
    printf '%s' "$1" | awk 'BEGIN { ORS = "" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); if (NR > 1) print "\\n"; print }'
}

# l2_help NAME TYPE HELP: prints the HELP and TYPE lines.
l2_help() {
    printf '# HELP %s %s\n# TYPE %s %s\n' "$1" "$3" "$1" "$2"
}

# l2_source_up SOURCE 0|1
l2_source_up() {
    l2_help rtmon_l2_source_up gauge "1 if the check could read its rtmon exporter, 0 if not."
    printf 'rtmon_l2_source_up{source="%s"} %s\n' "$(l2_label_escape "$1")" "$2"
}

l2_usage_error() {
    echo "$0: $*" >&2
    exit 2
}

# Strips a trailing slash from a base URL.
l2_base() {
    printf '%s' "${1%/}"
}

# l2_check_target T: a switch address or name safe to put in a URL query unencoded.
l2_check_target() {
    case $1 in
        "" | *[!A-Za-z0-9._:\[\]-]*) l2_usage_error "invalid switch target: $1" ;;
    esac
    case ${auth-} in
        *[!A-Za-z0-9._-]*) l2_usage_error "invalid auth name: $auth" ;;
    esac
}
